#!/usr/bin/env bash
# JMH microbenchmarks of the hot pieces (sources in bench/jmh/java, built with the Maven profile
# -Pjmh as test classes, so JMH never reaches the shipped jar):
#   SealerBenchmark        seal / open one block of 4 KiB and 64 KiB (crypto/Sealer)
#   BlockCacheBenchmark    block cache get, put (evicting) and both at once, 4 threads (fs/BlockCache)
#   StoreCommitBenchmark   the store's commit of a change set with 1, 16, 256 blocks, overwriting
#                          or appending, against a local PostgreSQL it starts (store/PgNamespaceStore)
#
#   bench/jmh.sh [--quick] [JMH ARGUMENTS...]
#
#   --quick         fewer and shorter iterations (-wi 1 -i 2 -w 1s -r 1s), to see that it works
#   JMH ARGUMENTS   passed to JMH after the defaults (-f 1 -wi 3 -i 5 -w 2s -r 2s), e.g. a regular
#                   expression selecting benchmarks (Sealer) or -p blocks=16; -h lists them
#
# Run as root (the store benchmark starts PostgreSQL as the postgres account). JMH's own JSON goes
# to bench/results/jmh-RUN.json; one line per result is appended to bench/results/jmh.tsv.
bench_name=jmh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

defaults=(-f 1 -wi 3 -i 5 -w 2s -r 2s)
case "${1:-}" in
    --quick) defaults=(-f 1 -wi 1 -i 2 -w 1s -r 1s); shift ;;
    -h|--help) bench_usage | sed '/^Common options:/,$d'; exit 0 ;;
esac
[ "$(id -u)" -eq 0 ] || die "run as root (the store benchmark starts PostgreSQL as the postgres account)"
ensure_packages maven python3 util-linux || die "could not install maven and python3"
JAVA_HOME="$(find_jdk25)" || exit 2
maven_env

cd "$bench_repo"
say "building the benchmarks (mvn -Pjmh test-compile) ..."
mkdir -p target bench/results
mvn -q -B -Pjmh -DskipTests test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/jmh/classpath.txt >target/jmh-build.log 2>&1 ||
    die "building the benchmarks failed; see target/jmh-build.log"

# The forks put the store benchmark's PostgreSQL under this directory; whatever an interrupted
# fork leaves there (a running server, its files) goes at exit.
jmh_tmp="$(mktemp -d /var/tmp/sqlitesuperfs-jmh-XXXXXX)"
jmh_cleanup() {
    local pidfile pid
    for pidfile in "$jmh_tmp"/*/pg/data/postmaster.pid; do
        [ -f "$pidfile" ] || continue
        pid="$(head -1 "$pidfile")"
        kill -INT "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$jmh_tmp"
}
trap jmh_cleanup EXIT
trap 'exit 130' INT TERM

run_id="${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}"
json="bench/results/jmh-$run_id.json"
load_before="$(cut -d' ' -f1 /proc/loadavg)"
"$JAVA_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -cp "target/jmh/test-classes:target/jmh/classes:$(cat target/jmh/classpath.txt)" org.openjdk.jmh.Main \
    "${defaults[@]}" -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Djava.io.tmpdir=$jmh_tmp" -rf json -rff "$json" "$@" ||
    die "JMH failed"
load_after="$(cut -d' ' -f1 /proc/loadavg)"

tsv=bench/results/jmh.tsv
[ -s "$tsv" ] || printf 'run_id\tfinished\tbenchmark\tparams\tmode\tthreads\tscore\terror\tunit\tload_before\tload_after\tmachine\n' >"$tsv"
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
python3 - "$json" "$run_id" "$load_before" "$load_after" "$machine" >>"$tsv" <<'PY'
import json, sys, datetime
path, run, before, after, machine = sys.argv[1:]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
for r in json.load(open(path)):
    params = ",".join(f"{k}={v}" for k, v in sorted((r.get("params") or {}).items()))
    m = r["primaryMetric"]
    num = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else str(v)
    print("\t".join(str(x) for x in (run, now, r["benchmark"].replace("dev.sqlitesuperfs.", ""), params, r["mode"],
                                      r["threads"], num(m["score"]), num(m["scoreError"]), m["scoreUnit"],
                                      before, after, machine)))
PY
echo "jmh: 1-minute load $load_before before, $load_after after; JSON in $json, lines appended to $tsv"
