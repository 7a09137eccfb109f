#!/usr/bin/env bash
# Commit loop: single-row INSERT, each its own transaction, synchronous=FULL, in the DELETE,
# TRUNCATE, PERSIST and WAL journal modes, on ext4, tmpfs and a sqlitesuperfs mount: commits/s.
# The loop is a small C program linked to libsqlite3 (bench/src/commitloop.c); its tmpfs figure is
# the harness's own ceiling.
#
#   bench/commit.sh [--commits N] [--modes LIST] [--ordered] [common options]
#
#   --commits N     commits per loop (default 10000)
#   --modes LIST    journal modes, comma-separated (default DELETE,TRUNCATE,PERSIST,WAL)
#   --ordered       also a second mount with --ordered-journals, measured right after the first
#                   in every run: metrics "commit loop, MODE, ordered journals" (rollback modes)
bench_name=commit
bench_sqlite=1
. "$(dirname "$(readlink -f "$0")")/lib.sh"

commits=10000
modes=DELETE,TRUNCATE,PERSIST,WAL
ordered=
bench_parse --commits=commits:int --modes=modes --ordered=ordered:flag -- "$@"
modes="$(journal_modes "$modes")"
ordered_modes=
if [ -n "$ordered" ]; then ordered_modes="$(tr ' ' '\n' <<<"$modes" | grep -v WAL | tr '\n' ' ')"; fi
for m in $modes; do bench_metric "commit loop, $m" commits/s; done
for m in $ordered_modes; do bench_metric "commit loop, $m, ordered journals" commits/s; done

bench_start "commits=$commits modes=$(echo $modes | tr " " ,) synchronous=FULL${ordered:+ ordered}"
targets_up 512
if [ -n "$ordered_modes" ] && wants mount; then mount_fs "$work/mnt-ordered" "" --ordered-journals; fi

one_run() {
    local target="$1" dir="$2" mode out
    for mode in $modes; do
        rm -f "$dir/commit.db" "$dir/commit.db-journal" "$dir/commit.db-wal" "$dir/commit.db-shm"
        out="$("$(commitloop_for "$target")" "$dir/commit.db" "$mode" "$commits")" || die "commit loop on $target failed"
        bench_sample "commit loop, $mode" "$target" "$(value commits_per_s "$out")"
        if [ "$target" = mount ] && [[ " $ordered_modes " == *" $mode "* ]]; then
            rm -f "$work/mnt-ordered"/commit.db*
            out="$("$(commitloop_for mount)" "$work/mnt-ordered/commit.db" "$mode" "$commits")" ||
                die "commit loop on the mount with --ordered-journals failed"
            bench_sample "commit loop, $mode, ordered journals" mount "$(value commits_per_s "$out")"
        fi
    done
    rm -f "$dir"/commit.db*
}
for_each_run one_run
bench_report
