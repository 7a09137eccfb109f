# Shared by ./sqlitesuperfs and ./run-tests: find a JDK 25 and make sure the Debian packages the
# program needs are installed. Sourced, not executed.

# Prints the JAVA_HOME of a JDK 25 or newer: $JAVA_HOME if it is one, else the newest under
# /usr/lib/jvm. Fails with a message saying how to get one.
find_jdk25() {
    local candidate version
    for candidate in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/* 2>/dev/null | sort -rV); do
        [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -f "$candidate/release" ] || continue
        version=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$candidate/release")
        if [ -n "$version" ] && [ "$version" -ge 25 ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "sqlitesuperfs: needs a JDK 25 or newer (set JAVA_HOME, or install one under /usr/lib/jvm," \
         "for example Temurin 25 from https://adoptium.net)" >&2
    return 1
}

# Installs the given Debian packages when missing: with apt-get as root, otherwise prints the
# exact command and fails.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "sqlitesuperfs: missing packages; install them with: sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "sqlitesuperfs: installing ${missing[*]} ..." >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || {
            echo "sqlitesuperfs: could not install ${missing[*]} with apt-get" >&2
            return 1
        }
    fi
}

# The packages the program needs at run time. PostgreSQL is needed only for the local default
# database, but it is what a fresh machine needs for the quick start.
runtime_packages() {
    echo fuse3 libsodium23
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || echo postgresql
}

maven_env() {
    export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
}

# The Java heap holds the block cache, written data not yet stored, and a sealed copy of what is
# being stored; without a bound the JVM grows it to a quarter of the machine's memory under a long
# write. So a mount gets cache + 2 x write buffer + 192 MiB of heap (the defaults: 576 MiB).
# mount_heap_option MOUNT-ARGUMENTS...: prints the -Xmx option for them (nothing if a size does
# not parse: the program parses and checks sizes itself and says what is wrong). A --cache-size or
# --write-buffer whose heap would not fit in this machine's memory is refused here, with the
# program's own message (MountSettings.checkHeapFits) and exit status 2, its usage exit code: given
# to the JVM, it would die at start with its own two lines on stdout. Used by the launcher and by
# the benchmarks, which run the jar directly.
mount_heap_option() {
    local cache=256M buffer=64M cache_given="" buffer_given="" prev="" arg cache_mib buffer_mib heap memory
    for arg in "$@"; do
        case "$prev" in
            --cache-size) cache="$arg"; cache_given=1 ;;
            --write-buffer) buffer="$arg"; buffer_given=1 ;;
        esac
        case "$arg" in
            --cache-size=*) cache="${arg#*=}"; cache_given=1 ;;
            --write-buffer=*) buffer="${arg#*=}"; buffer_given=1 ;;
        esac
        prev="$arg"
    done
    cache_mib="$(size_mib "$cache")"
    buffer_mib="$(size_mib "$buffer")"
    [ -n "$cache_mib" ] && [ -n "$buffer_mib" ] || return 0
    heap=$(( cache_mib + 2 * buffer_mib + 192 ))
    memory="$(machine_mib)"
    # Only what was asked for is checked: the defaults on a very small machine are left to the JVM,
    # which accepts them (the heap grows only as it is used).
    if [ -n "$memory" ] && [ -n "$cache_given$buffer_given" ] && [ "$heap" -gt "$memory" ]; then
        local option=--cache-size value="$cache"
        if [ -z "$cache_given" ] || { [ -n "$buffer_given" ] && [ $(( 2 * buffer_mib )) -gt "$cache_mib" ]; }; then
            option=--write-buffer value="$buffer"
        fi
        echo "sqlitesuperfs: $option $value is too large: the mount's Java heap (cache + 2 x write buffer" \
             "+ 192 MiB = $heap MiB) must fit in this machine's memory ($memory MiB)" >&2
        return 2
    fi
    echo "-Xmx${heap}m"
}

# machine_mib: the memory of this machine in MiB (MemTotal), or of its cgroup if that has a lower
# limit (a container); nothing if unknown. The program reads the same two files (MachineMemory).
machine_mib() {
    local kib limit mib
    kib="$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null)"
    [[ "$kib" =~ ^[0-9]+$ ]] || return 0
    mib=$(( kib / 1024 ))
    limit="$(cat /sys/fs/cgroup/memory.max 2>/dev/null || true)"
    if [[ "$limit" =~ ^[0-9]{1,18}$ ]] && [ $(( limit / 1048576 )) -lt "$mib" ]; then
        mib=$(( limit / 1048576 ))
    fi
    echo "$mib"
}

# size_mib SIZE: a size as the program takes it (bytes, or with K, M, G, T, optionally followed by
# B or iB), in MiB rounded up; nothing if it does not parse or is more than the program takes
# (2^63-1 bytes): the program refuses those itself. Never overflows the shell's arithmetic.
size_mib() {
    local v="${1^^}" unit max
    v="${v#"${v%%[![:space:]]*}"}"
    v="${v%"${v##*[![:space:]]}"}"
    case "$v" in
        *IB) v="${v%IB}" ;;
        *[KMGT]B) v="${v%B}" ;;
    esac
    case "$v" in
        *K) unit=K max=9007199254740991; v="${v%K}" ;;
        *M) unit=M max=8796093022207; v="${v%M}" ;;
        *G) unit=G max=8589934591; v="${v%G}" ;;
        *T) unit=T max=8388607; v="${v%T}" ;;
        *) unit=B max=9223372036854775807 ;;
    esac
    [[ "$v" =~ ^[0-9]+$ ]] || return 0
    v="${v#"${v%%[!0]*}"}"
    v="${v:-0}"
    # compared as decimal strings: as numbers they could overflow
    if [ "${#v}" -gt "${#max}" ] || { [ "${#v}" -eq "${#max}" ] && [[ "$v" > "$max" ]]; }; then
        return 0
    fi
    case "$unit" in
        B) echo $(( v / 1048576 + (v % 1048576 > 0) )) ;;
        K) echo $(( v / 1024 + (v % 1024 > 0) )) ;;
        M) echo "$v" ;;
        G) echo $(( v * 1024 )) ;;
        T) echo $(( v * 1048576 )) ;;
    esac
}
