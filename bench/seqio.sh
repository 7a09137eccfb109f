#!/usr/bin/env bash
# Sequential and random file I/O on ext4, tmpfs and a sqlitesuperfs mount (bench/src/fsbench.c):
#   write+fsync  sequential 1 MiB writes of a new file, one fsync at the end: MB/s (10^6 bytes)
#   cold read    the whole file after the page cache was dropped (the mount also remounted): MB/s
#   first byte   of that cold read: from open to the end of the first 1 MiB read, ms
#   warm read    the whole file again, right after: MB/s
#   random read  4 KiB preads at random offsets of the cold file (readahead off): ops/s
#   random write 4 KiB pwrite at a random offset + fsync, repeated: ops/s
#
#   bench/seqio.sh [--file-mib N] [--read-ops N] [--write-ops N] [common options]
#
#   --file-mib N    file size in MiB (default 2048)
#   --read-ops N    random reads per run (default 20000)
#   --write-ops N   random writes per run, each with its fsync (default 2000)
bench_name=seqio
. "$(dirname "$(readlink -f "$0")")/lib.sh"

file_mib=2048
read_ops=20000
write_ops=2000
bench_parse --file-mib=file_mib:int --read-ops=read_ops:int --write-ops=write_ops:int -- "$@"
bench_metric "write+fsync" MB/s
bench_metric "cold read" MB/s
bench_metric "cold read, first byte" ms
bench_metric "warm read" MB/s
bench_metric "4 KiB random read, cold" ops/s
bench_metric "4 KiB random write+fsync" ops/s

bench_start "file=$file_mib MiB in 1 MiB writes, random reads=$read_ops, random writes=$write_ops (4 KiB)"
[ "$(df --output=avail -m "$ext4_dir" | tail -1)" -gt $((file_mib * 3)) ] || die "not enough room in $ext4_parent for a $file_mib MiB file (and its copy in PostgreSQL)"
targets_up $((file_mib + 256))

# Makes the next read of DIR's files come from storage: the mount is remounted (its block cache
# and the kernel's go), and the page cache is dropped.
go_cold() {
    [ "$1" = mount ] && remount_fs "$2"
    drop_page_cache "$2"
}

one_run() {
    local target="$1" dir="$2" f="$2/seqio.bin" out
    rm -f "$f"
    out="$("$bench_bin/fsbench" write "$f" "$file_mib")" || die "writing on $target failed"
    bench_sample "write+fsync" "$target" "$(value mbps "$out")"
    go_cold "$target" "$dir"
    out="$("$bench_bin/fsbench" read "$f")" || die "reading on $target failed"
    bench_sample "cold read" "$target" "$(value mbps "$out")"
    bench_sample "cold read, first byte" "$target" "$(value first_byte_ms "$out")"
    out="$("$bench_bin/fsbench" read "$f")" || die "reading on $target failed"
    bench_sample "warm read" "$target" "$(value mbps "$out")"
    go_cold "$target" "$dir"
    out="$("$bench_bin/fsbench" randread "$f" "$read_ops")" || die "random reads on $target failed"
    bench_sample "4 KiB random read, cold" "$target" "$(value ops_per_s "$out")"
    out="$("$bench_bin/fsbench" randwrite "$f" "$write_ops")" || die "random writes on $target failed"
    bench_sample "4 KiB random write+fsync" "$target" "$(value ops_per_s "$out")"
    rm -f "$f"
}
for_each_run one_run
bench_report
