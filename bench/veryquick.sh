#!/usr/bin/env bash
# Wall time of SQLite's veryquick suite (conformance/sqlite-suite.sh veryquick: the stock
# testfixture, 3.40.1) with its test files on a sqlitesuperfs mount, on ext4 and on tmpfs: the
# suite's seconds and the ratios. One run takes several minutes per target (about 100 s on ext4
# and several times that on the mount on an idle 2-core machine).
#
#   bench/veryquick.sh [--sync] [common options; default --runs 1]
#
#   --sync          use the testfixture without SQLITE_NO_SYNC, so fsyncs reach the filesystem
#
# The mount is made by sqlite-suite.sh itself, on a local PostgreSQL of its own, and checked with
# fsck afterwards; so --db and --mount-option do not apply. A run with test errors is reported and
# counted, and the script then exits 1.
bench_name=veryquick
. "$(dirname "$(readlink -f "$0")")/lib.sh"

runs=1
sync=0
bench_parse --sync=sync:flag -- "$@"
fixture=--stock
[ "$sync" -eq 0 ] || fixture=--sync
[ "$db_url" = "${psql_url:-}" ] || die "--db does not apply: sqlite-suite.sh mounts on a local PostgreSQL of its own"
[ ${#mount_options[@]} -eq 0 ] || die "--mount-option does not apply: sqlite-suite.sh makes the mount"
bench_metric "veryquick suite" s
bench_metric "veryquick errors" errors

bench_start "conformance/sqlite-suite.sh veryquick $fixture"
# The suite runs as an unprivileged user, which must reach the ext4 directory.
chmod 755 "$work" "$ext4_dir"

errors_seen=0
one_run() {
    local target="$1" dir="$2" on line
    case "$target" in ext4|gocryptfs) on="$dir" ;; *) on="$target" ;; esac
    line="$("$bench_repo/conformance/sqlite-suite.sh" veryquick "$fixture" --on "$on" | tail -1)" || true
    [[ "$line" == "sqlite-suite: mode=veryquick"* ]] || die "sqlite-suite.sh on $target did not finish: $line"
    bench_sample "veryquick suite" "$target" "$(sed -n 's/.* seconds=\([0-9]*\).*/\1/p' <<<"$line")"
    local errors
    errors="$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")"
    bench_sample "veryquick errors" "$target" "$errors"
    [ "$errors" -eq 0 ] || { errors_seen=1; say "veryquick on $target: $errors errors (see the suite's logs)"; }
}
for_each_run one_run
bench_report
exit "$errors_seen"
