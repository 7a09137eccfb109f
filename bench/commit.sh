#!/usr/bin/env bash
# Commit loop: single-row INSERT, each its own transaction, synchronous=FULL, in the DELETE,
# TRUNCATE, PERSIST and WAL journal modes, on ext4, tmpfs and a sqlitesuperfs mount: commits/s.
# The loop is a small C program linked to libsqlite3 (bench/src/commitloop.c); its tmpfs figure is
# the harness's own ceiling.
#
#   bench/commit.sh [--commits N] [--modes LIST] [--ordered] [--warmup S] [common options]
#
#   --commits N     commits per loop (default 10000)
#   --warmup S      seconds of unmeasured WAL commit loops on each mount before the first run
#                   (default 25; other targets run one loop of 2,000 commits): a mount is a
#                   long-running process, measured once its JIT has compiled the commit path. A
#                   fresh mount spends about 1 ms of CPU per commit on its first 3,000 commits
#                   (compiling and interpreting) and about 0.12 ms after 12,000 (2026-12-06)
bench_name=commit
bench_sqlite=1
. "$(dirname "$(readlink -f "$0")")/lib.sh"

commits=10000
modes=DELETE,TRUNCATE,PERSIST,WAL
ordered=
warmup=25
bench_parse --commits=commits:int --modes=modes --ordered=ordered:flag --warmup=warmup:int -- "$@"
modes="$(journal_modes "$modes")"
ordered_modes=
if [ -n "$ordered" ]; then ordered_modes="$(tr ' ' '\n' <<<"$modes" | grep -v WAL | tr '\n' ' ')"; fi
for m in $modes; do bench_metric "commit loop, $m" commits/s; done
for m in $ordered_modes; do bench_metric "commit loop, $m, ordered journals" commits/s; done

bench_start "commits=$commits (after ${warmup}s of unmeasured WAL loops) modes=$(echo $modes | tr " " ,) synchronous=FULL${ordered:+ ordered}"
targets_up 512
if [ -n "$ordered_modes" ] && wants mount; then mount_fs "$work/mnt-ordered" "" --ordered-journals; fi

# Mounts run WAL loops for $warmup seconds, the others one loop; nothing is recorded.
warm_up() {
    local target="$1" dir="$2" until=$((SECONDS + warmup))
    while :; do
        rm -f "$dir"/warmup.db*
        "$(commitloop_for "$target")" "$dir/warmup.db" WAL 2000 >/dev/null || die "warm-up loop on $target failed"
        rm -f "$dir"/warmup.db*
        [ "$target" = mount ] && [ "$SECONDS" -lt "$until" ] || break
    done
}
if [ "$warmup" -gt 0 ]; then
    say "warming up (${warmup}s of WAL loops on each mount) ..."
    for t in ext4 tmpfs gocryptfs sqlcipher mount; do
        if wants "$t"; then warm_up "$t" "$(target_dir "$t")"; fi
    done
    if [ -n "$ordered_modes" ] && wants mount; then warm_up mount "$work/mnt-ordered"; fi
fi

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
