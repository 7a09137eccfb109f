#!/usr/bin/env bash
# Runs SQLite's own TCL test suite (3.40.1, Debian 12's source package, pristine upstream tarball)
# with every test database on a fresh sqlitesuperfs mount, or on local disk or tmpfs to compare.
#
#   conformance/sqlite-suite.sh [MODE] [--sync|--stock] [--on mount|disk|tmpfs|DIR] [--keep]
#
#   MODE       veryquick  test/veryquick.test, the TCL part of `make test` (default)
#              ci         a subset of journal, pager, WAL, mmap, locking, crash, I/O-error, sync,
#                         fallocate, vacuum and backup test files (conformance/ci-tests.txt)
#              full       the source tree copied into the target, configured, built there, and
#                         `make test` run there
#   --sync     use the testfixture built without SQLITE_NO_SYNC, so fsyncs reach the filesystem
#              (default for ci); --stock selects the stock one (default for veryquick and full)
#   --on       where the test files go: mount (default), tmpfs, disk (a directory in the cache,
#              on whatever filesystem holds it) or an existing directory
#   --keep     keep the run's namespace (state directory) and test files after the run
#
# Run as root. Downloads and builds are cached in $SQLITESUPERFS_CONFORMANCE_CACHE
# (default /var/cache/sqlitesuperfs-conformance); results are appended to results.tsv there.
# Exit status: 0 when the suite reported 0 errors, 1 on test errors, 2 when it could not run.
set -euo pipefail
umask 022
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
here="$repo/conformance"
. "$repo/scripts/prereqs.sh"
. "$repo/scripts/sqlite-source.sh"

cache="$sqlite_cache"
test_user=sqlitesuperfs-test
ci_file_timeout=900
ci_list="${SQLITESUPERFS_CONFORMANCE_CI_TESTS:-$here/ci-tests.txt}"

die() { echo "sqlite-suite: $*" >&2; exit 2; }
say() { echo "sqlite-suite: $*" >&2; }

mode=veryquick
fixture=
target=mount
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        veryquick|ci|full) mode="$1" ;;
        --sync) fixture=sync ;;
        --stock) fixture=stock ;;
        --on) [ $# -ge 2 ] || die "--on needs mount, disk, tmpfs or a directory"; target="$2"; shift ;;
        --on=*) target="${1#--on=}" ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
[ -n "$fixture" ] || { [ "$mode" = ci ] && fixture=sync || fixture=stock; }
[ "$(id -u)" -eq 0 ] || die "run as root (it mounts filesystems and creates a test user)"
case "$target" in
    mount|tmpfs|disk) ;;
    *) [ -d "$target" ] || die "--on $target: not a directory"; target="$(cd "$target" && pwd)" ;;
esac

# ---------------------------------------------------------------- source and testfixtures

# Two testfixtures from one configured build: the stock one (linked with -DSQLITE_NO_SYNC=1, so no
# fsync reaches the filesystem) and testfixture-sync, linked by the same rule without that flag.
build_testfixtures() {
    configure_sqlite_build
    build="$sqlite_build"
    if [ ! -x "$build/testfixture" ]; then
        say "building testfixture (a few minutes) ..."
        make -C "$build" -j"$(nproc)" testfixture >"$build/make.log" 2>&1 ||
            die "building testfixture failed; see $build/make.log"
    fi
    if [ ! -x "$build/testfixture-sync" ]; then
        grep -q -- '-DSQLITE_NO_SYNC=1' "$build/Makefile" || die "the Makefile no longer sets SQLITE_NO_SYNC"
        sed -e 's/-DSQLITE_NO_SYNC=1//' -e 's/^testfixture\$(TEXE):/testfixture-sync$(TEXE):/' \
            "$build/Makefile" >"$build/Makefile.sync"
        say "building testfixture-sync ..."
        make -C "$build" -f Makefile.sync testfixture-sync >"$build/make-sync.log" 2>&1 ||
            die "building testfixture-sync failed; see $build/make-sync.log"
    fi
}

# The suite must not run as root: tests such as wal2-13 make files unreadable with chmod and expect
# opening them to fail, which root's permission override defeats. So it runs as a system user that
# can read the cache but owns nothing else.
ensure_test_user() {
    id "$test_user" >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$test_user" ||
        die "could not create user $test_user"
    test_uid="$(id -u "$test_user")"
    test_gid="$(id -g "$test_user")"
}

# ---------------------------------------------------------------- target and cleanup

