# Shared by every benchmark in bench/: options every script takes, the work area (an ext4
# directory, a tmpfs and sqlitesuperfs mounts on a local PostgreSQL of the run's own), cleanup on
# exit or Ctrl-C, the C helpers, medians, the machine line, the ratio table and the results file.
# Sourced, not executed. A script sets bench_name, describes itself in its first comment block
# (printed by --help), then:
#
#   bench_parse --size=size:int ... -- "$@"   # its own options and the common ones
#   bench_metric NAME UNIT                    # the metrics, in the order of the table
#   bench_start "parameters"                  # checks, work area, helpers, machine line, load
#   targets_up TMPFS_MIB                      # the tmpfs and the mount, as --on asks
#   for_each_run FUNCTION                     # FUNCTION TARGET DIR RUN calls bench_sample
#   bench_report                              # the table; lines appended to the results file
set -euo pipefail
bench_repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
. "$bench_repo/scripts/prereqs.sh"

bench_name="${bench_name:-bench}"
die() { echo "$bench_name: $*" >&2; exit 2; }
say() { echo "$bench_name: $*" >&2; }

# ---------------------------------------------------------------- options

runs=3
db_url="${psql_url:-}"
targets="ext4,tmpfs,mount"
ext4_parent=/var/tmp
results_file="${BENCH_RESULTS:-$bench_repo/bench/results/results.tsv}"
mount_options=()
host_options=()
host_mode=
bench_shift=0

# Prints the comment block at the top of the calling script (its usage), then the common options.
bench_usage() {
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
    cat <<'HELP'
Common options:
  --runs N            runs per target; medians are reported (default 3)
  --on LIST           targets, some of ext4,tmpfs,mount,gocryptfs,sqlcipher, comma-separated
                      (default ext4,tmpfs,mount). The peers a user would pick instead, installed
                      when asked for: gocryptfs, an encrypted FUSE filesystem over a directory of
                      the ext4 area (default options, key from a password file); sqlcipher (SQLite
                      benchmarks only), the same SQLite program built on SQLCipher and keyed,
                      on the ext4 area
  --db URL            mount on this PostgreSQL instead of a local one the script starts and removes
                      (default $psql_url); the namespaces it creates are dropped at the end
  --ext4-dir DIR      where the ext4 directory and the work area go (default /var/tmp)
  --mount-option OPT  one more `sqlitesuperfs mount` option, e.g. --mount-option=--cache-size=64M
                      (repeat for more)
  --results FILE      where results are appended (default bench/results/results.tsv)
  --host              mount through one host process (`sqlitesuperfs serve`, `mount --host`)
                      instead of one process per mount
  --host-option OPT   one more `sqlitesuperfs serve` option, e.g. --host-option=--db-connections=20
Run as root. Prints a table of medians and ratios mount/ext4 and mount/tmpfs with the machine
and the load; appends one tab-separated line per metric to the results file.
HELP
}

# Recognizes one common option at "$1"; sets bench_shift to the number of words it took.
bench_parse_option() {
    case "$1" in
        --runs) need_value "$@"; runs="$2"; bench_shift=2 ;;
        --db) need_value "$@"; db_url="$2"; bench_shift=2 ;;
        --on) need_value "$@"; targets="$2"; bench_shift=2 ;;
        --ext4-dir) need_value "$@"; ext4_parent="$2"; bench_shift=2 ;;
        --results) need_value "$@"; results_file="$2"; bench_shift=2 ;;
        --mount-option) need_value "$@"; mount_options+=("$2"); bench_shift=2 ;;
        --host) host_mode=1; bench_shift=1 ;;
        --host-option) need_value "$@"; host_options+=("$2"); host_mode=1; bench_shift=2 ;;
        -h|--help) bench_usage; exit 0 ;;
        *) return 1 ;;
    esac
}

