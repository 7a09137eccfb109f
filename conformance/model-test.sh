#!/usr/bin/env bash
# The long model-based run: random operations on the mount and on local disk side by side,
# compared after every step (ModelTest#longRunAgreesWithLocalDisk).
#   conformance/model-test.sh                 1,000,000 operations from a random seed (printed)
#   conformance/model-test.sh OPS [SEED]      that many operations, from that seed
# Progress lines ("model: N of M operations agreed") are in
# target/surefire-reports/dev.sqlitesuperfs.model.ModelTest-output.txt; a failure is shrunk and
# printed with the command that replays it.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
ops="${1:-1000000}"
seed_arg=()
if [ -n "${2:-}" ]; then
    seed_arg=("-Dmodel.seed=$2")
fi
exec "$here/run-tests" --slow -Dtest='ModelTest#longRunAgreesWithLocalDisk' -Dsurefire.failIfNoSpecifiedTests=false \
    "-Dmodel.ops=$ops" "${seed_arg[@]}"
