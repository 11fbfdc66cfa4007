"""Unit tests of autograder/judging/compare.py: each behaviour one parametrized test over a table.

Inputs are small hand-made arrays: the verdicts follow from the rules stated in the
module (scale-aware relative error; shape, dtype, finiteness, then values)."""
import pickle

import numpy as np
import pytest

from autograder.sandbox.child import wire
from autograder.judging.compare import (FLOAT32_TOLERANCE, Hint, Line, Verdict, compare_array,
                                compare_labels, describe, relative_error, shape_hint)

A = np.array([[1.0, -2.0], [3.0, 4.0]])  # max |A| = 4

# (expected, got, relative error)
RELATIVE_ERRORS = [
    (A, A.copy(), 0.0),
    (A, A + 0.4, 0.1),  # 0.4 / 4
    (A, -A, 2.0),  # 8 / 4
    (np.array([1e-30, 1.0]), np.array([2e-30, 1.0]), 1e-30),  # a tiny entry: scale is max
    (np.zeros(3), np.full(3, 1e-12), 1.0),  # the floor: 1e-12 / max(0, 1e-12)
    (np.zeros(3), np.full(3, 1e-6), 1e6),
    (np.zeros((0, 4)), np.zeros((0, 4)), 0.0),  # empty: nothing differs
    (np.float64(2.0), np.float64(2.5), 0.25),  # 0-d
    (np.array([1, 2], np.int64), np.array([1.0, 2.5]), 0.25),  # compared in float64
    (A.astype(np.float32), (A + 0.4).astype(np.float32), 0.1),
]


@pytest.mark.parametrize("expected, got, error", RELATIVE_ERRORS)
def test_relative_error(expected, got, error):
    assert relative_error(expected, got) == pytest.approx(error, rel=1e-6, abs=0)


F32 = A.astype(np.float32)
# (expected, got, tolerance, ok, reason, words the message must contain)
VERDICTS = [
    (A, A.copy(), 1e-6, True, "", ["x: relative error", "ok"]),
    (A, A * (1 + 5e-7), 1e-6, True, "", ["ok"]),
    (A, A * (1 + 2e-6), 1e-6, False, "value", ["WRONG", "tolerance 1e-06"]),
    (A, A[:, :1], 1e-6, False, "shape", ["x has shape (2, 1)", "expected (N, H) = (2, 2)"]),
    (A, A.T.copy()[None], 1e-6, False, "shape", ["shape (1, 2, 2)", "extra leading axis"]),
    (A, None, 1e-6, False, "missing", ["x is None", "expected an array of shape"]),
    (A, [[1.0, -2.0], [3.0, 4.0]], 1e-6, False, "missing", ["x is a list"]),
    (A, wire.Unsupported("a generator"), 1e-6, False, "missing", ["x is a generator"]),
    (A, A.astype(np.float32), 1e-6, False, "dtype",
     ["dtype float32", "float64 inputs must give float64"]),
    (F32, A, 1e-6, False, "dtype", ["dtype float64", "float32 inputs must give float32"]),
    (A, A.astype(np.int64), 1e-6, False, "dtype", ["dtype int64"]),
    (A, np.where(A > 3, np.nan, A), 1e-6, False, "nonfinite", ["NaN or inf"]),
    (A, np.where(A > 3, np.inf, A), 1e-6, False, "nonfinite", ["NaN or inf"]),
    (A, np.where(A > 3, -np.inf, A), 1e-6, False, "nonfinite", ["NaN or inf"]),
    # float32: the tolerance is at least FLOAT32_TOLERANCE, whatever the check asks
    (F32, F32 * np.float32(1 + 1e-4), 1e-6, True, "", ["tolerance 2e-04", "ok"]),
    (F32, F32 * np.float32(1 + 1e-3), 1e-6, False, "value", ["tolerance 2e-04", "WRONG"]),
    (F32, F32 * np.float32(1 + 5e-3), 1e-2, True, "", ["tolerance 1e-02"]),  # a larger one kept
    # empty arrays of the right shape and dtype are right
    (np.zeros((0, 3)), np.zeros((0, 3)), 1e-6, True, "", ["ok"]),
    (np.zeros((0, 3)), np.zeros((3, 0)), 1e-6, False, "shape", ["shape (3, 0)"]),
    # a 0-d expected value (a loss) accepts a Python float, but not a bool
    (np.float64(1.5), 1.5, 1e-6, True, "", ["ok"]),
    (np.float64(1.5), 3, 1e-6, False, "value", ["WRONG"]),
    (np.float64(1.0), True, 1e-6, False, "missing", ["x is a bool"]),
    # a 0-d float expected value: its dtype is not judged (float32 loss of a float64 case)
    (np.float64(1.5), np.float32(1.5)[()], 1e-6, True, "", ["ok"]),
    (np.float64(1.5), np.array(np.nan), 1e-6, False, "nonfinite", ["NaN or inf"]),
]


