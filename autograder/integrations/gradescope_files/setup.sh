#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip is unpacked in
# /autograder/source. It uses the image's own python3 (Ubuntu 22.04: 3.10, 24.04: 3.12;
# the grader runs on 3.10-3.13), installing it or its venv module from the image's own
# package sources only when missing, creates a virtual environment outside source/ (so
# that a student process run as an unprivileged user can still execute Python), installs
# the grader's only runtime dependency, NumPy, at a version with wheels for every one of
# those Pythons, then grades the reference solution once: a broken build fails here, at
# upload time, not on the students.
# AUTOGRADER_ROOT, AUTOGRADER_VENV and AUTOGRADER_BASE_PYTHON exist for tests.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
PYTHON="${AUTOGRADER_BASE_PYTHON:-python3}"
# NumPy 2.2.6: binary wheels for CPython 3.10, 3.11, 3.12 and 3.13 (newer NumPy has none
# for 3.10). The project's own venv (requirements.lock) may use a newer one.
NUMPY_VERSION=2.2.6
export DEBIAN_FRONTEND=noninteractive

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt-get update
    apt-get install -y python3 python3-venv
fi
"$PYTHON" - <<'PY'
import sys
if not (3, 10) <= sys.version_info[:2] <= (3, 13):
    sys.exit(f"setup.sh: {sys.executable} is Python {sys.version.split()[0]}; the grader "
             "runs on Python 3.10-3.13 (choose another Gradescope base image)")
PY
if ! "$PYTHON" -m venv "$VENV"; then  # Debian / Ubuntu ship venv's pip separately
    apt-get update
    apt-get install -y python3-venv
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
    --only-binary=:all: "numpy==$NUMPY_VERSION"

# bytecode compiled once here, not at every submission's start
"$VENV/bin/python" -m compileall -q "$SOURCE/autograder" "$SOURCE/solutions" >/dev/null

CHECK="$(mktemp -d)"
cd "$SOURCE"
"$VENV/bin/python" -m autograder grade solutions/rnn --output "$CHECK/results.json" \
    --no-colour > "$CHECK/report.txt"
if "$VENV/bin/python" - "$CHECK/results.json" <<'PY'
import json, sys
score = json.load(open(sys.argv[1]))["score"]
print(f"reference solution graded on Python {sys.version.split()[0]}: {score} / 100")
sys.exit(0 if score == 100 else 1)
PY
then
    rm -rf "$CHECK"
else
    cat "$CHECK/report.txt"
    exit 1
fi
