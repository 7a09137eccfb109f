#!/usr/bin/env bash
# Failover: seconds without service when the primary's machine dies and a synchronous standby is
# promoted at once. Each run makes a pair of PostgreSQL clusters on loopback ports (initdb,
# pg_basebackup, synchronous_standby_names), mounts a namespace with both servers in its URL, and
# runs the commit loop (WAL, synchronous=FULL) on it while a psql client commits to the same pair
# in a loop of its own; after --after seconds every process of the primary gets SIGKILL and the
# standby is promoted. Reported: the mount's slowest commit (the one that spans the failover) and
# the longest gap between two successful commits of the psql client, which is PostgreSQL's own
# floor for a client that reconnects at once. Mount only (the other targets have no failover).
#
#   bench/failover.sh [--after S] [--commits N] [common options]
#
#   --after S       seconds of commits before the kill (default 3)
#   --commits N     commits of the loop (default 6000; enough to outlast the failover)
bench_name=failover
bench_sqlite=1
. "$(dirname "$(readlink -f "$0")")/lib.sh"

after=3
commits=6000
targets=mount
bench_parse --after=after:int --commits=commits:int -- "$@"
[ "$targets" = mount ] || die "failover runs on the mount only (--on mount)"
[ -z "$db_url" ] || die "failover makes its own PostgreSQL servers; --db does not apply"
bench_metric "outage, mount (slowest commit)" s
bench_metric "outage, psql client (longest gap)" s
bench_metric "commit loop around the failover" commits/s

pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[ -x "$pgbin/pg_basebackup" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
bench_start "kill -9 of the primary after ${after}s, pg_ctl promote at once; commits=$commits WAL synchronous=FULL"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { runuser -u postgres -- "$@"; }

# pair_up DIR: a primary and a synchronous standby; sets p1, p2.
pair_up() {
    local d="$1"
    chmod o+x "$work" # the postgres account passes through to its own directory
    mkdir -p "$d" && chown postgres: "$d" && chmod 700 "$d"
    p1="$(free_port)"
    p2="$(free_port)"
    as_pg "$pgbin/initdb" -D "$d/p1" -U bench --auth=trust -E UTF8 --locale=C >/dev/null || die "initdb failed"
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$p1" "$d" >>"$d/p1/postgresql.conf"
    as_pg "$pgbin/pg_ctl" -D "$d/p1" -l "$d/p1.log" -w -s start || die "the primary did not start"
    as_pg "$pgbin/pg_basebackup" -d "host=127.0.0.1 port=$p1 user=bench" -D "$d/p2" -R -X stream -c fast ||
        die "pg_basebackup failed"
    printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=bench application_name=standby1'\n" \
        "$p2" "$p1" >>"$d/p2/postgresql.auto.conf"
    as_pg "$pgbin/pg_ctl" -D "$d/p2" -l "$d/p2.log" -w -s start || die "the standby did not start"
    psql -q -h 127.0.0.1 -p "$p1" -U bench -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" \
        -c "SELECT pg_reload_conf()" >/dev/null || die "could not make the standby synchronous"
    for _ in $(seq 200); do
        [ "$(psql -qtA -h 127.0.0.1 -p "$p1" -U bench -d postgres \
            -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && return 0
        sleep 0.05
    done
    die "the standby did not become synchronous"
}

kill_primary() {
    local pid
    pid="$(head -1 "$1/p1/postmaster.pid")"
    kill -STOP "$pid"
    pkill -KILL -P "$pid"
    kill -KILL "$pid"
}

# psql_loop URL OUT: one INSERT per psql run, each success's time (ns) appended to OUT, until killed.
psql_loop() {
    psql -q "$1" -c "CREATE TABLE IF NOT EXISTS failover_probe(at bigint)" >/dev/null 2>&1
    while :; do
        psql -q "$1" -c "INSERT INTO failover_probe VALUES (1)" >/dev/null 2>&1 && date +%s%N >>"$2"
        sleep 0.005
    done
}

one_run() {
    local d="$work/pair$3" out gap loop_pid psql_pid
    pair_up "$d"
    local url="postgresql://bench@127.0.0.1:$p1,127.0.0.1:$p2/postgres"
    db_url="$url" mount_fs "$work/mnt-failover$3" "" --require-sync-standby --db-timeout 60
    mkdir -p "$work/mnt-failover$3/failover"
    psql_loop "host=127.0.0.1,127.0.0.1 port=$p1,$p2 user=bench dbname=postgres target_session_attrs=read-write connect_timeout=2" \
        "$d/psql.times" &
    psql_pid=$!
    bench_children+=("$psql_pid")
    "$bench_bin/commitloop" "$work/mnt-failover$3/failover/loop.db" WAL "$commits" >"$d/loop.out" &
    loop_pid=$!
    sleep "$after"
    kill_primary "$d"
    as_pg "$pgbin/pg_ctl" -D "$d/p2" -w -s promote || die "pg_ctl promote failed"
    wait "$loop_pid" || die "the commit loop failed across the failover ($(cat "$d/loop.out"))"
    kill "$psql_pid" 2>/dev/null
    wait "$psql_pid" 2>/dev/null || true
    out="$(cat "$d/loop.out")"
    gap="$(awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 } END { printf "%.3f", max / 1e9 }' "$d/psql.times")"
    bench_sample "outage, mount (slowest commit)" mount "$(awk -v us="$(value max_us "$out")" 'BEGIN { printf "%.3f", us / 1e6 }')"
    bench_sample "outage, psql client (longest gap)" mount "$gap"
    bench_sample "commit loop around the failover" mount "$(value commits_per_s "$out")"
    unmount_fs "$work/mnt-failover$3"
    namespaces_created=()
    as_pg "$pgbin/pg_ctl" -D "$d/p2" -w -s -m immediate stop
}
for_each_run one_run
bench_report
