#!/usr/bin/env bash
# SQLite's speedtest1 (3.40.1, built from the same Debian source as the conformance suite, by
# SQLite's own Makefile rule) on ext4, tmpfs and a sqlitesuperfs mount: total seconds per journal
# mode, and every test's seconds (printed sorted by mount/ext4, worst first).
#
#   bench/speedtest1.sh [--size N] [--modes LIST] [common options]
#
#   --size N        speedtest1 --size (default 100)
#   --modes LIST    journal modes, comma-separated (default delete,wal)
#
# Synchronous is FULL: speedtest1 sets no synchronous pragma unless given --nosync (never used
# here), so SQLite's default FULL holds in both modes, and the build has no SQLITE_NO_SYNC. The
# script checks it each time: a small WAL run on ext4 under strace must fsync at least once per
# transaction.
bench_name=speedtest1
. "$(dirname "$(readlink -f "$0")")/lib.sh"
. "$bench_repo/scripts/sqlite-source.sh"

size=100
modes=delete,wal
bench_parse --size=size:int --modes=modes -- "$@"
modes="$(journal_modes "$modes" | tr A-Z a-z)"
for m in $modes; do bench_metric "speedtest1 ${m^^} total" s; done

bench_packages="tcl-dev xz-utils strace"
bench_start "speedtest1 --size $size --journal $(echo $modes | tr " " ,) (synchronous FULL, testset main)"

fetch_sqlite_source
configure_sqlite_build
speedtest1="$sqlite_build/speedtest1"
if [ ! -x "$speedtest1" ]; then
    say "building speedtest1 ..."
    make -C "$sqlite_build" speedtest1 >"$sqlite_build/make-speedtest1.log" 2>&1 ||
        die "building speedtest1 failed; see $sqlite_build/make-speedtest1.log"
fi

# Without FULL, WAL mode syncs only at checkpoints: a handful of fsyncs instead of ~30 at --size 1.
syncs="$(strace -f -c -e trace=fsync,fdatasync "$speedtest1" --size 1 --journal wal "$ext4_dir/sync-check.db" 2>&1 >/dev/null |
    awk '$NF == "total" { print $(NF-2) }')"
rm -f "$ext4_dir"/sync-check.db*
[ "${syncs:-0}" -ge 10 ] || die "speedtest1 made ${syncs:-no} fsync calls in a WAL run; synchronous is not FULL"

targets_up 2048

one_run() {
    local target="$1" dir="$2" mode out total
    for mode in $modes; do
        rm -f "$dir"/speedtest1.db*
        out="$("$speedtest1" --size "$size" --journal "$mode" "$dir/speedtest1.db")" || die "speedtest1 on $target failed"
        total="$(sed -nE 's/^ +TOTAL\.+ +([0-9.]+)s$/\1/p' <<<"$out")"
        [ -n "$total" ] || die "speedtest1 on $target printed no TOTAL line"
        bench_sample "speedtest1 ${mode^^} total" "$target" "$total"
        while IFS=$'\t' read -r num name seconds; do
            local metric="${mode^^} $num ${name:0:30}"
            [ -n "${metric_unit[$metric]:-}" ] || bench_metric "$metric" s detail
            bench_sample "$metric" "$target" "$seconds"
        done < <(sed -nE 's/^ *([0-9]+) - (.*[^.])\.+ +([0-9.]+)s$/\1\t\2\t\3/p' <<<"$out")
    done
    rm -f "$dir"/speedtest1.db*
}
for_each_run one_run
echo
echo "== every test, worst mount/ext4 first (seconds)"
bench_table detail sorted
bench_report
