"""Unit tests of autograder/judging/conclude.py: each step after judging, alone, on a table of
small gradings (tests made here, no student process), then the pipeline's order.

The functions of these gradings: f is called by g (the student's own f) and by h (the
grader answers f while h is graded); h also calls g, its own."""
import dataclasses

import pytest

from autograder.judging import conclude, serve
from autograder.judging.checks import CHECKS
from autograder.judging.conclude import NO_CREDIT_AFTER_LARGE, Context
from autograder.judging.compare import Hint
from autograder.config import DEFAULT
from autograder.judging.results import TestId, TestResult

CONTEXT = Context(calls={"g": ("f",), "h": ("f", "g")}, answered=frozenset({("h", "f")}),
                  points={"f": 2.0}, languages=("en",))
HINT = Hint("tanh' is 1 - h**2.", "tanh 的导数是 1 - h**2。")


def judged(function, status="passed", case="c", check="out", score=None, large=False,
         hints=(), blame=""):
    """A judged test: full marks when passed, else none (unless score says otherwise)."""
    score = (1.0 if status == "passed" else 0.0) if score is None else score
    return TestResult(TestId(function, check, case, large=large), score, 1.0,
                      f"Case: {case} (N=2)", status, list(hints), blame=blame, shapes="N=2")


def outcome(tests):
    """What a step may change, per test: (score, max_score, status, what it added to the
    feedback, hints, blame)."""
    return [(t.score, t.max_score, t.status, t.output.removeprefix(f"Case: {t.case} (N=2)"),
             t.hints, t.blame) for t in tests]


GATE = NO_CREDIT_AFTER_LARGE
# (the tests, their outcome after the gate)
GATES = [
    ([judged("f", "failed", "large", large=True), judged("f", case="a"), judged("f", case="b")],
     [(0.0, 1.0, "failed", "", [], "")] + [(0.0, 1.0, "failed", "\n" + GATE, [], "")] * 2),
    ([judged("f", "passed", "large", large=True), judged("f", case="a")],  # the gate is open
     [(1.0, 1.0, "passed", "", [], ""), (1.0, 1.0, "passed", "", [], "")]),
    ([judged("f", "timeout", "large", large=True), judged("f", "failed", "a")],  # no credit
     [(0.0, 1.0, "timeout", "", [], ""), (0.0, 1.0, "failed", "", [], "")]),  # to take
    ([judged("f", "failed", "large", check="x", large=True), judged("f", check="y")],  # another
     [(0.0, 1.0, "failed", "", [], ""), (1.0, 1.0, "passed", "", [], "")]),  # check's gate
    ([judged("f", "failed", "large", large=True), judged("f", "failed", "a", score=0.5)],
     [(0.0, 1.0, "failed", "", [], ""), (0.0, 1.0, "failed", "\n" + GATE, [], "")]),
]


@pytest.mark.parametrize("tests, after", GATES, ids=range(len(GATES)))
def test_no_credit_after_large_case(tests, after):
    conclude.no_credit_after_large_case(tests, CONTEXT)
    assert outcome(tests) == after


POINTS = [  # (the context's points, the scores after)
    ({"f": 2.0}, [(2.0, 2.0), (0.0, 2.0), (1.0, 1.0)]),
    ({"f": 0.5, "g": 0.0}, [(0.5, 0.5), (0.0, 0.5), (0.0, 0.0)]),
    (None, [(1.0, 1.0), (0.0, 1.0), (1.0, 1.0)]),  # a sweep: checks.py's points
]


@pytest.mark.parametrize("points, scores", POINTS, ids=range(len(POINTS)))
def test_scale_points(points, scores):
    tests = [judged("f"), judged("f", "failed", "b"), judged("g")]
    conclude.scale_points(tests, dataclasses.replace(CONTEXT, points=points))
    assert [(t.score, t.max_score) for t in tests] == scores


ANSWERED = ("\nh was graded with the grader's f; yours fails its own tests, and with it h "
            "would not give the right result.")
# (tests, what each one's feedback gained)
NOTES = [
    ([judged("f", "failed"), judged("h"), judged("h", case="d")], ["", ANSWERED, ""]),
    ([judged("f", "failed"), judged("h", "error"), judged("h", "failed", "d")], ["", "", ANSWERED]),
    ([judged("f"), judged("h")], ["", ""]),  # f passes: nothing to say
    ([judged("f", "failed"), judged("g")], ["", ""]),  # g's f is its own: not this note
]


@pytest.mark.parametrize("tests, added", NOTES, ids=range(len(NOTES)))
def test_note_answered_callees(tests, added):
    conclude.note_answered_callees(tests, CONTEXT)
    assert [o[3] for o in outcome(tests)] == added