# bench_parse SPEC... -- "$@": parses a script's own options and the common ones. Each SPEC is
# --option=variable, --option=variable:int (an integer >= 1) or --option=variable:flag (no value;
# sets the variable to 1). Values may follow as the next word or after "=".
bench_parse() {
    local -A spec=()
    while [ "$1" != -- ]; do spec["${1%%=*}"]="${1#*=}"; shift; done
    shift
    local s var kind opt
    while [ $# -gt 0 ]; do
        if [[ "$1" == --*=* ]]; then
            set -- "${1%%=*}" "${1#*=}" "${@:2}"
        fi
        opt="$1"
        s="${spec[$opt]:-}"
        if [ -z "$s" ]; then
            bench_parse_option "$@" || die "unknown option '$1' (try --help)"
            shift "$bench_shift"
            continue
        fi
        var="${s%%:*}"
        kind="${s#"$var"}"
        if [ "$kind" = :flag ]; then
            printf -v "$var" 1
            shift
            continue
        fi
        need_value "$@"
        [ "$kind" != :int ] || need_int "$opt" "$2"
        printf -v "$var" '%s' "$2"
        shift 2
    done
}

# Upper-case journal modes from a comma-separated LIST; dies on one SQLite does not have (or MEMORY
# and OFF, which would not be a durability benchmark).
journal_modes() {
    local m
    for m in ${1//,/ }; do
        case "${m^^}" in DELETE|TRUNCATE|PERSIST|WAL) echo "${m^^}" ;; *) die "unknown journal mode '$m'" ;; esac
    done
}

need_value() {
    [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (try --help)"
}

# need_int NAME VALUE [MIN]: dies unless VALUE is an integer >= MIN (default 1).
need_int() {
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "${3:-1}" ] || die "$1 must be an integer >= ${3:-1}, not '$2'"
}

# Whether target ext4, tmpfs or mount was asked for with --on.
wants() {
    [[ ",$targets," == *",$1,"* ]]
}

# ---------------------------------------------------------------- work area and cleanup

work=
bench_state=
passfile=
ext4_dir=
tmpfs_dir=
gocryptfs_dir=
bench_bin=
declare -A mount_pid=()       # mount point -> pid of its JVM
declare -A mount_ns=()        # mount point -> namespace
declare -A mount_args=()      # mount point -> extra mount arguments
namespaces_created=()
bench_children=()             # background workloads to stop on exit

