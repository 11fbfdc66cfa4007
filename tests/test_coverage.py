"""Coverage tested, not assumed: every declared boundary of every check's arguments is
hit by one of its cases, and every pair of boundaries that interact by one case, in the
payloads really drawn (under several seeds), not only in the declaration."""
from itertools import combinations

import numpy as np
import pytest

from autograder.judging.checks import ALL_CHECKS, CHECKS, DOMAINS
from autograder.judging.domains import Domain, Factor, level

SEEDS = (0, 1, 2)
DECLARED = [check for check in ALL_CHECKS if (check.target, check.what) in DOMAINS]


def _payloads(check, seed):
    """(case, payload) of every case of the check that its domain made."""
    return [(case, case.make(np.random.default_rng([seed, i])))
            for i, case in enumerate(check.cases) if case.levels]


def test_every_check_with_arguments_declares_its_domain():
    """Only __init__ (provided, 0 points) and train's scripted runs (train_rules.py) are
    declared elsewhere."""
    undeclared = {(c.target, c.what) for c in ALL_CHECKS} - set(DOMAINS)
    assert undeclared == {("RNNClassifier.__init__", "parameters (provided code, 0 points)"),
                          ("RNNClassifier.train", "SGD"),
                          ("RNNClassifier.train", "overfit a small batch")}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check", DECLARED, ids=lambda c: f"{c.target}: {c.what}")
def test_every_declared_boundary_is_hit(check, seed):
    domain = DOMAINS[check.target, check.what]
    drawn = _payloads(check, seed)
    missed = [lv.label for f in domain.factors for lv in f.levels
              if not any(lv.label in case.levels and lv.holds(p) for case, p in drawn)]
    assert missed == [], f"{check.target}: no case at {missed}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check", DECLARED, ids=lambda c: f"{c.target}: {c.what}")
def test_every_pair_of_interacting_boundaries_is_hit(check, seed):
    domain = DOMAINS[check.target, check.what]
    drawn = _payloads(check, seed)
    levels = {lv.label: lv for f in domain.factors for lv in f.levels}
    missed = [(a, b) for a, b in sorted(domain.required_pairs())
              if not any({a, b} <= set(case.levels) and levels[a].holds(p) and levels[b].holds(p)
                         for case, p in drawn)]
    assert missed == [], f"{check.target}: no case at {missed}"


@pytest.mark.parametrize("check", DECLARED, ids=lambda c: f"{c.target}: {c.what}")
def test_each_case_is_at_every_boundary_it_names(check):
    """One level of each factor per case, its test holding on the drawn payload, and
    every level that is not its factor's first named in the case label."""
    domain = DOMAINS[check.target, check.what]
    for case, payload in _payloads(check, 0):
        for factor in domain.factors:
            own = [lv for lv in factor.levels if lv.label in case.levels]
            assert len(own) == 1 and own[0].holds(payload), (case.label, factor.name)
            assert own[0] is factor.levels[0] or own[0].label in case.label


def test_public_cases_are_the_declared_rows_and_stable():
    """Case labels are the same whatever the seed (a label names a condition)."""
    for check in DECLARED:
        labels = [case.label for case in check.cases]
        assert len(labels) == len(set(labels))
        assert any(case.public for case in check.cases), check.target


def test_generator_covers_pairs_and_respects_exclusions():
    """The covering array itself, on a domain of its own (not the grader's)."""
    f = [Factor(name, tuple(level(f"{name}{i}", lambda p: True) for i in range(n)))
         for name, n in (("a", 3), ("b", 3), ("c", 2), ("d", 2))]
    alone = Factor("e", tuple(level(f"e{i}", lambda p: True) for i in range(5)), alone=True)
    domain = Domain(dict, (*f, alone), excluded=(("a1", "b2"), ("e3", "c1")))
    rows = domain.rows()
    seen = {frozenset(lv.label for lv in row.values()) for row in rows}
    for x, y in combinations([lv.label for g in f for lv in g.levels], 2):
        if x[0] != y[0] and {x, y} != {"a1", "b2"}:
            assert any({x, y} <= row for row in seen), (x, y)
    assert not any({"a1", "b2"} <= row or {"e3", "c1"} <= row for row in seen)
    assert all(any(f"e{i}" in row for row in seen) for i in range(5))
    assert len(rows) <= 11  # 9 is the least for 3 x 3 levels


def test_readme_states_the_public_and_hidden_split():
    """The README's figures are the table's: how many cases are public, their points."""
    import re

    from autograder.judging.checks import case_points
    from conftest import ROOT
    text = (ROOT / "README.md").read_text()
    cases = [(case, points) for check in CHECKS
             for case, points in zip(check.cases, case_points(check))]
    public = round(sum(points for case, points in cases if case.public), 2)
    shown = re.search(r"(\d+) of the (\d+) cases are public.*?they carry ([\d.]+) of the 100 "
                      r"points, the hidden\s+cases the other ([\d.]+)", text, re.DOTALL)
    assert shown, "README: the public / hidden split is not stated"
    assert [int(shown[1]), int(shown[2]), float(shown[3]), float(shown[4])] == [
        sum(case.public for case, _ in cases), len(cases), public, round(100 - public, 2)]
    assert f"the public cases cover {public:.2f}" in " ".join(text.split())