mount_pid=
mount_dir=
tmpfs_dir=
state_dir=
namespace=
suite_pgid=
run_dir=
work=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$suite_pgid" ] && kill -0 "$suite_pgid" 2>/dev/null; then
        kill -TERM -- "-$suite_pgid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$suite_pgid" 2>/dev/null || true
    fi
    if [ -n "$mount_pid" ]; then
        if kill -0 "$mount_pid" 2>/dev/null; then
            "$repo/sqlitesuperfs" unmount "$mount_dir" >/dev/null 2>&1 || kill -TERM "$mount_pid" 2>/dev/null || true
            wait "$mount_pid" 2>/dev/null || true
        fi
        if grep -qs " $mount_dir fuse" /proc/mounts; then
            fusermount3 -u -z "$mount_dir" 2>/dev/null || umount -l "$mount_dir" 2>/dev/null || true
        fi
    fi
    if [ -n "$tmpfs_dir" ] && grep -qs " $tmpfs_dir tmpfs" /proc/mounts; then
        umount "$tmpfs_dir" || umount -l "$tmpfs_dir" || true
    fi
    if [ "$keep" -eq 0 ]; then
        if [ -n "$state_dir" ]; then
            rm -rf "$state_dir"
        fi
        if [ -n "$work" ] && [ "$target" != mount ] && [ "$target" != tmpfs ]; then
            rm -rf "$work"
            [ "$target" = disk ] && rm -rf "$run_dir/disk"
        fi
    elif [ -n "$state_dir" ]; then
        say "kept namespace $namespace in $state_dir"
    fi
    [ "$rc" -eq 130 ] && say "interrupted; cleaned up"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_mount() {
    namespace="suite_$(date +%Y%m%d_%H%M%S)_$$"
    state_dir="$run_dir/state"
    mount_dir="$run_dir/mnt"
    mkdir -p "$state_dir" "$mount_dir"
    say "mounting namespace $namespace on $mount_dir ..."
    encryption_pass="sqlite-suite" "$repo/sqlitesuperfs" mount --state-dir "$state_dir" --kdf interactive \
        --uid "$test_uid" --gid "$test_gid" --allow-other "$namespace" "$mount_dir" \
        >"$run_dir/mount.log" 2>&1 &
    mount_pid=$!
    local waited=0
    until grep -qs " $mount_dir fuse.sqlitesuperfs " /proc/mounts; do
        kill -0 "$mount_pid" 2>/dev/null || { mount_pid=; die "mount failed; see $run_dir/mount.log"; }
        [ "$waited" -lt 600 ] || die "not mounted after 300 s; see $run_dir/mount.log"
        sleep 0.5
        waited=$((waited + 1))
    done
}

# Unmounts (the mount stores everything first) and checks the namespace with fsck: the suite
# must leave it consistent.
finish_mount() {
    "$repo/sqlitesuperfs" unmount "$mount_dir" >>"$run_dir/mount.log" 2>&1 || die "unmount failed; see $run_dir/mount.log"
    wait "$mount_pid" || die "the mount process exited with $?; see $run_dir/mount.log"
    mount_pid=
    "$repo/sqlitesuperfs" fsck --state-dir "$state_dir" "$namespace" >"$run_dir/fsck.log" 2>&1 ||
        { fsck_failed=1; say "fsck of $namespace found problems; see $run_dir/fsck.log"; }
}

prepare_target() {
    case "$target" in
        mount)
            start_mount
            work="$mount_dir/$mode"
            ;;
        tmpfs)
            tmpfs_dir="$run_dir/tmpfs"
            mkdir -p "$tmpfs_dir"
            mount -t tmpfs -o size=4g,mode=0755 sqlite-suite "$tmpfs_dir" || die "could not mount tmpfs on $tmpfs_dir"
            work="$tmpfs_dir/$mode"
            ;;
        disk)
            work="$run_dir/disk/$mode"
            ;;
        *)
            work="$target/sqlite-suite-$mode-$$"
            ;;
    esac
    if [ "$target" = mount ]; then
        as_test_user mkdir -p "$work" || die "user $test_user cannot create $work in the mount"
    else
        mkdir -p "$work" && chown "$test_uid:$test_gid" "$work" || die "could not create $work"
    fi
}

as_test_user() {
    setpriv --reuid="$test_uid" --regid="$test_gid" --init-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" LANG=C.UTF-8 "$@"
}

# Runs a command as the test user in a session of its own, so that an interruption can end it
# and everything it started by one process-group id. Output goes to the given log.
run_suite_process() {
    local log="$1"
    shift
    setsid setpriv --reuid="$test_uid" --regid="$test_gid" --init-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" LANG=C.UTF-8 "$@" >"$log" 2>&1 </dev/null &
    suite_pgid=$!
    local status=0
    wait "$suite_pgid" || status=$?
    suite_pgid=
    return "$status"
}

# ---------------------------------------------------------------- modes

# Adds the summary of one testfixture log to the totals; a log without a summary line (the
# process crashed or timed out) counts as one error.
total_errors=0
total_tests=0
failed_tests=()
tally() {
    local log="$1" name="$2" summary errors tests
    summary="$(grep -E '^[0-9]+ errors out of [0-9]+ tests' "$log" | tail -1 || true)"
    if [ -z "$summary" ]; then
        total_errors=$((total_errors + 1))
        failed_tests+=("$name(no-summary)")
        return
    fi
    errors="$(echo "$summary" | awk '{print $1}')"
    tests="$(echo "$summary" | awk '{print $5}')"
    total_errors=$((total_errors + errors))
    total_tests=$((total_tests + tests))
    if [ "$errors" -gt 0 ]; then
        local line
        line="$(grep -E '^!Failures on these tests:' "$log" | tail -1 | sed 's/^!Failures on these tests: *//')"
        failed_tests+=(${line:-"$name"})
    fi
}

