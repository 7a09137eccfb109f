#!/usr/bin/env bash
# Many namespaces on one server: what `sqlitesuperfs ns list` and a mount cost when the database
# holds N namespaces. Setup: one namespace is mounted (to be listed as mounted), one made with
# `ns create`, the others are copies of its schema made with pg_dump and psql (minutes instead of
# hours of key derivation; a listing reads only the catalog and PostgreSQL's own views, never a
# key). The copies have no catalog row, as namespaces made before the catalog existed.
# Measured, each from the command's start to its end (JVM start included), as medians of --runs:
#   - JVM start (--version): the floor every command pays, to subtract from the others;
#   - the first `ns list`, which registers the N - 2 uncatalogued copies (once, not repeated);
#   - `ns list` and `ns list --json` with all N catalogued;
#   - a mount of one of the N namespaces, from the command's start until it prints that it is
#     mounted: JVM start, connection, lock, meta row, key derivation (the `interactive` cost, a
#     good part of the figure), root inode, kernel mount; then it is unmounted (not timed).
#
#   bench/nslist.sh [--namespaces N] [common options]
#
#   --namespaces N   namespaces in the database (default 10000)
# Only the mount target applies (--on is ignored). With --db, the copies are dropped at the end.
bench_name=nslist
. "$(dirname "$(readlink -f "$0")")/lib.sh"

namespaces=10000
bench_parse --namespaces=namespaces:int -- "$@"
need_int --namespaces "$namespaces" 3
targets=mount
bench_metric "JVM start (--version)" s
bench_metric "first ns list, registering $((namespaces - 2)) uncatalogued" s
bench_metric "ns list, $namespaces namespaces" s
bench_metric "ns list --json, $namespaces namespaces" s
bench_metric "mount of one of $namespaces namespaces" s

bench_packages=postgresql-client
bench_start "namespaces=$namespaces"
command -v pg_dump >/dev/null && command -v psql >/dev/null || die "needs pg_dump and psql (postgresql-client)"

# One namespace stays mounted, to be listed as mounted; its mount also starts the local PostgreSQL.
prefix="nslist_$(date +%s)_$$"
mount_fs "$work/holder" "${prefix}_held"
url="$db_url"
if [ -z "$url" ]; then
    port="$(sed -n 4p "$bench_state/pg/data/postmaster.pid")"
    url="postgresql://sqlitesuperfs:$(cat "$bench_state/pg/password")@127.0.0.1:$port/postgres"
    # The local server stops when its last client named sqlitesuperfs* goes: this one keeps it up
    # for the whole run, whatever happens to the mount.
    PGAPPNAME=sqlitesuperfs-bench-holder psql -q "$url" -c "SELECT pg_sleep(86400)" >/dev/null 2>&1 &
    bench_children+=($!)
fi
url="${url#jdbc:}"
# the URL through the environment: in --db it would be visible to every user in ps
ns() { psql_url="$url" "${sqlitesuperfs[@]}" ns "$@"; }

template="${prefix}_00000"
say "creating $template with ns create, then $((namespaces - 2)) copies of it ..."
ns create --passphrase-file "$passfile" --kdf interactive "$template" >/dev/null 2>"$work/create.log" ||
    { cat "$work/create.log" >&2; die "ns create failed"; }
pg_dump --no-owner --no-privileges -n "$template" "$url" >"$work/template.sql" || die "pg_dump failed"
copies_start="$(now_ns)"
# 20 copies a transaction (about 25 locks each, well within the lock table), commits not waiting
# for the disk: this is setup, not what is measured.
for i in $(seq 1 $((namespaces - 2))); do
    [ $((i % 20)) -ne 1 ] || echo "BEGIN;"
    sed "s/$template/$(printf '%s_%05d' "$prefix" "$i")/g" "$work/template.sql"
    [ $((i % 20)) -ne 0 ] || echo "COMMIT;"
done | { cat; echo "COMMIT;"; } | PGOPTIONS="-c synchronous_commit=off" psql -q -v ON_ERROR_STOP=1 "$url" \
    >/dev/null 2>"$work/copies.log" ||
    { tail -5 "$work/copies.log" >&2; die "copying the template failed"; }
say "copies made in $(awk -v a="$copies_start" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }') s"
psql -q "$url" -c "VACUUM ANALYZE" >/dev/null 2>&1 || true
echo "server relations: $(psql -Atq "$url" -c "SELECT count(*) FROM pg_class")"

# time_ns COMMAND...: runs it with output to $work/out, prints the seconds it took.
time_ns() {
    local start end
    start="$(now_ns)"
    "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; die "failed: $*"; }
    end="$(now_ns)"
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

listed() {
    local n
    n="$(grep -c "^${prefix}_" "$work/out" || true)"
    [ "$n" -eq "$namespaces" ] || die "ns list showed $n of our $namespaces namespaces"
}

first="$(time_ns ns list)"
listed
bench_sample "first ns list, registering $((namespaces - 2)) uncatalogued" mount "$first"
# Held by a standalone mount's lock session, or (with --host) by the host's.
[ "$(grep -cE "^${prefix}_held .*sqlitesuperfs:(${prefix}_held:lock|host:locks)" "$work/out")" -eq 1 ] ||
    die "the held namespace is not shown as mounted"

one_run() {
    bench_sample "JVM start (--version)" mount "$(time_ns "${sqlitesuperfs[@]}" --version)"
    bench_sample "ns list, $namespaces namespaces" mount "$(time_ns ns list)"
    listed
    bench_sample "ns list --json, $namespaces namespaces" mount "$(time_ns ns list --json)"
    [ "$(grep -o "\"name\":\"${prefix}_" "$work/out" | wc -l)" -eq "$namespaces" ] ||
        die "ns list --json did not show our $namespaces namespaces"
}
for_each_run one_run

# Mounting one of the N namespaces, timed until it is ready (see the header).
mount_once() {
    local start
    start="$(now_ns)"
    mount_poll=0.005 mount_fs "$work/timed" "$template"
    bench_sample "mount of one of $namespaces namespaces" mount \
        "$(awk -v a="$start" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
    unmount_fs "$work/timed"
}
for _ in $(seq "$runs"); do mount_once; done

if [ -n "$db_url" ]; then
    say "dropping the copies on the --db server ..."
    psql -q "$url" -v ON_ERROR_STOP=1 >/dev/null <<SQL || say "could not drop every ${prefix}_ schema; drop them by hand"
DO \$\$
DECLARE s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE '${prefix}\_%' AND nspname <> '${prefix}_held' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
    DELETE FROM sqlitesuperfs.namespaces WHERE name = s;
    COMMIT; -- one schema at a time: ten thousand in one transaction would exhaust the lock table
  END LOOP;
END \$\$;
SQL
fi
bench_report