FIX_F = "\ng relies on f, which fails its own tests: fix f first."
# (tests, their outcome after "fix X first")
FIXES = [
    ([judged("f", "failed"), judged("g", "failed", hints=[HINT], blame="backward")],
     [(0.0, 1.0, "failed", "", [], ""), (0.0, 1.0, "failed", FIX_F, [], "")]),
    ([judged("f", "failed"), judged("g", "failed", hints=[HINT], blame="f")],  # blame kept
     [(0.0, 1.0, "failed", "", [], ""), (0.0, 1.0, "failed", FIX_F, [], "f")]),
    ([judged("f", "failed"), judged("g")],  # g passes: nothing to fix
     [(0.0, 1.0, "failed", "", [], ""), (1.0, 1.0, "passed", "", [], "")]),
    ([judged("f"), judged("g", "failed", hints=[HINT])],  # f passes: g's own hint stays
     [(1.0, 1.0, "passed", "", [], ""), (0.0, 1.0, "failed", "", [HINT], "")]),
    ([judged("f", "failed"), judged("h", "failed", hints=[HINT])],  # f answered: not h's culprit
     [(0.0, 1.0, "failed", "", [], ""), (0.0, 1.0, "failed", "", [HINT], "")]),
    ([judged("f", "failed"), judged("g", "failed"), judged("h", "failed")],
     [(0.0, 1.0, "failed", "", [], ""), (0.0, 1.0, "failed", FIX_F, [], ""),
      (0.0, 1.0, "failed", "\nh relies on g, which fails its own tests: fix g first.", [],
       "")]),
]


@pytest.mark.parametrize("tests, after", FIXES, ids=range(len(FIXES)))
def test_fix_callees_first(tests, after):
    conclude.fix_callees_first(tests, CONTEXT)
    assert outcome(tests) == after


ENGLISH = "Hint: tanh' is 1 - h**2."
SHOWN = [  # (languages, the hints of a failed test, what its feedback gains, its hints)
    (("en",), [HINT, HINT], "\n" + ENGLISH, [ENGLISH]),
    (("en", "zh"), [HINT], "\n" + HINT, [HINT]),
    (("zh",), [HINT, "Hint: other"], "\n提示：tanh 的导数是 1 - h**2。\nHint: other",
     ["提示：tanh 的导数是 1 - h**2。", "Hint: other"]),
    (("en",), [], "", []),
]


@pytest.mark.parametrize("languages, hints, added, shown", SHOWN, ids=range(len(SHOWN)))
def test_show_hints(languages, hints, added, shown):
    tests = [judged("f", "failed", hints=hints), judged("g", hints=hints)]
    conclude.show_hints(tests, dataclasses.replace(CONTEXT, languages=languages))
    assert outcome(tests)[0][3:5] == (added, shown)
    assert outcome(tests)[1][3:5] == ("", hints)  # a passed test: left as it is


def test_pattern_steps_read_the_levels_and_keep_a_hint_once_per_function():
    def at(case, status, levels=(), wrong=None):
        return TestResult(TestId("rnn_forward", "hidden states", case, levels), 0.0, 1.0,
                          "", status, wrong=dict(wrong or {}))
    # the levels say which cases are extreme, not the labels: the second case is ordinary
    tests = [at("ordinary", "passed"), at("large pre-activations?", "passed"),
             at("x", "failed", ("large pre-activations",), {"h": "nonfinite"}),
             at("y", "failed", ("large pre-activations", "float32"), {"h": "nonfinite"})]
    conclude.pattern_hints(tests, CONTEXT)
    assert [len(t.hints) for t in tests] == [0, 0, 1, 1]
    conclude.hints_once_per_function(tests, CONTEXT)
    assert [len(t.hints) for t in tests] == [0, 0, 1, 0]


def test_the_steps_run_in_order_each_with_the_one_signature():
    """The gate fails a case before "fix X first" reads the statuses; the hints are
    withheld before they are shown."""
    assert conclude.STEPS[0] is conclude.no_credit_after_large_case
    assert conclude.STEPS[-1] is conclude.show_hints
    tests = [judged("f", "failed", "large", large=True), judged("f", case="a"),
             judged("g", "failed", hints=[HINT])]
    assert conclude.conclude(tests, CONTEXT) is tests
    assert outcome(tests) == [(0.0, 2.0, "failed", "", [], ""),
                              (0.0, 2.0, "failed", "\n" + GATE, [], ""),
                              (0.0, 1.0, "failed", FIX_F, [], "")]
    only = [judged("f", "failed", "large", large=True), judged("f", case="a")]
    conclude.conclude(only, CONTEXT, steps=(conclude.scale_points,))
    assert outcome(only)[1] == (2.0, 2.0, "passed", "", [], "")


def test_the_context_is_derived_from_the_checks_table():
    context = Context.of(DEFAULT)
    for check in CHECKS:
        assert set(check.calls) <= set(context.calls[check.target])
    assert {c for callees in context.calls.values() for c in callees} <= {
        c.target for c in CHECKS}
    assert context.answered == {(f, c) for f, callees in context.calls.items()
                                for c in callees if serve.answered_for(f, c)}
    assert context.points == {} and context.languages == tuple(DEFAULT.hint_languages)
    assert Context.of(DEFAULT, scale_points=False).points is None
