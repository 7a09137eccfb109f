#!/usr/bin/env bash
# Many namespaces in one host process (`sqlitesuperfs serve`): N namespaces listed in the host's
# config file, created and mounted one after the other when it starts (the time to serve with all
# of them is reported too), each then taking one SQLite commit (WAL). Reports
# the host's resident memory (VmRSS) with the first 100 mounted and with all N, and what each idle
# mount beyond the first hundred adds; the host's own time to mount one namespace after its key is
# derived (from its log: median, 99th percentile, slowest) and the time to derive the key; the
# PostgreSQL connections the host holds (pg_stat_activity) against its bound; and the time of one
# further `mount --host` from the command line (a client JVM included) and of `ns list`.
#
#   bench/host.sh [--namespaces N] [--db-connections N] [common options; --runs 1]
#
#   --namespaces N      namespaces mounted at once (default 100; issue 13's target is 1000)
#   --db-connections N  the host's bound on PostgreSQL connections (default 10)
bench_name=host
. "$(dirname "$(readlink -f "$0")")/lib.sh"

runs=1
namespaces=100
db_connections=10
bench_parse --namespaces=namespaces:int --db-connections=db_connections:int -- "$@"
targets=mount
host_mode=1
bench_metric "host RSS, first 100 mounted" MiB
bench_metric "host RSS, all mounted" MiB
bench_metric "RSS per idle mount past 100" KiB
bench_metric "mount after key, median" ms
bench_metric "mount after key, p99" ms
bench_metric "mount after key, slowest" ms
bench_metric "key derivation, median" ms
bench_metric "PostgreSQL connections, most seen" connections
bench_metric "PostgreSQL connections, bound" connections
bench_metric "one more mount --host (client JVM incl.)" s
bench_metric "ns list" s
bench_metric "host start with all mounted" s

bench_start "namespaces=$namespaces db-connections=$db_connections (kdf interactive)"
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$host_pid/status"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$host_pid/status"; }
command -v psql >/dev/null || die "needs psql (postgresql-client)"
# The database URL the host's mounts use (the local server's, once the host started it).
server_url() {
    if [ -n "$db_url" ]; then echo "${db_url#jdbc:}"; return; fi
    local port
    port="$(sed -n 4p "$bench_state/pg/data/postmaster.pid" 2>/dev/null)"
    echo "postgresql://sqlitesuperfs:$(cat "$bench_state/pg/password")@127.0.0.1:$port/postgres"
}
# Connections of the host (named sqlitesuperfs:host:*), not of this script's own psql.
pg_connections() {
    psql -Atq "$(server_url)" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'sqlitesuperfs:host:%'" \
        2>/dev/null || echo 0
}

mount_base_args
write_config() {
    local from="$1" to="$2" file="$3" i
    : >"$file"
    for i in $(seq "$from" "$to"); do
        mkdir -p "$work/m/$i"
        namespaces_created+=("bench_host_$i")
        printf 'bench_host_%s %s passphrase-file=%s %s\n' "$i" "$work/m/$i" "$passfile" "${mount_base[*]:2}" >>"$file"
    done
}

first=$(( namespaces < 100 ? namespaces : 100 ))
write_config 1 "$namespaces" "$work/host.conf"
for i in $(seq "$namespaces"); do mount_pid["$work/m/$i"]=host; mount_ns["$work/m/$i"]="bench_host_$i"; done
# The host mounts the config file's namespaces one after the other before it serves; a sampler
# reads its RSS once the first hundred are mounted.
( while :; do
      pid="$(pgrep -f -- "serve --socket $work/host.sock" | head -1)"
      n="$(grep -c " mounted on " "$work/host.log" 2>/dev/null || true)"
      if [ -n "$pid" ] && [ "${n:-0}" -ge "$first" ]; then
          awk '/^VmRSS/ {print $2}' "/proc/$pid/status" >"$work/rss-first"
          exit 0
      fi
      sleep 0.2
  done ) &
sampler=$!
bench_children+=("$sampler")
say "starting a host with $namespaces namespaces in its config file ..."
t_start=$(now_ns)
host_up --config "$work/host.conf" --db-connections "$db_connections"
t_served=$(now_ns)
wait "$sampler" 2>/dev/null || true
kib_first="$(cat "$work/rss-first" 2>/dev/null || rss_kib)"
rss_first="$(awk -v k="$kib_first" 'BEGIN {printf "%.1f", k / 1024}')"
most="$(pg_connections)"
say "one SQLite commit in each namespace ..."
for i in $(seq "$namespaces"); do
    sqlite3 "$work/m/$i/db" "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);" >/dev/null ||
        die "SQLite on namespace $i failed"
done
c="$(pg_connections)"; [ "$c" -gt "$most" ] && most=$c
sleep 5
rss_all="$(rss_mib)"; kib_all="$(rss_kib)"
per_mount="-"
[ "$namespaces" -gt "$first" ] && per_mount="$(( (kib_all - kib_first) / (namespaces - first) ))"

# the host logs each mount: "namespace NS mounted on DIR ... in T ms after its key (derived in K ms)"
mapfile -t after < <(sed -n 's/.* mounted on .* in \([0-9.]*\) ms after its key .*/\1/p' "$host_log" | sort -n)
mapfile -t keys < <(sed -n 's/.* after its key (derived in \([0-9.]*\) ms).*/\1/p' "$host_log" | sort -n)
[ "${#after[@]}" -gt 0 ] || die "no mount timings in $host_log"
pct() { local -n a=$1; local k=$(( (${#a[@]} * $2 + 99) / 100 )); [ "$k" -ge 1 ] || k=1; echo "${a[$((k - 1))]}"; }

mkdir -p "$work/m/extra"
namespaces_created+=("bench_host_extra")
t0=$(now_ns)
"${sqlitesuperfs[@]}" mount --host --socket "$host_socket" "${mount_base[@]}" bench_host_extra "$work/m/extra" \
    >>"$work/mount-extra.log" 2>&1 </dev/null || die "the extra mount failed; see $work/mount-extra.log"
t1=$(now_ns)
mount_pid["$work/m/extra"]=host; mount_ns["$work/m/extra"]=bench_host_extra
t2=$(now_ns)
psql_url="$(server_url)" "${sqlitesuperfs[@]}" ns list >/dev/null 2>>"$work/nslist.err" || say "ns list failed; see $work/nslist.err"
t3=$(now_ns)

bench_sample "host RSS, first 100 mounted" mount "$rss_first"
bench_sample "host RSS, all mounted" mount "$rss_all"
[ "$per_mount" = - ] || bench_sample "RSS per idle mount past 100" mount "$per_mount"
bench_sample "mount after key, median" mount "$(pct after 50)"
bench_sample "mount after key, p99" mount "$(pct after 99)"
bench_sample "mount after key, slowest" mount "${after[-1]}"
bench_sample "key derivation, median" mount "$(pct keys 50)"
bench_sample "PostgreSQL connections, most seen" mount "$most"
bench_sample "PostgreSQL connections, bound" mount "$db_connections"
bench_sample "one more mount --host (client JVM incl.)" mount "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')"
bench_sample "host start with all mounted" mount "$(awk -v a="$t_start" -v b="$t_served" 'BEGIN {printf "%.1f", (b - a) / 1e9}')"
bench_sample "ns list" mount "$(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.2f", (b - a) / 1e9}')"
say "unmounting $namespaces namespaces (SIGTERM to the host) ..."
for d in "${!mount_pid[@]}"; do unset "mount_pid[$d]"; done
host_down
bench_report
