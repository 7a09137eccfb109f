#!/usr/bin/env bash
# Follower lag: how long after the writer's COMMIT returns a reader on a read-only mount of the
# same namespace (a follower, another mount process on the same PostgreSQL) sees the row. Per
# journal mode (WAL, DELETE): the writer commits one-row transactions (synchronous=FULL) on its
# mount while a reader on the follower polls max(id) every millisecond; reported are the median
# and the 99th percentile over every row, from its COMMIT returning to the first read that saw it,
# and the writer's commit rate meanwhile, next to its rate with no follower (the same loop on the
# same mount just before the follower is mounted, the baseline of the same run). The follower asks
# for new commits every 50 ms. Mount only (no other target has followers).
#
#   bench/follow.sh [--commits N] [common options]
#
#   --commits N     commits per journal mode and run (default 1000)
bench_name=follow
bench_sqlite=1
. "$(dirname "$(readlink -f "$0")")/lib.sh"

commits=1000
targets=mount
bench_parse --commits=commits:int -- "$@"
[ "$targets" = mount ] || die "follow runs on the mount only (--on mount)"
for mode in WAL DELETE; do
    bench_metric "lag p50, $mode" ms
    bench_metric "lag p99, $mode" ms
    bench_metric "writer commits/s with a follower, $mode" commits/s
    bench_metric "writer commits/s alone, $mode" commits/s
done
bench_start "commits=$commits one-row transactions, synchronous=FULL; the reader polls every 1 ms"
probe="$bench_repo/bench/src/followprobe.py"

one_run() {
    local mode ns out d
    for mode in WAL DELETE; do
        ns="bench_follow_$(date +%s)_$$_$3_${mode,,}"
        d="$work/follow-$3-$mode"
        mkdir -p "$d"
        mount_fs "$d/writer" "$ns"
        # the database exists before the follower mounts, as a replica's usually does
        python3 -c "import sqlite3; c = sqlite3.connect('$d/writer/app.db'); c.execute('PRAGMA journal_mode=$mode');
c.execute('CREATE TABLE IF NOT EXISTS lag(id INTEGER PRIMARY KEY, v BLOB)'); c.commit()"
        out="$(python3 "$probe" writer "$d/writer/alone.db" "$mode" "$commits" "$d/alone.times")" ||
            die "the writer failed alone ($out)"
        bench_sample "writer commits/s alone, $mode" mount "$(value commits_per_s "$out")"
        mount_fs "$d/follower" "$ns" --read-only
        python3 "$probe" reader "$d/follower/app.db" "$commits" "$d/seen" >"$d/reader.out" &
        local reader_pid=$!
        bench_children+=("$reader_pid")
        out="$(python3 "$probe" writer "$d/writer/app.db" "$mode" "$commits" "$d/times")" ||
            die "the writer failed ($out)"
        wait "$reader_pid" || die "the reader failed ($(cat "$d/reader.out"))"
        local lag
        lag="$(python3 "$probe" lag "$d/times" "$d/seen")"
        bench_sample "lag p50, $mode" mount "$(value lag_p50_ms "$lag")"
        bench_sample "lag p99, $mode" mount "$(value lag_p99_ms "$lag")"
        bench_sample "writer commits/s with a follower, $mode" mount "$(value commits_per_s "$out")"
        unmount_fs "$d/follower"
        unmount_fs "$d/writer"
    done
}
for_each_run one_run
bench_report
