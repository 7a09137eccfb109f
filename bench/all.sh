#!/usr/bin/env bash
# Runs every benchmark, one after the other, then prints one table against the targets of the
# speed issue, each marked met or not met. Each benchmark prints its own full table as it ends;
# all their lines in the results file share one run id.
#
#   bench/all.sh [--quick] [--runs N] [--db URL] [--only LIST] [--skip LIST] [--rss-overhead-mib N]
#   bench/all.sh --summary RUN_ID [--rss-overhead-mib N]
#
#   --quick              small sizes and one run, to see that everything works (minutes, not hours;
#                        veryquick is left out unless --only names it)
#   --runs N             runs per target for every benchmark but veryquick and memory (default 3)
#   --db URL             mount on this PostgreSQL (veryquick always uses a local one)
#   --only LIST          run only these, comma-separated: commit, speedtest1, seqio, meta, tenants,
#                        memory, veryquick, jmh
#   --skip LIST          run all but these
#   --rss-overhead-mib N the fixed overhead allowed on top of cache size + write buffer in the
#                        memory target (default 448: the heap beyond the cache and write
#                        buffer that the launcher allows, 192 + one more write buffer, then
#                        code, metaspace, threads and direct buffers)
#   --summary RUN_ID     run nothing; print the table of targets for an earlier run (its id is
#                        the first column of bench/results/results.tsv)
#
# Defaults are the issue's sizes: 10,000 commits, speedtest1 --size 100, a 2 GiB file, 20,000
# files, 8 tenants x 2,000 commits, a 10 GiB write for memory. Expect one to two hours on a
# 2-core machine, most of it veryquick on the mount. Exit status 1 if a benchmark failed.
bench_name=all
. "$(dirname "$(readlink -f "$0")")/lib.sh"

quick=0
summary_of=
only=
skip=
rss_overhead=448
runs_arg=()
db_arg=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --runs) need_value "$@"; need_int --runs "$2"; runs_arg=(--runs "$2"); shift 2 ;;
        --db) need_value "$@"; db_arg=(--db "$2"); shift 2 ;;
        --only) need_value "$@"; only="$2"; shift 2 ;;
        --skip) need_value "$@"; skip="$2"; shift 2 ;;
        --rss-overhead-mib) need_value "$@"; need_int --rss-overhead-mib "$2"; rss_overhead="$2"; shift 2 ;;
        --summary) need_value "$@"; summary_of="$2"; shift 2 ;;
        -h|--help) bench_usage | sed '/^Common options:/,$d'; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done
all_benches="commit speedtest1 seqio meta tenants memory veryquick jmh"
for b in ${only//,/ } ${skip//,/ }; do
    [[ " $all_benches " == *" $b "* ]] || die "unknown benchmark '$b' (one of: $all_benches)"
done
[ "$(id -u)" -eq 0 ] || die "run as root (the benchmarks mount filesystems and drop the page cache)"

cache_size=256M
write_buffer=64M
if [ "$quick" -eq 1 ]; then
    [ ${#runs_arg[@]} -gt 0 ] || runs_arg=(--runs 1)
    declare -A args=(
        [commit]="--commits 1000" [speedtest1]="--size 20" [seqio]="--file-mib 256 --read-ops 2000 --write-ops 300"
        [meta]="--files 2000" [tenants]="--commits 200" [memory]="--file-mib 1024" [veryquick]="" [jmh]="--quick")
    [ -n "$only" ] || skip="${skip:+$skip,}veryquick"
else
    declare -A args=([commit]="" [speedtest1]="" [seqio]="" [meta]="" [tenants]="" [memory]="" [veryquick]="" [jmh]="")
fi
args[memory]="${args[memory]} --cache-size $cache_size --write-buffer $write_buffer"

export BENCH_RUN_ID="${summary_of:-${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}}"
export BENCH_RESULTS="$results_file"
failed=()
[ -z "$summary_of" ] || grep -q "^$summary_of"$'\t' "$results_file" 2>/dev/null || die "no run $summary_of in $results_file"
for b in $all_benches; do
    [ -z "$summary_of" ] || break
    if [ -n "$only" ] && [[ ",$only," != *",$b,"* ]]; then continue; fi
    if [[ ",$skip," == *",$b,"* ]]; then continue; fi
    extra=()
    case "$b" in
        veryquick|jmh) ;;
        memory) extra=(${db_arg[@]+"${db_arg[@]}"}) ;;
        *) extra=(${runs_arg[@]+"${runs_arg[@]}"} ${db_arg[@]+"${db_arg[@]}"}) ;;
    esac
    echo
    echo "######## bench/$b.sh ${args[$b]} ${extra[*]}"
    # shellcheck disable=SC2086 # the arguments above are words without spaces
    "$bench_repo/bench/$b.sh" ${args[$b]} ${extra[@]+"${extra[@]}"} || failed+=("$b")