fixture_binary() {
    [ "$fixture" = sync ] && echo "$build/testfixture-sync" || echo "$build/testfixture"
}

run_veryquick() {
    local log="$run_dir/veryquick.log"
    run_suite_process "$log" "$(fixture_binary)" "$src/test/veryquick.test" --testdir="$work" || true
    tally "$log" veryquick
}

run_ci() {
    local file name log
    mkdir -p "$run_dir/ci"
    while read -r file; do
        file="${file%%#*}"
        file="$(echo "$file" | tr -d '[:space:]')"
        [ -n "$file" ] || continue
        [ -f "$src/test/$file" ] || die "$ci_list names $file, which $sqlite_version does not have"
        name="${file%.test}"
        log="$run_dir/ci/$name.log"
        local started=$SECONDS
        # Through permutations.test, as veryquick runs each file: run directly, some files (wal2)
        # trip over globals that tester.tcl's argument parsing leaves behind.
        run_suite_process "$log" timeout -s KILL "$ci_file_timeout" "$(fixture_binary)" \
            "$src/test/permutations.test" default "$file" --testdir="$work/$name" || true
        if ! grep -q "^Time: $file " "$log"; then
            total_errors=$((total_errors + 1))
            failed_tests+=("$name(did-not-run)")
        fi
        tally "$log" "$name"
        printf '%s\t%s\n' "$name" "$((SECONDS - started))" >>"$run_dir/ci/seconds.tsv"
    done <"$ci_list"
}

# The original project's claim: the whole tree copied into the filesystem, configured and
# built there, and `make test` run there.
run_full() {
    local tree="$work/sqlite3-$sqlite_version" log="$run_dir/full.log"
    as_test_user cp -r "$src" "$tree" || die "could not copy the source tree into $work"
    as_test_user mkdir -p "$work/build"
    run_suite_process "$log" bash -c '
        set -e
        cd "$1/build"
        "$2/configure"
        if [ "$3" = sync ]; then
            sed -i "s/-DSQLITE_NO_SYNC=1//" Makefile
        fi
        make -j"$(nproc)" testfixture sqlite3
        make test' full "$work" "$tree" "$fixture" || full_make_failed=1
    tally "$log" full
    if [ "${full_make_failed:-0}" -eq 1 ] && [ "$total_errors" -eq 0 ]; then
        total_errors=1
        failed_tests+=("make-test(exit-status)")
    fi
}

# ---------------------------------------------------------------- main

# One function, called on the last line, so that bash has read the whole file before it runs any
# of it: editing the script during a long run cannot change what that run does.
main() {

    ensure_packages tcl-dev build-essential xz-utils fuse3 util-linux
    fetch_sqlite_source
    src="$sqlite_src"
    build_testfixtures
    ensure_test_user
    run_dir="$cache/runs/$(date +%Y%m%d-%H%M%S)-$mode-$$"
    mkdir -p "$run_dir"
    chmod 755 "$run_dir"
    work=
    fsck_failed=0
    prepare_target
    target_name="$target"
    if [ "$target" = disk ]; then
        target_name="disk:$(df --output=fstype "$run_dir" | tail -1)"
    elif [ "$target" != mount ] && [ "$target" != tmpfs ]; then
        target_name="dir:$target:$(df --output=fstype "$target" | tail -1)"
    fi
    say "running $mode with testfixture $fixture on $target_name; logs in $run_dir"
    started=$SECONDS
    "run_$mode"
    seconds=$((SECONDS - started))
    if [ "$target" = mount ]; then
        finish_mount
    fi
    if [ "$fsck_failed" -eq 1 ]; then
        total_errors=$((total_errors + 1))
        failed_tests+=("fsck")
    fi

    commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    results="$cache/results.tsv"
    [ -f "$results" ] || printf 'finished\tmode\ttarget\ttestfixture\terrors\ttests\tseconds\tcommit\tload1\tlogs\ttotal_seconds\n' >"$results"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$mode" "$target_name" \
        "$fixture" "$total_errors" "$total_tests" "$seconds" "$commit" "$(cut -d' ' -f1 /proc/loadavg)" "$run_dir" \
        "$SECONDS" >>"$results"
    # seconds: the suite alone; total: the whole script, with build check, mount, unmount and fsck
    echo "sqlite-suite: mode=$mode target=$target_name testfixture=$fixture errors=$total_errors tests=$total_tests seconds=$seconds total=$SECONDS"
    if [ "$total_errors" -gt 0 ]; then
        echo "sqlite-suite: failing tests: ${failed_tests[*]}"
        exit 1
    fi
}

main; exit $?
