#!/usr/bin/env bash
# Baseline benchmark: the same workloads on local ext4, on tmpfs and on a sqlitesuperfs mount
# (PostgreSQL on localhost), in one run, reported as medians of several runs and as ratios.
#
#   bench/baseline.sh [--runs N] [--commits N] [--file-mib N] [--db URL]
#
# Workloads:
#   - SQLite single-row INSERT, one transaction each, synchronous=FULL, in DELETE, TRUNCATE and
#     WAL journal modes (sqlite3 CLI): commits per second.
#   - Sequential write of a file with one final fsync (dd conv=fsync, 1 MiB writes): MB/s.
#   - Cold read of that file (page cache dropped; the mount is remounted): MB/s.
#   - Warm read (second read, from the page cache): MB/s.
# Needs root (mounts, drop_caches). Without --db a local PostgreSQL is started in a temporary
# state directory and removed afterwards.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"

runs=3
commits=2000
file_mib=1024
db_url=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --commits) commits="$2"; shift 2 ;;
        --file-mib) file_mib="$2"; shift 2 ;;
        --db) db_url="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/baseline.sh: run as root" >&2; exit 1; }
command -v sqlite3 >/dev/null || apt-get install -y -q sqlite3 >/dev/null

work=$(mktemp -d /var/tmp/sqlitesuperfs-bench-XXXXXX)
ext4="$work/ext4"; tmpfs="$work/tmpfs"; mnt="$work/mnt"; state="$work/state"
mkdir -p "$ext4" "$tmpfs" "$mnt" "$state"
mount -t tmpfs -o size=$((file_mib + 512))m tmpfs "$tmpfs"
passfile="$work/pass"; echo "benchmark passphrase" > "$passfile"
ns="bench_$(date +%s)"
mount_pid=""

mount_fs() {
    local args=(mount --passphrase-file "$passfile" --kdf interactive --state-dir "$state" "$ns" "$mnt")
    [ -n "$db_url" ] && args=(mount --db "$db_url" --passphrase-file "$passfile" --kdf interactive "$ns" "$mnt")
    "$here/sqlitesuperfs" "${args[@]}" >"$work/mount.log" 2>&1 &
    mount_pid=$!
    for _ in $(seq 600); do
        grep -q "mounted namespace" "$work/mount.log" && return 0
        kill -0 "$mount_pid" 2>/dev/null || { cat "$work/mount.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "mount not ready" >&2; exit 1
}
unmount_fs() {
    "$here/sqlitesuperfs" unmount "$mnt" >/dev/null
    wait "$mount_pid" || true
}
cleanup() {
    grep -q " $mnt " /proc/self/mountinfo && unmount_fs || true
    umount "$tmpfs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# commits/s for one journal mode in one directory
commit_loop() {
    local dir="$1" mode="$2" db="$1/bench-$2.db" sql="$work/commits.sql"
    rm -f "$db" "$db-journal" "$db-wal" "$db-shm"
    sqlite3 "$db" "PRAGMA journal_mode=$mode; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
    { echo "PRAGMA synchronous=FULL;"; for i in $(seq "$commits"); do echo "INSERT INTO t(v) VALUES ('row $i');"; done; } > "$sql"
    local start end
    start=$(date +%s.%N)
    sqlite3 "$db" < "$sql" >/dev/null
    end=$(date +%s.%N)
    echo "$commits / ($end - $start)" | bc -l
}
# MB/s of a dd run
dd_rate() {
    local start end
    start=$(date +%s.%N)
    "$@" 2>/dev/null
    end=$(date +%s.%N)
    echo "$file_mib * 1.048576 / ($end - $start)" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result
measure() {
    local name="$1" dir="$2" remount="$3"
    for mode in DELETE TRUNCATE WAL; do
        for r in $(seq "$runs"); do commit_loop "$dir" "$mode"; done | median > "$work/m"
        result["$name,commit-$mode"]=$(cat "$work/m")
    done
    local f="$dir/big.bin" w=() c=() h=()
    for r in $(seq "$runs"); do
        rm -f "$f"
        w+=("$(dd_rate dd if=/dev/zero of="$f" bs=1M count="$file_mib" conv=fsync)")
        if [ "$remount" = yes ]; then unmount_fs; mount_fs; fi
        sync; echo 3 > /proc/sys/vm/drop_caches
        c+=("$(dd_rate dd if="$f" of=/dev/null bs=1M)")
        h+=("$(dd_rate dd if="$f" of=/dev/null bs=1M)")
    done
    result["$name,write+fsync"]=$(printf '%s\n' "${w[@]}" | median)
    result["$name,cold-read"]=$(printf '%s\n' "${c[@]}" | median)
    result["$name,warm-read"]=$(printf '%s\n' "${h[@]}" | median)
    rm -f "$f"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r);" \
     "ext4 at $ext4 on $(df --output=source "$ext4" | tail -1); $(date -u +%Y-%m-%d)"
measure ext4 "$ext4" no
measure tmpfs "$tmpfs" no
mount_fs
measure mount "$mnt" yes
unmount_fs

printf '\n%-18s %12s %12s %12s %14s %14s\n' metric ext4 tmpfs mount "mount/ext4" "mount/tmpfs"
for m in commit-DELETE commit-TRUNCATE commit-WAL write+fsync cold-read warm-read; do
    e=${result["ext4,$m"]}; t=${result["tmpfs,$m"]}; s=${result["mount,$m"]}
    printf '%-18s %12.1f %12.1f %12.1f %14.2f %14.2f\n' "$m" "$e" "$t" "$s" "$(echo "$s / $e" | bc -l)" "$(echo "$s / $t" | bc -l)"
done
echo "(commit-*: commits per second; others: MB/s; medians of $runs runs; $commits commits, $file_mib MiB file)"
