#!/usr/bin/env bash
# Mutation testing of bounds/ and trainers/estimators.py with mutmut 3 ([tool.mutmut] in
# pyproject.toml; docs/mutation.md). Usage, from anywhere:
#   tests/mutation.sh                      # every mutant
#   tests/mutation.sh "bounds.variance.*"  # mutant-name globs (module.function), any number
# mutmut works in a copy of the working tree (MUTATION_DIR, default /tmp/rpcheck-mutation) so that
# its mutants/ folder never lands in the checkout; one test process at a time, one thread.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MUTATION_DIR:-/tmp/rpcheck-mutation}
mkdir -p "$dir"
(cd "$root" && git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf -) \
    | tar -xf - -C "$dir"
cd "$dir"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
"$root/.venv/bin/mutmut" run --max-children 1 "$@"
"$root/.venv/bin/mutmut" results
