#!/usr/bin/env bash
# Records the conformance cases from a real restate-server. Run from anywhere:
#   bash recording/record.sh
# Everything it installs goes to recording/.work/ (git-ignored); output: tests/conformance/recorded/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
exec "$PY" -m recording.record "$@"
