#!/usr/bin/env bash
# Memory of a mount: the resident set (VmRSS, sampled every second, and the peak VmHWM) of the
# mount's JVM while it takes a large sequential write (1 MiB writes, fsync at the end), then while
# the file is read back cold (which fills the block cache), next to the configured cache and write
# buffer. Mount only: ext4 and tmpfs have no such process. The samples are kept in
# bench/results/memory-RUN.tsv.
#
#   bench/memory.sh [--file-mib N] [--cache-size S] [--write-buffer S] [common options; --runs 1]
#
#   --file-mib N      file size in MiB (default 10240)
#   --cache-size S    the mount's --cache-size (default 256M, the program's default)
#   --write-buffer S  the mount's --write-buffer (default 64M, the program's default)
bench_name=memory
. "$(dirname "$(readlink -f "$0")")/lib.sh"

runs=1
file_mib=10240
cache_size=256M
write_buffer=64M
bench_parse --file-mib=file_mib:int --cache-size=cache_size --write-buffer=write_buffer -- "$@"
targets=mount
bench_metric "RSS after mounting" MiB
bench_metric "peak RSS during the write" MiB
bench_metric "peak RSS during the read" MiB
bench_metric "VmHWM at the end" MiB
bench_metric "Java heap committed at the end" MiB
bench_metric "write+fsync" MB/s
bench_metric "cold read" MB/s

bench_start "file=$file_mib MiB, --cache-size $cache_size, --write-buffer $write_buffer, heap bound $(mount_heap_option --cache-size "$cache_size" --write-buffer "$write_buffer") (the launcher's)"
[ "$(df --output=avail -m "$ext4_dir" | tail -1)" -gt $((file_mib * 3)) ] || die "not enough room in $ext4_parent for $file_mib MiB in PostgreSQL (data and WAL)"

# status_kib PID FIELD: a field of /proc/PID/status in KiB.
status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# Samples VmRSS of PID every second into FILE until stopped, and into the run's time series
# (bench/results/memory-RUN.tsv: seconds since the start, phase, VmRSS in KiB).
sampler_pid=
start_sampler() {
    local series="$(dirname "$results_file")/memory-$run_id.tsv" phase="${2##*.}"
    mkdir -p "$(dirname "$series")"
    [ -s "$series" ] || printf 'second\tphase\tvmrss_kib\n' >"$series"
    ( while kill -0 "$1" 2>/dev/null; do
          local kib
          kib="$(status_kib "$1" VmRSS)" || true
          echo "$kib" >>"$2"
          printf '%s\t%s\t%s\n' "$SECONDS" "$phase" "$kib" >>"$series"
          sleep 1
      done ) &
    sampler_pid=$!
    bench_children=("$sampler_pid")
}
stop_sampler() {
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    bench_children=()
}
peak_mib() {
    sort -n "$1" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'
}

one_run() {
    local target="$1" dir="$2" f="$2/memory.bin" pid out
    mount_fs "$dir" "" --cache-size "$cache_size" --write-buffer "$write_buffer"
    pid="${mount_pid[$dir]}"
    sleep 2
    bench_sample "RSS after mounting" mount "$(awk -v k="$(status_kib "$pid" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
    : >"$work/rss.write"
    start_sampler "$pid" "$work/rss.write"
    out="$("$bench_bin/fsbench" write "$f" "$file_mib")" || die "writing on the mount failed"
    stop_sampler
    bench_sample "write+fsync" mount "$(value mbps "$out")"
    bench_sample "peak RSS during the write" mount "$(peak_mib "$work/rss.write")"
    drop_page_cache "$dir"
    : >"$work/rss.read"
    start_sampler "$pid" "$work/rss.read"
    out="$("$bench_bin/fsbench" read "$f")" || die "reading on the mount failed"
    stop_sampler
    bench_sample "cold read" mount "$(value mbps "$out")"
    bench_sample "peak RSS during the read" mount "$(peak_mib "$work/rss.read")"
    bench_sample "VmHWM at the end" mount "$(awk -v k="$(status_kib "$pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
    # How much of it is Java heap (JDK 25 G1: "garbage-first heap total reserved 6172672K,
    # committed 393216K, used 39887K").
    local heap
    heap="$("$(find_jdk25)/bin/jcmd" "$pid" GC.heap_info 2>/dev/null | sed -n 's/.* heap .*committed \([0-9]*\)K.*/\1/p' | head -1)"
    [ -z "$heap" ] || bench_sample "Java heap committed at the end" mount "$(awk -v k="$heap" 'BEGIN { printf "%.1f", k / 1024 }')"
    rm -f "$f"
    unmount_fs "$dir"
}
for_each_run one_run
bench_report
echo "VmRSS every second: $(dirname "$results_file")/memory-$run_id.tsv"
