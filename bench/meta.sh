#!/usr/bin/env bash
# Metadata operations on N files in one directory, on ext4, tmpfs and a sqlitesuperfs mount
# (bench/src/fsbench.c): create+close (O_CREAT|O_EXCL), stat (timed on the second pass, so warm),
# rename (to a new name in the same directory), unlink: microseconds per operation.
#
#   bench/meta.sh [--files N] [common options]
#
#   --files N       files per run (default 20000)
bench_name=meta
. "$(dirname "$(readlink -f "$0")")/lib.sh"

files=20000
bench_parse --files=files:int -- "$@"
bench_metric "create+close" us/op
bench_metric "stat, first pass" us/op
bench_metric "stat, warm" us/op
bench_metric "rename" us/op
bench_metric "unlink" us/op

bench_start "files=$files in one directory"
targets_up 512

one_run() {
    local target="$1" dir="$2/meta" out
    rm -rf "$dir"
    mkdir "$dir"
    out="$("$bench_bin/fsbench" meta "$dir" "$files")" || die "metadata run on $target failed"
    bench_sample "create+close" "$target" "$(value create_us "$out")"
    bench_sample "stat, first pass" "$target" "$(value first_stat_us "$out")"
    bench_sample "stat, warm" "$target" "$(value stat_us "$out")"
    bench_sample "rename" "$target" "$(value rename_us "$out")"
    bench_sample "unlink" "$target" "$(value unlink_us "$out")"
    rmdir "$dir"
}
for_each_run one_run
bench_report
