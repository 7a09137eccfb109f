# SQLite 3.40.1 as Debian 12 ships it, from the pristine upstream tarball that `apt-get source`
# downloads, unpacked and configured once in a cache shared by conformance/sqlite-suite.sh and the
# benchmarks (bench/speedtest1.sh). Sourced, not executed; the sourcing script defines die and say.
#
# After fetch_sqlite_source: $sqlite_src is the unpacked tree. After configure_sqlite_build:
# $sqlite_build is a directory configured for it (make targets: testfixture, speedtest1, ...).

sqlite_cache="${SQLITESUPERFS_CONFORMANCE_CACHE:-/var/cache/sqlitesuperfs-conformance}"
sqlite_version=3.40.1

ensure_deb_src() {
    if grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
        return 0
    fi
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            >/etc/apt/sources.list.d/sqlitesuperfs-deb-src.sources
    elif grep -Eqs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
        sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list \
            >/etc/apt/sources.list.d/sqlitesuperfs-deb-src.list
    else
        die "found no Debian apt source to derive a deb-src entry from"
    fi
    say "added a deb-src entry for Debian; running apt-get update"
    apt-get update -q >/dev/null || die "apt-get update failed"
}

# The pristine upstream tarball: Debian's patched tree fails io-5.5 and recover.test everywhere.
fetch_sqlite_source() {
    local tarball="$sqlite_cache/download/sqlite3_$sqlite_version.orig.tar.xz"
    if [ ! -f "$tarball" ]; then
        ensure_deb_src
        mkdir -p "$sqlite_cache/download"
        (cd "$sqlite_cache/download" && apt-get source -q --download-only sqlite3 >download.log 2>&1) ||
            die "apt-get source sqlite3 failed; see $sqlite_cache/download/download.log"
        [ -f "$tarball" ] || die "apt-get source brought no sqlite3_$sqlite_version.orig.tar.xz (this script is for Debian 12's $sqlite_version)"
    fi
    sqlite_src="$sqlite_cache/pristine/sqlite3-$sqlite_version"
    if [ ! -f "$sqlite_src/test/veryquick.test" ]; then
        rm -rf "$sqlite_src.partial"
        mkdir -p "$sqlite_src.partial" "$(dirname "$sqlite_src")"
        tar -xJf "$tarball" -C "$sqlite_src.partial" --strip-components=1 || die "could not unpack $tarball"
        mv "$sqlite_src.partial" "$sqlite_src"
    fi
}

configure_sqlite_build() {
    sqlite_build="$sqlite_cache/build"
    mkdir -p "$sqlite_build"
    if [ ! -f "$sqlite_build/Makefile" ]; then
        (cd "$sqlite_build" && "$sqlite_src/configure" >configure.log 2>&1) ||
            die "configure failed; see $sqlite_build/configure.log"
    fi
}