done

# ---------------------------------------------------------------- targets

# row BENCH METRIC COLUMN: a value of this run's line for that metric (empty if not measured).
row() {
    awk -F'\t' -v run="$BENCH_RUN_ID" -v b="$1" -v m="$2" -v c="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == run && $3 == b && $4 == m { v = $col[c] } END { print v }' "$results_file" 2>/dev/null
}

# check NAME GOAL VALUE TEST [DETAIL]: TEST is an awk condition on v.
summary=()
check() {
    local name="$1" goal="$2" v="$3" test="$4" detail="${5:-}" verdict shown
    if [ -z "$v" ] || [ "$v" = "-" ]; then
        verdict="not measured"
        shown="-"
        detail=
    else
        shown="$(fmt "$v")"
        if awk -v v="$v" "BEGIN { exit !($test) }"; then verdict=met; else verdict="NOT met"; fi
    fi
    summary+=("$(printf '%-36s %-24s %9s  %-13s %s' "$name" "$goal" "$shown" "$verdict" "$detail")")
}

# check_ratio NAME GOAL BENCH METRIC TEST: a mount/ext4 ratio, shown with both values.
check_ratio() {
    local unit
    unit="$(row "$3" "$4" unit)"
    check "$1" "$2" "$(row "$3" "$4" mount_ext4)" "$5" \
        "(mount $(fmt "$(row "$3" "$4" mount)"), ext4 $(fmt "$(row "$3" "$4" ext4)") $unit)"
}

for mode in DELETE TRUNCATE PERSIST WAL; do
    check_ratio "commit loop $mode, mount/ext4" ">= 1" commit "commit loop, $mode" "v >= 1"
done
for mode in DELETE WAL; do
    check_ratio "speedtest1 $mode, mount/ext4" "<= 1.3" speedtest1 "speedtest1 $mode total" "v <= 1.3"
done
check_ratio "veryquick, mount/ext4" "<= 2" veryquick "veryquick suite" "v <= 2"
check "write+fsync, MB/s" ">= 150" "$(row seqio "write+fsync" mount)" "v >= 150"
check "cold read, MB/s" ">= 300" "$(row seqio "cold read" mount)" "v >= 300"
check_ratio "warm read, mount/ext4" ">= 0.8" seqio "warm read" "v >= 0.8"
check "create+close, us" "< 500" "$(row meta "create+close" mount)" "v < 500"
check "stat (warm), us" "< 20" "$(row meta "stat, warm" mount)" "v < 20"
rss_limit=$(( $(numfmt --from=iec "$cache_size") / 1048576 + $(numfmt --from=iec "$write_buffer") / 1048576 + rss_overhead ))
check "peak RSS during the write, MiB" "< $rss_limit" "$(row memory "peak RSS during the write" mount)" "v < $rss_limit" \
    "(cache $cache_size + write buffer $write_buffer + ${rss_overhead}M)"

echo
echo "== targets of the speed issue (run $BENCH_RUN_ID; details in the tables above and in $results_file)"
awk -F'\t' -v run="$BENCH_RUN_ID" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == run { m = $col["machine"]
                for (c = col["load_before"]; c <= col["load_after"]; c++) {
                    if (lo == "" || $c + 0 < lo) lo = $c + 0; if ($c + 0 > hi) hi = $c + 0 } }
    END { if (m != "") printf "machine: %s\n1-minute load between %s and %s during the benchmarks\n", m, lo, hi }' "$results_file"
printf '%-36s %-24s %9s  %-13s %s\n' target goal measured verdict
printf '%s\n' "${summary[@]}"
tenants_total="$(awk -F'\t' -v run="$BENCH_RUN_ID" '$1 == run && $3 == "tenants" && $4 ~ /, total$/ { printf "%s%s mount/ext4 %s", sep, $4, $9; sep = "; " }' "$results_file" 2>/dev/null)"
[ -z "$tenants_total" ] || echo "(no target) $tenants_total"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
