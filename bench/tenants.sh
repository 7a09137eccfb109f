#!/usr/bin/env bash
# Several tenants at once: N namespaces mounted together on one PostgreSQL, each running the commit
# loop (bench/src/commitloop.c) at the same moment, compared with N loops in N directories on ext4
# and on tmpfs. Reports the total commits/s (all commits over the time from the first start to the
# last end) and the median and slowest tenant's own commits/s, and the 99th percentile of each
# tenant's commit times (median tenant and slowest).
#
#   bench/tenants.sh [--tenants N] [--commits N] [--modes LIST] [--stream MIB] [common options]
#
#   --tenants N     namespaces (directories) at once (default 8)
#   --commits N     commits per tenant (default 2000)
#   --modes LIST    journal modes, comma-separated (default DELETE,WAL)
#   --stream MIB    one more namespace (directory) where dd writes MIB MiB with conv=fsync while
#                   the tenants commit (stopped when they are done; default 0: none)
#   --warmup N      commits per tenant run on the mounts, all tenants at once, before anything is
#                   measured (default 2000): a host or mount is a long-running process, measured
#                   once its JIT has compiled the commit path (a fresh JVM spends much of its first
#                   20 s of 8 tenants' commits compiling: up to 20% of 2 cores)
bench_name=tenants
bench_sqlite=1
. "$(dirname "$(readlink -f "$0")")/lib.sh"

tenants=8
commits=2000
modes=DELETE,WAL
stream=0
warmup=2000
bench_parse --tenants=tenants:int --commits=commits:int --modes=modes --stream=stream:int --warmup=warmup:int -- "$@"
modes="$(journal_modes "$modes")"
for m in $modes; do
    bench_metric "$tenants tenants $m, total" commits/s
    bench_metric "$tenants tenants $m, median tenant" commits/s
    bench_metric "$tenants tenants $m, slowest tenant" commits/s
    bench_metric "$tenants tenants $m, p99 commit, median tenant" us
    bench_metric "$tenants tenants $m, p99 commit, slowest tenant" us
    if [ "$stream" -gt 0 ]; then bench_metric "$tenants tenants $m, stream written beside them" MiB/s; fi
done

bench_start "tenants=$tenants commits=$commits each (after $warmup unmeasured) modes=$(echo $modes | tr " " ,) synchronous=FULL stream=${stream}MiB"
if wants tmpfs; then make_tmpfs $((1024 + stream)); fi
if wants gocryptfs; then make_gocryptfs; fi
tenant_dir() {
    case "$1" in
        ext4) echo "$ext4_dir/t$2" ;;
        tmpfs) echo "$tmpfs_dir/t$2" ;;
        gocryptfs) echo "$gocryptfs_dir/t$2" ;;
        sqlcipher) echo "$ext4_dir/sqlcipher/t$2" ;;
        mount) echo "$work/mnt$2" ;;
    esac
}
stream_dir() {
    case "$1" in
        ext4) echo "$ext4_dir/stream" ;;
        tmpfs) echo "$tmpfs_dir/stream" ;;
        gocryptfs) echo "$gocryptfs_dir/stream" ;;
        sqlcipher) echo "$ext4_dir/sqlcipher/stream" ;;
        mount) echo "$work/mntstream" ;;
    esac
}
if wants mount; then
    say "mounting $tenants namespaces ..."
    for i in $(seq "$tenants"); do mount_fs "$(tenant_dir mount "$i")"; done
    if [ "$stream" -gt 0 ]; then mount_fs "$(stream_dir mount)"; fi
fi

# Every tenant runs the commit loop on its mount, all at once, nothing recorded.
warm_up() {
    local mode i dir pids=()
    [ "$warmup" -gt 0 ] || return 0
    say "warming up: $warmup commits per tenant ..."
    for mode in $modes; do
        pids=()
        for i in $(seq "$tenants"); do
            dir="$(tenant_dir mount "$i")"
            rm -f "$dir"/warmup.db*
            "$bench_bin/commitloop" "$dir/warmup.db" "$mode" "$warmup" >/dev/null &
            pids+=($!)
        done
        bench_children=("${pids[@]}")
        for i in "${!pids[@]}"; do wait "${pids[$i]}" || die "warm-up loop $((i + 1)) failed"; done
        bench_children=()
        for i in $(seq "$tenants"); do rm -f "$(tenant_dir mount "$i")"/warmup.db*; done
    done
}
if wants mount; then warm_up; fi

