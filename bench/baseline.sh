#!/usr/bin/env bash
# The baseline measurement of BENCHMARKS.md, now made of two benchmarks of the suite: the commit
# loop in DELETE, TRUNCATE and WAL (bench/commit.sh) and sequential write, cold and warm read
# (bench/seqio.sh, which adds random reads and writes). The first baseline figures were taken
# with an earlier version of this script that used the sqlite3 CLI and dd; see BENCHMARKS.md.
#
#   bench/baseline.sh [--runs N] [--commits N] [--file-mib N] [--db URL]
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
runs=3
commits=2000
file_mib=1024
db=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs|--commits|--file-mib|--db) [ $# -ge 2 ] || { echo "baseline: $1 needs a value" >&2; exit 2; } ;;&
        --runs) runs="$2"; shift 2 ;;
        --commits) commits="$2"; shift 2 ;;
        --file-mib) file_mib="$2"; shift 2 ;;
        --db) db=(--db "$2"); shift 2 ;;
        -h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "baseline: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
"$here/commit.sh" --runs "$runs" --commits "$commits" --modes DELETE,TRUNCATE,WAL ${db[@]+"${db[@]}"}
"$here/seqio.sh" --runs "$runs" --file-mib "$file_mib" ${db[@]+"${db[@]}"}
