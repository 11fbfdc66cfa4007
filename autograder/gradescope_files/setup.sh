#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip is unpacked in
# /autograder/source. It installs Python 3.11 (the project's version) if the image lacks
# it, creates a virtual environment outside source/ (so that a student process that runs
# as an unprivileged user can still execute Python), installs the grader's only runtime
# dependency at the exact version pinned in requirements.lock, then grades the reference
# solution once: a broken build fails here, at upload time, not on the students.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
export DEBIAN_FRONTEND=noninteractive

if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update
    if ! apt-get install -y python3.11 python3.11-venv; then
        apt-get install -y software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y python3.11 python3.11-venv
    fi
fi

python3.11 -m venv "$VENV"
# numpy only (the grader needs nothing else), at the version the lock pins.
"$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
    --constraint "$SOURCE/requirements.lock" numpy

cd "$SOURCE"
"$VENV/bin/python" -m autograder grade solutions/rnn --output /tmp/reference-results.json \
    --no-colour > /tmp/reference-report.txt
"$VENV/bin/python" - <<'PY'
import json, sys
score = json.load(open("/tmp/reference-results.json"))["score"]
print(f"reference solution graded: {score} / 100")
sys.exit(0 if score == 100 else 1)
PY