one_run() {
    local target="$1" mode i dir pids=() rates=() p99s=() first= last= streamer=
    for mode in $modes; do
        pids=()
        rm -f "$work"/go "$work"/ready.* "$work"/out.*
        for i in $(seq "$tenants"); do
            dir="$(tenant_dir "$target" "$i")"
            mkdir -p "$dir"
            rm -f "$dir"/commit.db*
            "$(commitloop_for "$target")" "$dir/commit.db" "$mode" "$commits" "$work/ready.$i" "$work/go" >"$work/out.$i" &
            pids+=($!)
        done
        bench_children=("${pids[@]}")
        # All set up, then all start together.
        until [ "$(ls "$work"/ready.* 2>/dev/null | wc -l)" -eq "$tenants" ]; do
            for i in $(seq "$tenants"); do
                [ -e "$work/ready.$i" ] || kill -0 "${pids[$((i - 1))]}" 2>/dev/null ||
                    die "commit loop $i on $target ended before it was ready"
            done
            sleep 0.05
        done
        touch "$work/go"
        if [ "$stream" -gt 0 ]; then
            mkdir -p "$(stream_dir "$target")"
            dd if=/dev/zero of="$(stream_dir "$target")/stream" bs=1M count="$stream" conv=fsync status=none &
            streamer=$!
            bench_children+=("$streamer")
        fi
        for i in "${!pids[@]}"; do wait "${pids[$i]}" || die "commit loop $((i + 1)) on $target failed"; done
        local streamed=0
        if [ -n "$streamer" ]; then
            # what the stream had written (accepted by the filesystem) when the last loop ended
            streamed="$(stat -c %s "$(stream_dir "$target")/stream" 2>/dev/null || echo 0)"
        fi
        if [ -n "$streamer" ]; then
            kill -0 "$streamer" 2>/dev/null || say "the stream ended before the commit loops (make it longer)"
            kill "$streamer" 2>/dev/null || true
            wait "$streamer" 2>/dev/null || true
            rm -f "$(stream_dir "$target")/stream"
        fi
        bench_children=()
        rates=()
        p99s=()
        first=
        last=
        for i in $(seq "$tenants"); do
            local out start end
            out="$(cat "$work/out.$i")"
            rates+=("$(value commits_per_s "$out")")
            p99s+=("$(value p99_us "$out")")
            start="$(value start_ns "$out")"
            end="$(value end_ns "$out")"
            [ -z "$first" ] || [ "$start" -lt "$first" ] && first="$start"
            [ -z "$last" ] || [ "$end" -gt "$last" ] && last="$end"
        done
        bench_sample "$tenants tenants $mode, total" "$target" "$(per_second $((tenants * commits)) "$first" "$last")"
        bench_sample "$tenants tenants $mode, median tenant" "$target" "$(echo "${rates[*]}" | median)"
        bench_sample "$tenants tenants $mode, slowest tenant" "$target" "$(printf '%s\n' "${rates[@]}" | sort -g | head -1)"
        bench_sample "$tenants tenants $mode, p99 commit, median tenant" "$target" "$(echo "${p99s[*]}" | median)"
        bench_sample "$tenants tenants $mode, p99 commit, slowest tenant" "$target" "$(printf '%s\n' "${p99s[@]}" | sort -g | tail -1)"
        if [ "$stream" -gt 0 ]; then
            bench_sample "$tenants tenants $mode, stream written beside them" "$target" \
                "$(awk -v b="$streamed" -v ns=$((last - first)) 'BEGIN { printf "%.1f", b / 1048576 / (ns / 1e9) }')"
        fi
        for i in $(seq "$tenants"); do rm -f "$(tenant_dir "$target" "$i")"/commit.db*; done
    done
}
for_each_run one_run
bench_report
