"""The grader on a busy machine: four CPU-bound processes beside it (on 2 cores, each
process then gets a third of a core or less, as on a shared CI machine).

Verdicts must not depend on the load: the reference still gets 100, and a submission
with one bug loses exactly what it loses on a quiet machine, because every wall-clock
limit is a multiple of the reference's own time on the same machine, and the budget
grows with the load per CPU (autograder/sandbox/machine.py). The rest of the suite runs beside
these processes too while this test runs (pytest-xdist's other worker).
"""
import dataclasses
import subprocess
import sys
import time

import pytest

from autograder.config import DEFAULT
from autograder.judging.grade import grade
from conftest import SOLUTIONS
from test_grader import _copy_solutions

HOGS = 4
ONE_BUG = {"rnn_layers.py": ("dWh = prev_h.T @ da  # (H, H)", "dWh = da.T @ prev_h  # (H, H)")}


def _scores(result) -> dict:
    return {t.name: t.score for t in result.tests}


@pytest.mark.slow
def test_verdicts_do_not_depend_on_the_load(tmp_path):
    """Quiet first, then with the hogs: the same score for every test of both."""
    buggy = _copy_solutions(tmp_path, ONE_BUG)
    quiet = [grade(SOLUTIONS, DEFAULT), grade(buggy, DEFAULT)]
    assert quiet[0].score == 100 and quiet[1].score < 100
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
    try:
        time.sleep(1.0)
        busy = [grade(SOLUTIONS, DEFAULT), grade(buggy, DEFAULT)]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    for q, b in zip(quiet, busy):
        assert _scores(b) == _scores(q), [t.output for t in b.tests if t.score != _scores(q)[
            t.name]]


def test_the_budget_that_a_busy_machine_gets_is_reported(monkeypatch):
    """On a machine whose load per CPU is 3, the grading's limits are 3x and the
    instructor's report says so."""
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (3.0 * _cpus(), 0.0, 0.0))
    result = grade(SOLUTIONS, dataclasses.replace(DEFAULT, max_load_scale=4.0))
    assert result.score == 100
    assert result.load_scale == 3.0
    assert "every time limit was multiplied by 3.0" in result.report(colour=False)
    assert "busy" not in result.output  # the students' feedback does not vary with the load


def _cpus() -> float:
    from autograder.sandbox import machine

    return machine.usable_cpus()
