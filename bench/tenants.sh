#!/usr/bin/env bash
# Several tenants at once: N namespaces mounted together on one PostgreSQL, each running the commit
# loop (bench/src/commitloop.c) at the same moment, compared with N loops in N directories on ext4
# and on tmpfs. Reports the total commits/s (all commits over the time from the first start to the
# last end) and the median and slowest tenant's own commits/s.
#
#   bench/tenants.sh [--tenants N] [--commits N] [--modes LIST] [common options]
#
#   --tenants N     namespaces (directories) at once (default 8)
#   --commits N     commits per tenant (default 2000)
#   --modes LIST    journal modes, comma-separated (default DELETE,WAL)
bench_name=tenants
. "$(dirname "$(readlink -f "$0")")/lib.sh"

tenants=8
commits=2000
modes=DELETE,WAL
bench_parse --tenants=tenants:int --commits=commits:int --modes=modes -- "$@"
modes="$(journal_modes "$modes")"
for m in $modes; do
    bench_metric "$tenants tenants $m, total" commits/s
    bench_metric "$tenants tenants $m, median tenant" commits/s
    bench_metric "$tenants tenants $m, slowest tenant" commits/s
done

bench_start "tenants=$tenants commits=$commits each modes=$(echo $modes | tr " " ,) synchronous=FULL"
if wants tmpfs; then make_tmpfs 1024; fi
tenant_dir() {
    case "$1" in
        ext4) echo "$ext4_dir/t$2" ;;
        tmpfs) echo "$tmpfs_dir/t$2" ;;
        mount) echo "$work/mnt$2" ;;
    esac
}
if wants mount; then
    say "mounting $tenants namespaces ..."
    for i in $(seq "$tenants"); do mount_fs "$(tenant_dir mount "$i")"; done
fi

one_run() {
    local target="$1" mode i dir pids=() rates=() first= last=
    for mode in $modes; do
        pids=()
        rm -f "$work"/go "$work"/ready.* "$work"/out.*
        for i in $(seq "$tenants"); do
            dir="$(tenant_dir "$target" "$i")"
            mkdir -p "$dir"
            rm -f "$dir"/commit.db*
            "$bench_bin/commitloop" "$dir/commit.db" "$mode" "$commits" "$work/ready.$i" "$work/go" >"$work/out.$i" &
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
        for i in "${!pids[@]}"; do wait "${pids[$i]}" || die "commit loop $((i + 1)) on $target failed"; done
        bench_children=()
        rates=()
        first=
        last=
        for i in $(seq "$tenants"); do
            local out start end
            out="$(cat "$work/out.$i")"
            rates+=("$(value commits_per_s "$out")")
            start="$(value start_ns "$out")"
            end="$(value end_ns "$out")"
            [ -z "$first" ] || [ "$start" -lt "$first" ] && first="$start"
            [ -z "$last" ] || [ "$end" -gt "$last" ] && last="$end"
        done
        bench_sample "$tenants tenants $mode, total" "$target" "$(per_second $((tenants * commits)) "$first" "$last")"
        bench_sample "$tenants tenants $mode, median tenant" "$target" "$(echo "${rates[*]}" | median)"
        bench_sample "$tenants tenants $mode, slowest tenant" "$target" "$(printf '%s\n' "${rates[@]}" | sort -g | head -1)"
        for i in $(seq "$tenants"); do rm -f "$(tenant_dir "$target" "$i")"/commit.db*; done
    done
}
for_each_run one_run
bench_report