bench_cleanup() {
    local rc=$? dir pid pgpid
    trap - EXIT INT TERM
    set +e
    for pid in "${bench_children[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    for dir in "${!mount_pid[@]}"; do
        unmount_quietly "$dir" || force_unmount "$dir"
    done
    host_down
    # A mount killed before it released the local PostgreSQL leaves the server running.
    if [ -n "$bench_state" ] && [ -f "$bench_state/pg/data/postmaster.pid" ]; then
        pgpid="$(head -1 "$bench_state/pg/data/postmaster.pid")"
        [ -n "$pgpid" ] && kill -INT "$pgpid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pgpid" 2>/dev/null || break; sleep 0.1; done
    fi
    if [ -n "$db_url" ] && [ ${#namespaces_created[@]} -gt 0 ]; then
        drop_namespaces
    fi
    if [ -n "$gocryptfs_dir" ] && grep -qs " $gocryptfs_dir " /proc/mounts; then
        fusermount3 -u "$gocryptfs_dir" 2>/dev/null || umount -l "$gocryptfs_dir"
    fi
    if [ -n "$tmpfs_dir" ] && grep -qs " $tmpfs_dir tmpfs " /proc/mounts; then
        umount "$tmpfs_dir" || umount -l "$tmpfs_dir"
    fi
    if [ -n "$work" ]; then
        if grep -qs " $work/" /proc/mounts; then
            say "something is still mounted under $work; leaving it in place"
        else
            rm -rf "$work"
        fi
    fi
    [ "$rc" -eq 130 ] && say "interrupted; cleaned up"
    exit "$rc"
}

force_unmount() {
    local dir="$1" pid="${mount_pid[$1]:-}"
    [ -n "$pid" ] && [ "$pid" != host ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if grep -qs " $dir fuse" /proc/mounts; then
        fusermount3 -u -z "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null
    fi
    unset "mount_pid[$dir]"
}

# With --db the namespaces live on someone else's server: drop them if psql can.
drop_namespaces() {
    local url="${db_url#jdbc:}" ns
    if ! command -v psql >/dev/null; then
        say "cannot drop namespaces ${namespaces_created[*]} (no psql); drop them by hand"
        return
    fi
    for ns in "${namespaces_created[@]}"; do
        psql -q "$url" -c "DROP SCHEMA IF EXISTS \"$ns\" CASCADE" >/dev/null 2>&1 ||
            say "could not drop namespace $ns on the --db server; drop it by hand"
    done
}

# ---------------------------------------------------------------- start

# bench_start PARAMS: checks prerequisites, makes the work area, builds the C helpers and the jar,
# records the machine and the load. PARAMS is the line of exact parameters printed and recorded.
bench_start() {
    bench_params="$1"
    [ "$(id -u)" -eq 0 ] || die "run as root (it mounts filesystems and drops the page cache)"
    need_int --runs "$runs"
    local t
    for t in ${targets//,/ }; do
        case "$t" in
            ext4|tmpfs|mount|gocryptfs) ;;
            sqlcipher) [ -n "${bench_sqlite:-}" ] || die "sqlcipher is a target of the SQLite benchmarks (commit, tenants) only" ;;
            *) die "--on takes ext4, tmpfs, mount, gocryptfs and sqlcipher, not '$t'" ;;
        esac
    done
    [ -d "$ext4_parent" ] || die "--ext4-dir $ext4_parent: not a directory"
    ensure_packages build-essential libsqlite3-dev util-linux $(wants gocryptfs && echo gocryptfs) \
        $(wants sqlcipher && echo libsqlcipher-dev) ${bench_packages:-} ||
        die "could not install the packages it needs"
    run_id="${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}"
    load_before="$(cut -d' ' -f1 /proc/loadavg)"
    work="$(mktemp -d "$ext4_parent/sqlitesuperfs-bench-XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    ext4_dir="$work/ext4"
    bench_state="$work/state"
    bench_bin="$work/bin"
    passfile="$work/passphrase"
    mkdir -p "$ext4_dir" "$bench_state" "$bench_bin"
    echo "benchmark passphrase" >"$passfile"
    chmod 600 "$passfile"
    ext4_fstype="$(df --output=fstype "$ext4_dir" | tail -1)"
    [ "$ext4_fstype" = ext4 ] || say "warning: $ext4_parent is $ext4_fstype, not ext4 (choose another with --ext4-dir)"
    build_helpers
    if wants mount; then pin_jar; fi
    machine="$(machine_line)"
    echo "machine: $machine"
    echo "parameters: $bench_params; runs=$runs; on=$targets"
}

# The C helpers in bench/src, compiled for this run (a second or two).
build_helpers() {
    gcc -O2 -Wall -o "$bench_bin/fsbench" "$bench_repo/bench/src/fsbench.c" ||
        die "could not compile bench/src/fsbench.c"
    gcc -O2 -Wall -o "$bench_bin/commitloop" "$bench_repo/bench/src/commitloop.c" -lsqlite3 ||
        die "could not compile bench/src/commitloop.c"
    if wants sqlcipher; then
        gcc -O2 -Wall -DSQLITE_HAS_CODEC -I/usr/include/sqlcipher -o "$bench_bin/commitloop-sqlcipher" \
            "$bench_repo/bench/src/commitloop.c" -lsqlcipher || die "could not compile bench/src/commitloop.c for SQLCipher"
    fi
    # the key of the sqlcipher target's databases (the build on libsqlite3 never reads it)
    export COMMITLOOP_KEY='benchmark key'
}

# Builds the jar if the sources changed (the launcher does) and keeps a copy for the run, so that
# every mount of a run runs the same code even if the sources change meanwhile.
pin_jar() {
    "$bench_repo/sqlitesuperfs" --version >/dev/null || die "could not build or run sqlitesuperfs"
    cp "$bench_repo/target/launch/sqlitesuperfs.jar" "$work/sqlitesuperfs.jar" || die "no jar in target/launch"
    local jdk
    jdk="$(find_jdk25)" || die "no JDK 25"
    # What ./sqlitesuperfs runs, without the build check (mount_fs adds the launcher's heap
    # bound); a command, not a function, so that the pid of a mount started in the background is
    # the JVM's own.
    sqlitesuperfs=("$jdk/bin/java" -XX:+ExitOnOutOfMemoryError -jar "$work/sqlitesuperfs.jar")
}

# A tmpfs of SIZE MiB at $tmpfs_dir.
make_tmpfs() {
    tmpfs_dir="$work/tmpfs"
    mkdir -p "$tmpfs_dir"
    mount -t tmpfs -o "size=${1}m,mode=0755" sqlitesuperfs-bench "$tmpfs_dir" || die "could not mount a tmpfs on $tmpfs_dir"
}

# gocryptfs over a fresh cipher directory in the ext4 area, at $gocryptfs_dir, keyed with the
# run's passphrase file.
make_gocryptfs() {
    local cipher="$work/gocryptfs-cipher"
    gocryptfs_dir="$work/gocryptfs"
    mkdir -p "$cipher" "$gocryptfs_dir"
    gocryptfs -init -q -passfile "$passfile" "$cipher" >/dev/null || die "gocryptfs -init failed"
    gocryptfs -q -allow_other -passfile "$passfile" "$cipher" "$gocryptfs_dir" || die "could not mount gocryptfs on $gocryptfs_dir"
}

# ---------------------------------------------------------------- sqlitesuperfs mounts

# ---------------------------------------------------------------- a host (--host)

host_pid=
host_socket=
host_log=

# Starts `sqlitesuperfs serve` on $work/host.sock with the --host-option options and ARGS, and
# waits until it takes requests; its log is $host_log and its pid $host_pid.
host_up() {
    [ -z "$host_pid" ] || return 0
    host_socket="$work/host.sock"
    host_log="$work/host.log"
    # the heap the launcher gives a host (./sqlitesuperfs serve); BENCH_HOST_JVM_OPTIONS adds JVM
    # options to the host alone, e.g. -XX:StartFlightRecording:filename=/tmp/host.jfr to profile it
    "${sqlitesuperfs[0]}" -XX:MaxRAMPercentage=75 ${BENCH_HOST_JVM_OPTIONS:-} "${sqlitesuperfs[@]:1}" serve --socket "$host_socket" \
        ${host_options[@]+"${host_options[@]}"} "$@" \
        >>"$host_log" 2>&1 </dev/null &
    host_pid=$!
    local deadline=$((SECONDS + 600))
    while [ "$SECONDS" -lt "$deadline" ]; do
        grep -qs "^serving on " "$host_log" && return 0
        kill -0 "$host_pid" 2>/dev/null || { tail -5 "$host_log" >&2; host_pid=; die "the host failed to start; see above"; }
        sleep 0.1
    done
    die "the host did not serve within 600 s; see $host_log"
}

# Stops the host (SIGTERM: it stores and unmounts every namespace) and waits for it.
host_down() {
    [ -n "$host_pid" ] || return 0
    kill -TERM "$host_pid" 2>/dev/null
    wait "$host_pid" 2>/dev/null || say "the host ended with exit code $?; see $host_log"
    host_pid=
}

# The common part of a mount's arguments: passphrase, key strength, database.
mount_base_args() {
    mount_base=(--passphrase-file "$passfile" --kdf interactive)
    if [ -n "$db_url" ]; then mount_base+=(--db "$db_url"); else mount_base+=(--state-dir "$bench_state"); fi
}

# mount_fs DIR [NAMESPACE [MOUNT ARGS...]]: mounts a namespace (fresh unless it exists) on DIR and
# waits until it is ready, looking every $mount_poll seconds (0.1 unless set: a benchmark that
# times the mount sets less). Every mount of a run shares one local PostgreSQL (or the --db server).
# With --host the mount is the host's, asked for with `mount --host` (which returns once it serves).
mount_fs() {
    local dir="$1" ns="${2:-}"
    shift $(( $# >= 2 ? 2 : 1 ))
    [ -n "$ns" ] || ns="bench_$(date +%s)_$$_${#namespaces_created[@]}"
    [[ " ${namespaces_created[*]} " == *" $ns "* ]] || namespaces_created+=("$ns")
    mkdir -p "$dir"
    mount_base_args
    local log="$work/mount-$ns.log" heap
    if [ -n "$host_mode" ]; then
        host_up
        "${sqlitesuperfs[@]}" mount --host --socket "$host_socket" "${mount_base[@]}" \
            ${mount_options[@]+"${mount_options[@]}"} "$@" "$ns" "$dir" >>"$log" 2>&1 </dev/null ||
            { tail -5 "$log" >&2; die "mounting $ns on the host failed; see above"; }
        mount_pid[$dir]=host
        mount_ns[$dir]=$ns
        mount_args[$dir]="$*"
        return 0
    fi
    local args=(mount "${mount_base[@]}" ${mount_options[@]+"${mount_options[@]}"} "$@" "$ns" "$dir")
    # the heap bound the launcher gives a mount (the JVM's default would let it grow to a quarter
    # of the machine's memory)
    heap="$(mount_heap_option "${args[@]}")"
    "${sqlitesuperfs[0]}" $heap "${sqlitesuperfs[@]:1}" "${args[@]}" >>"$log" 2>&1 </dev/null &
    local pid=$!
    mount_pid[$dir]=$pid
    mount_ns[$dir]=$ns
    mount_args[$dir]="$*"
    local deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
        grep -qs " $dir fuse.sqlitesuperfs " /proc/mounts && grep -qs "mounted namespace" "$log" && return 0
        kill -0 "$pid" 2>/dev/null || { unset "mount_pid[$dir]"; tail -5 "$log" >&2; die "mounting $ns failed; see above"; }
        sleep "${mount_poll:-0.1}"
    done
    die "$ns not mounted after 120 s; see $log"
}

# Unmounts DIR; the mount stores everything first. Fails if the mount process failed.
unmount_fs() {
    unmount_quietly "$1" || die "unmounting $1 failed; see $work/mount-${mount_ns[$1]}.log"
}

unmount_quietly() {
    local dir="$1" pid="${mount_pid[$1]}" status=0
    "${sqlitesuperfs[@]}" unmount "$dir" >>"$work/mount-${mount_ns[$dir]}.log" 2>&1 || return 1
    [ "$pid" = host ] || wait "$pid" || status=$?
    unset "mount_pid[$dir]"
    return "$status"
}

remount_fs() {
    local dir="$1" ns="${mount_ns[$1]}" args="${mount_args[$1]}"
    unmount_fs "$dir"
    # shellcheck disable=SC2086 # the stored arguments are words without spaces
    mount_fs "$dir" "$ns" $args
}

# Drops the page cache (only clean pages go; other users' dirty data stays).
drop_page_cache() {
    sync -f "$1" 2>/dev/null || true
    echo 1 >/proc/sys/vm/drop_caches
}

# ---------------------------------------------------------------- machine

machine_line() {
    local cpu mem disk dev pg
    cpu="$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
    mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    dev="$(df --output=source "$ext4_dir" | tail -1)"
    disk="$ext4_fstype on $dev"
    local base
    base="$(lsblk -ndo PKNAME "$dev" 2>/dev/null || true)"
    [ -n "$base" ] || base="$(basename "$dev")"
    disk="$disk ($(lsblk -ndo SIZE,ROTA,MODEL "/dev/$base" 2>/dev/null | awk '{m=$3; for(i=4;i<=NF;i++) m=m" "$i; printf "%s, %s%s", $1, ($2=="1"?"rotational":"non-rotational"), (m==""?"":", "m)}'))"
    if [ -n "$db_url" ]; then
        pg="PostgreSQL $(psql -Atq "${db_url#jdbc:}" -c 'show server_version' 2>/dev/null || echo '(version unknown)') at --db"
    else
        local bin
        bin="$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -1)"
        pg="$([ -n "$bin" ] && "$bin" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /') local (fresh cluster, fsync on)"
    fi
    local commit
    commit="$(git -C "$bench_repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    [ -z "$(git -C "$bench_repo" status --porcelain -- src pom.xml 2>/dev/null)" ] || commit="$commit with uncommitted changes"
    echo "$cpu, $mem RAM, Linux $(uname -r), $disk, $pg, $(date -u +%Y-%m-%dT%H:%MZ), commit $commit"
}

# ---------------------------------------------------------------- metrics and report

metrics=()                    # metric names in report order
declare -A metric_unit=()     # metric -> unit
declare -A metric_group=()    # metric -> table it is printed in (main unless said)
declare -A samples=()         # "metric|target" -> values, one per run, space-separated

# bench_metric NAME UNIT [GROUP]
bench_metric() {
    metrics+=("$1")
    metric_unit[$1]="$2"
    metric_group[$1]="${3:-main}"
}

# bench_sample NAME TARGET VALUE
bench_sample() {
    [ -n "${metric_unit[$1]:-}" ] || die "internal: metric $1 was not declared"
    [[ "$3" =~ ^[0-9.eE+-]+$ ]] || die "$1 on $2: not a number: '$3'"
    samples["$1|$2"]="${samples["$1|$2"]:-}${samples["$1|$2"]:+ }$3"
}

median() {
    tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit 1; if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# The median of a metric on a target, or empty.
median_of() {
    local s="${samples["$1|$2"]:-}"
    [ -n "$s" ] && echo "$s" | median || true
}

fmt() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v;
        if (a >= 1000) printf "%.0f", v; else if (a >= 100) printf "%.1f", v;
        else if (a >= 1) printf "%.2f", v; else printf "%.3g", v }'
}

ratio() {
    [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' || echo "-"
}

# Prints the metrics of GROUP as a table; with "sorted", by mount/ext4 ratio, largest first.
bench_table() {
    local group="$1" order="${2:-}" m e t s p peers=() row
    for p in gocryptfs sqlcipher; do if wants "$p"; then peers+=("$p"); fi; done
    {
        for m in "${metrics[@]}"; do
            [ "${metric_group[$m]}" = "$group" ] || continue
            e="$(median_of "$m" ext4)"; t="$(median_of "$m" tmpfs)"; s="$(median_of "$m" mount)"
            row="$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$m" "${metric_unit[$m]}" "$(fmt "$e")" "$(fmt "$t")" "$(fmt "$s")" \
                "$(ratio "$s" "$e")" "$(ratio "$s" "$t")")"
            for p in ${peers[@]+"${peers[@]}"}; do
                row+="$(printf '\t%s\t%s' "$(fmt "$(median_of "$m" "$p")")" "$(ratio "$s" "$(median_of "$m" "$p")")")"
            done
            printf '%s\n' "$row"
        done | if [ "$order" = sorted ]; then sort -t$'\t' -k6,6gr; else cat; fi
    } | awk -F'\t' -v peers="${peers[*]:-}" '
        function line(f, n,   i) {
            printf "%-44s %-10s %10s %10s %10s %10s %11s", f[1], f[2], f[3], f[4], f[5], f[6], f[7]
            for (i = 8; i <= n; i += 2) printf " %10s %15s", f[i], f[i + 1]
            printf "\n"
        }
        BEGIN {
            split("metric unit ext4 tmpfs mount mount/ext4 mount/tmpfs", h, " ")
            k = split(peers, p, " ")
            for (i = 1; i <= k; i++) { h[6 + 2 * i] = p[i]; h[7 + 2 * i] = "mount/" p[i] }
            line(h, 7 + 2 * k)
        }
        { for (i = 1; i <= NF; i++) f[i] = $i; line(f, NF) }'
}

# Prints the main table with the machine, parameters and load, and appends every metric (medians
# and the single runs) to the results file, one line each.
bench_report() {
    load_after="$(cut -d' ' -f1 /proc/loadavg)"
    echo
    echo "== $bench_name: medians of $runs run(s); $bench_params"
    echo "machine: $machine"
    echo "1-minute load: $load_before before, $load_after after"
    bench_table main
    echo "(ratio = mount value / reference value; for s, ms and us/op lower is better, for rates higher is better)"
    mkdir -p "$(dirname "$results_file")"
    if [ -s "$results_file" ] && ! head -1 "$results_file" | grep -q $'\tmount_gocryptfs'; then
        # files begun before the peer columns: name them in the header too
        sed -i '1s/$/\tgocryptfs\tmount_gocryptfs\tsqlcipher\tmount_sqlcipher/' "$results_file"
    elif [ -s "$results_file" ] && ! head -1 "$results_file" | grep -q $'\tmount_sqlcipher'; then
        sed -i '1s/$/\tsqlcipher\tmount_sqlcipher/' "$results_file"
    fi
    if [ ! -s "$results_file" ]; then
        printf 'run_id\tfinished\tbench\tmetric\tunit\text4\ttmpfs\tmount\tmount_ext4\tmount_tmpfs\truns\tsamples\tparams\tload_before\tload_after\tmachine\tgocryptfs\tmount_gocryptfs\tsqlcipher\tmount_sqlcipher\n' >"$results_file"
    fi
    local m e t s g c all
    for m in "${metrics[@]}"; do
        e="$(median_of "$m" ext4)"; t="$(median_of "$m" tmpfs)"; s="$(median_of "$m" mount)"
        g="$(median_of "$m" gocryptfs)"; c="$(median_of "$m" sqlcipher)"
        [ -n "$e$t$s$g$c" ] || continue
        all="ext4=${samples["$m|ext4"]:-} tmpfs=${samples["$m|tmpfs"]:-} mount=${samples["$m|mount"]:-}"
        if wants gocryptfs; then all+=" gocryptfs=${samples["$m|gocryptfs"]:-}"; fi
        if wants sqlcipher; then all+=" sqlcipher=${samples["$m|sqlcipher"]:-}"; fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run_id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "$bench_name" "$m" "${metric_unit[$m]}" "$e" "$t" "$s" "$(ratio "$s" "$e")" "$(ratio "$s" "$t")" "$runs" \
            "${all//  / }" "$bench_params" "$load_before" "$load_after" "$machine" "$g" "$(ratio "$s" "$g")" \
            "$c" "$(ratio "$s" "$c")" >>"$results_file"
    done
    echo "results appended to $results_file (run $run_id)"
}

# ---------------------------------------------------------------- timing

now_ns() { date +%s%N; }

# per_second COUNT START_NS END_NS
per_second() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", n * 1e9 / (b - a) }'
}

# ---------------------------------------------------------------- targets

# targets_up TMPFS_MIB [MOUNT ARGS...]: a tmpfs of that size and a fresh namespace mounted at
# $work/mnt, as far as --on asks for them.
targets_up() {
    local tmpfs_mib="$1"
    shift
    if wants tmpfs; then make_tmpfs "$tmpfs_mib"; fi
    if wants gocryptfs; then make_gocryptfs; fi
    if wants mount; then mount_fs "$work/mnt" "" "$@"; fi
}

# The directory each target uses.
target_dir() {
    case "$1" in
        ext4) echo "$ext4_dir" ;;
        tmpfs) echo "$tmpfs_dir" ;;
        gocryptfs) echo "$gocryptfs_dir" ;;
        sqlcipher) mkdir -p "$ext4_dir/sqlcipher" && echo "$ext4_dir/sqlcipher" ;;
        mount) echo "$work/mnt" ;;
    esac
}

# The commit loop program for TARGET: the SQLCipher build for sqlcipher, else the libsqlite3 one.
commitloop_for() {
    if [ "$1" = sqlcipher ]; then echo "$bench_bin/commitloop-sqlcipher"; else echo "$bench_bin/commitloop"; fi
}

# for_each_run FUNCTION: calls FUNCTION TARGET DIR RUN for every run and every target asked for,
# the targets taking turns within a run, so that a change in the machine's load touches all alike.
for_each_run() {
    local r t
    for r in $(seq "$runs"); do
        for t in ext4 tmpfs gocryptfs sqlcipher mount; do
            wants "$t" || continue
            say "run $r/$runs on $t"
            "$1" "$t" "$(target_dir "$t")" "$r"
        done
    done
}

# value KEY OUTPUT: the value of a key=value line of a helper's output (dies if it is missing).
value() {
    local v
    v="$(sed -n "s/^$1=//p" <<<"$2" | tail -1)"
    [ -n "$v" ] || die "no $1 in the output: $2"
    echo "$v"
}