@pytest.mark.parametrize("expected, got, tolerance, ok, reason, words", VERDICTS)
def test_compare_array(expected, got, tolerance, ok, reason, words):
    if isinstance(got, np.generic):
        got = np.asarray(got)
    comparison = compare_array("x", expected, got, tolerance, "N, H")
    assert (comparison.ok, comparison.reason) == (ok, reason), comparison.message
    assert comparison.name == "x"
    assert (comparison.error == float("inf")) == (reason not in ("", "value"))
    for word in words:
        assert word in comparison.message, comparison.message
    assert "\n" not in comparison.message


def test_float32_tolerance_is_looser_than_the_default():
    assert 1e-6 < FLOAT32_TOLERANCE < 1e-2


# (expected, got, ok, reason, differing labels or None)
LABELS = [
    (np.array([0, 1, 2]), np.array([0, 1, 2]), True, "", 0),
    (np.array([0, 1, 2]), np.array([0, 1, 2], np.uint8), True, "", 0),
    (np.array([0, 1, 2]), np.array([2, 1, 0]), False, "value", 2),
    (np.array([0, 1, 2]), np.array([0.0, 1.0, 2.0]), False, "dtype", None),
    (np.array([0, 1, 2]), np.array([True, True, False]), False, "dtype", None),
    (np.array([0, 1, 2]), np.array([[0, 1, 2]]), False, "shape", None),
    (np.array([0, 1, 2]), [0, 1, 2], False, "shape", None),
    (np.array([0, 1, 2]), None, False, "shape", None),
    (np.zeros(0, np.int64), np.zeros(0, np.int64), True, "", 0),
]


@pytest.mark.parametrize("expected, got, ok, reason, differing", LABELS)
def test_compare_labels(expected, got, ok, reason, differing):
    comparison = compare_labels("labels", expected, got)
    assert (comparison.ok, comparison.reason) == (ok, reason), comparison.message
    if differing is not None:
        assert comparison.error == differing
        assert f"{differing} of {expected.size} labels differ" in comparison.message


# (got shape, wanted shape, words of the hint, "" for none)
SHAPE_HINTS = [
    ((3, 2), (2, 3), "axes swapped"),
    ((3, 3), (3, 3), ""),
    ((1, 2, 3), (2, 3), "extra leading axis of length 1"),
    ((4, 2, 3), (2, 3), "one row per sample"),
    ((2, 3, 1), (2, 3), ""),
    ((6,), (2, 3), ""),
    ((3, 2, 1), (1, 2, 3), ""),  # reversed, but not two axes
]


@pytest.mark.parametrize("got, want, words", SHAPE_HINTS)
def test_shape_hint(got, want, words):
    hint = shape_hint(got, want)
    assert (words in hint) if words else hint == ""
    assert bool(hint) == bool(words)


DESCRIPTIONS = [
    (np.zeros((2, 3), np.float32), "an array of shape (2, 3) and dtype float32"),
    (None, "None"),
    (1.5, "a float"),
    ([1], "a list"),
    (wire.Unsupported("a generator"), "a generator"),
]


@pytest.mark.parametrize("value, text", DESCRIPTIONS)
def test_describe(value, text):
    assert describe(value) == text


# (passed, total, wrong, ok, fraction)
VERDICT_TOTALS = [
    (3, 3, {}, True, 1.0),
    (2, 3, {"dx": "value"}, False, 2 / 3),
    (3, 3, {"purity": "impure"}, False, 1.0),  # every output right, but it changed an input
    (0, 0, {}, True, 0.0),
]


@pytest.mark.parametrize("passed, total, wrong, ok, fraction", VERDICT_TOTALS)
def test_verdict(passed, total, wrong, ok, fraction):
    verdict = Verdict.of(passed, total, ["line"], wrong)
    assert (verdict.ok, verdict.fraction) == (ok, pytest.approx(fraction))
    wrong_before = dict(wrong)
    verdict.wrong["extra"] = "value"
    assert wrong == wrong_before  # Verdict.of copies the dict it is given


FEEDBACK = [Line("dx: relative error 1.0e-01 (tolerance 1e-06) WRONG", False,
                 "dx: relative error … WRONG"),
            Line("ok    params has exactly the keys", True),
            Hint("tanh' is 1 - h**2.", "tanh 的导数是 1 - h**2。")]


@pytest.mark.parametrize("value", FEEDBACK, ids=range(len(FEEDBACK)))
def test_feedback_text_keeps_its_data_through_pickling(value):
    """A worker process's results come back pickled: the data the report reads stays."""
    copy = pickle.loads(pickle.dumps(value))
    assert type(copy) is type(value) and copy == value and vars(copy) == vars(value)


@pytest.mark.parametrize("errors, same", [((0.3, 0.71), True), ((0.3, 0.0), False),
                                          ((0.0, 1e-9), True)])
def test_a_line_gist_leaves_out_only_the_measured_sizes(errors, same):
    """What the report groups cases by: lines that differ only in their error sizes."""
    lines = [compare_array("dWx", A, A * (1 + e), 1e-6).message for e in errors]
    assert lines[0] != lines[1]
    assert (lines[0].gist == lines[1].gist) == same
    assert [line.right for line in lines] == [e <= 1e-6 for e in errors]
