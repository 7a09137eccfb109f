#!/usr/bin/env bash
# Fleet: namespaces spread over several PostgreSQL servers, and moved between them. Each run makes
# three clusters on loopback ports (initdb) named s1 to s3 in a fleet file, then:
#   1. `ns create --fleet` of --namespaces new namespaces (two at a time): how many each server
#      got (spread = most / fewest), and namespaces created per minute;
#   2. one namespace with --data-mib of random data written through a mount (`mount --fleet`),
#      moved with `ns move` (copy, check with the key, switch over, free): MB/s of the whole move,
#      against pg_dump -Fc of its schema piped into pg_restore on the third server, which copies
#      the same rows and checks nothing (what an operator would do by hand);
#   3. --moves of the small namespaces of step 1 moved one after the other: namespaces per minute.
# Mount only: the other targets have no servers.
#
#   bench/fleet.sh [--namespaces N] [--data-mib M] [--moves K] [common options]
#
#   --namespaces N  namespaces created in step 1 (default 300)
#   --data-mib M    data of the namespace moved in step 2 (default 256)
#   --moves K       small namespaces moved in step 3 (default 30)
bench_name=fleet
. "$(dirname "$(readlink -f "$0")")/lib.sh"

namespaces=300
data_mib=256
moves=30
runs=1
targets=mount
bench_parse --namespaces=namespaces:int --data-mib=data_mib:int --moves=moves:int -- "$@"
[ "$targets" = mount ] || die "the fleet benchmark runs on the mount only (--on mount)"
[ -z "$db_url" ] || die "the fleet benchmark makes its own PostgreSQL servers; --db does not apply"
[ "$moves" -le "$namespaces" ] || die "--moves $moves: more than the $namespaces namespaces created"
bench_metric "ns create" namespaces/min
bench_metric "spread over 3 servers (most / fewest)" ratio
bench_metric "ns move of ${data_mib} MiB (copy, check, switch)" MB/s
bench_metric "pg_dump | pg_restore of the same schema" MB/s
bench_metric "ns move, small namespaces" namespaces/min

pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[ -x "$pgbin/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
bench_start "namespaces=$namespaces data=${data_mib}MiB moves=$moves; 3 clusters on loopback, one disk"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { runuser -u postgres -- "$@"; }
servers_up=()

fleet_down() {
    local d
    for d in ${servers_up[@]+"${servers_up[@]}"}; do
        as_pg "$pgbin/pg_ctl" -D "$d" -w -s -m immediate stop 2>/dev/null || true
    done
    servers_up=()
}
trap 'rc=$?; fleet_down; (exit $rc); bench_cleanup' EXIT

# fleet_up DIR: three clusters and DIR/fleet naming them; sets port[1..3].
declare -A port=()
fleet_up() {
    local d="$1" i
    chmod o+x "$work"
    mkdir -p "$d" && chown postgres: "$d" && chmod 700 "$d"
    : >"$d/fleet"
    for i in 1 2 3; do
        port[$i]="$(free_port)"
        as_pg "$pgbin/initdb" -D "$d/s$i" -U bench --auth=trust -E UTF8 --locale=C >/dev/null || die "initdb failed"
        printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "${port[$i]}" "$d" \
            >>"$d/s$i/postgresql.conf"
        as_pg "$pgbin/pg_ctl" -D "$d/s$i" -l "$d/s$i.log" -w -s start || die "server s$i did not start"
        servers_up+=("$d/s$i")
        echo "s$i postgresql://bench@127.0.0.1:${port[$i]}/postgres" >>"$d/fleet"
    done
}

ns_cmd() { "${sqlitesuperfs[@]}" ns --fleet "$fleet_file" --state-dir "$bench_state" "$@"; }

one_run() {
    local d="$work/fleet$3" t0 t1 counts most fewest big server to bytes
    fleet_up "$d"
    fleet_file="$d/fleet"
    export fleet_file passfile
    export sqlitesuperfs_cmd="${sqlitesuperfs[*]}"

    # 1. creation and spread
    t0="$(now_ns)"
    seq "$namespaces" | xargs -P 2 -I{} sh -c '$sqlitesuperfs_cmd ns --fleet "$fleet_file" create --kdf interactive \
        --passphrase-file "$passfile" "small_$0_{}" >/dev/null 2>>"$1"' "$3" "$d/create.log" ||
        { tail -5 "$d/create.log" >&2; die "ns create failed"; }
    t1="$(now_ns)"
    bench_sample "ns create" mount "$(awk -v n="$namespaces" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n * 60e9 / (b - a) }')"
    counts="$(ns_cmd list --json | python3 -c '
import json, sys, collections
c = collections.Counter(n["server"] for n in json.load(sys.stdin)["namespaces"])
print(" ".join(str(c[s]) for s in ("s1", "s2", "s3")))')"
    say "namespaces per server (s1 s2 s3): $counts"
    most="$(tr ' ' '\n' <<<"$counts" | sort -n | tail -1)"
    fewest="$(tr ' ' '\n' <<<"$counts" | sort -n | head -1)"
    bench_sample "spread over 3 servers (most / fewest)" mount "$(ratio "$most" "$fewest")"

    # 2. one big namespace: written through a mount, moved, and dumped and restored for comparison
    big="big_$3"
    mount_fs "$work/mnt-fleet$3" "$big" --fleet "$fleet_file"
    head -c "$((data_mib << 20))" /dev/urandom >"$work/mnt-fleet$3/data"
    sync -f "$work/mnt-fleet$3/data"
    unmount_fs "$work/mnt-fleet$3"
    namespaces_created=()
    server="$(ns_cmd list --json | python3 -c '
import json, sys
print(next(n["server"] for n in json.load(sys.stdin)["namespaces"] if n["name"] == sys.argv[1]))' "$big")"
    to="s$(( ${server#s} % 3 + 1 ))"
    local other="s$(( ${to#s} % 3 + 1 ))"
    t0="$(now_ns)"
    "$pgbin/pg_dump" -h 127.0.0.1 -p "${port[${server#s}]}" -U bench -Fc -n "$big" postgres |
        "$pgbin/pg_restore" -h 127.0.0.1 -p "${port[${other#s}]}" -U bench -d postgres || die "pg_dump | pg_restore failed"
    t1="$(now_ns)"
    psql -q -h 127.0.0.1 -p "${port[${other#s}]}" -U bench -d postgres -c "SET client_min_messages = warning" \
        -c "DROP SCHEMA \"$big\" CASCADE" >/dev/null
    bench_sample "pg_dump | pg_restore of the same schema" mount "$(awk -v m="$data_mib" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.1f", m * 1048576 / 1e6 * 1e9 / (b - a) }')"
    t0="$(now_ns)"
    ns_cmd move --to "$to" --passphrase-file "$passfile" "$big" >"$d/move.out" || die "ns move failed: $(cat "$d/move.out")"
    t1="$(now_ns)"
    say "$(grep copied "$d/move.out")"
    bench_sample "ns move of ${data_mib} MiB (copy, check, switch)" mount "$(awk -v m="$data_mib" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.1f", m * 1048576 / 1e6 * 1e9 / (b - a) }')"

    # 3. small namespaces, one after the other, each to the next server
    local names
    names="$(ns_cmd list --json | python3 -c '
import json, sys
for n in [n for n in json.load(sys.stdin)["namespaces"] if n["name"].startswith("small_")][:int(sys.argv[1])]:
    print(n["name"], "s%d" % (int(n["server"][1:]) % 3 + 1))' "$moves")"
    t0="$(now_ns)"
    while read -r name to; do
        ns_cmd move --to "$to" --passphrase-file "$passfile" "$name" >/dev/null || die "ns move of $name failed"
    done <<<"$names"
    t1="$(now_ns)"
    bench_sample "ns move, small namespaces" mount "$(awk -v n="$moves" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.1f", n * 60e9 / (b - a) }')"
    fleet_down
}
for_each_run one_run
bench_report
