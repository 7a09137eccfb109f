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
# not parse: the program parses and checks sizes itself and says what is wrong). Used by the
# launcher and by the benchmarks, which run the jar directly.
mount_heap_option() {
    local cache_mib=256 buffer_mib=64 prev="" arg
    for arg in "$@"; do
        case "$prev" in
            --cache-size) cache_mib="$(size_mib "$arg")" ;;
            --write-buffer) buffer_mib="$(size_mib "$arg")" ;;
        esac
        case "$arg" in
            --cache-size=*) cache_mib="$(size_mib "${arg#*=}")" ;;
            --write-buffer=*) buffer_mib="$(size_mib "${arg#*=}")" ;;
        esac
        prev="$arg"
    done
    if [ -n "$cache_mib" ] && [ -n "$buffer_mib" ]; then
        echo "-Xmx$(( cache_mib + 2 * buffer_mib + 192 ))m"
    fi
}

# size_mib SIZE: a size as the program takes it (bytes, or with K, M, G, T), in MiB rounded up;
# nothing if it does not parse.
size_mib() {
    local v="${1^^}" unit=1
    case "$v" in
        *K) v="${v%K}"; [[ "$v" =~ ^[0-9]+$ ]] && echo $(( (v + 1023) / 1024 )); return 0 ;;
        *M) v="${v%M}" ;;
        *G) unit=1024; v="${v%G}" ;;
        *T) unit=$((1024 * 1024)); v="${v%T}" ;;
        *) [[ "$v" =~ ^[0-9]+$ ]] && echo $(( (v + 1048575) / 1048576 )); return 0 ;;
    esac
    [[ "$v" =~ ^[0-9]+$ ]] && echo $(( v * unit ))
    return 0
}
