"""The grader against a catalog of submissions: every realistic bug loses points on the
function that holds it, every correct variant gets full marks, and the feedback names
the known mistakes.

The catalog is data: tests/submissions/bugs.py (one small edit of the reference per
bug) and tests/submissions/variants/<name>/ (the files a correct but differently written
submission changes; the others come from the reference). Each submission is graded once
per session, with a fixed grading secret so the hidden cases do not depend on the
secret.key or RNN_GRADER_SECRET of the machine.
"""
import shutil
from pathlib import Path

import pytest

from autograder.checks import CHECKS
from autograder.config import DEFAULT
from autograder.grade import grade
from conftest import SOLUTIONS
from submissions.bugs import BUGS, apply_bug

VARIANTS_DIR = Path(__file__).resolve().parent / "submissions" / "variants"
VARIANTS = sorted(p.name for p in VARIANTS_DIR.iterdir() if p.is_dir())
TARGETS = {check.target for check in CHECKS}
BY_NAME = {bug.name: bug for bug in BUGS}
CATALOG_SECRET = "rnn-catalog-test-secret"

# Known mistakes whose hint must appear in the feedback of the target's failed tests.
EXPECTED_HINTS = {
    "step_backward_tanh_prime_from_preactivation": "computed from the pre-activation",
    "backward_dWx_last_step_only": "Only one time step's contribution is kept",
    "backward_dWh_last_step_only": "Only one time step's contribution is kept",
    "backward_db_last_step_only": "Only one time step's contribution is kept",
    "embedding_backward_loses_repeats": "Repeated indices lose their gradients",
    "loss_summed_not_mean": "The loss looks summed over the batch",
    "loss_reg_without_half": "The L2 term lacks the 1/2",
    "loss_reg_gradient_missing": "reg * W is missing",
    "loss_clip_before_reg": "clipped before adding reg * W",
}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(kind, name) -> GradingResult, each submission graded once per session."""
    results = {}

    def run(kind: str, name: str):
        if (kind, name) not in results:
            folder = tmp_path_factory.mktemp(f"{kind}-{name}") / "submission"
            if kind == "bug":
                apply_bug(BY_NAME[name], folder)
            else:
                folder.mkdir()
                for path in SOLUTIONS.glob("*.py"):
                    shutil.copy(path, folder / path.name)
                for path in (VARIANTS_DIR / name).glob("*.py"):
                    shutil.copy(path, folder / path.name)
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("RNN_GRADER_SECRET", CATALOG_SECRET)
                results[kind, name] = grade(folder, DEFAULT)
        return results[kind, name]

    return run


# ---- the catalog itself ---------------------------------------------------------------

def test_catalog_is_large_enough_and_well_formed():
    assert len(BUGS) >= 30 and len(VARIANTS) >= 6
    assert len(BY_NAME) == len(BUGS), "bug names must be unique"
    for bug in BUGS:
        assert bug.targets and set(bug.targets) <= TARGETS, (bug.name, bug.targets)
        assert bug.old != bug.new, bug.name
        assert (SOLUTIONS / bug.file).exists(), bug.name
    for name in VARIANTS:
        files = {p.name for p in (VARIANTS_DIR / name).glob("*.py")}
        assert files and files <= set(DEFAULT.student_modules), (name, files)
    assert set(EXPECTED_HINTS) <= set(BY_NAME)


def test_every_bug_snippet_occurs_exactly_once_in_the_reference():
    """A reference edit must not silently disable a bug of the catalog."""
    texts = {name: (SOLUTIONS / name).read_text() for name in DEFAULT.student_modules}
    counts = {bug.name: texts[bug.file].count(bug.old) for bug in BUGS}
    assert {name: n for name, n in counts.items() if n != 1} == {}


# ---- verdicts ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [bug.name for bug in BUGS])
def test_bug_loses_points_on_the_function_that_holds_it(graded, name):
    bug = BY_NAME[name]
    result = graded("bug", name)
    if all(t.max_score == 0 for t in result.tests if t.target in bug.targets):
        # a bug in provided code (RNNClassifier.__init__): shown as failed, worth nothing
        assert any(t.status == "failed" for t in result.tests if t.target in bug.targets)
        return
    assert result.score < result.max_score, f"{name} got full marks"
    lost = [t for t in result.tests if t.target in bug.targets and t.score < t.max_score]
    assert lost, (f"{name} lost points only on "
                  f"{sorted({t.target for t in result.tests if t.score < t.max_score})}, "
                  f"not on {bug.targets}")


@pytest.mark.parametrize("name", VARIANTS)
def test_correct_variant_gets_full_marks(graded, name):
    result = graded("variant", name)
    failed = {t.name: t.output for t in result.tests if t.score < t.max_score}
    assert result.score == result.max_score, failed


# ---- feedback -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED_HINTS))
def test_known_mistake_is_named_in_the_feedback(graded, name):
    bug = BY_NAME[name]
    hints = [h for t in graded("bug", name).tests if t.target in bug.targets for h in t.hints]
    assert any(EXPECTED_HINTS[name] in h for h in hints), hints
    assert all("提示" in h for h in hints), "every hint also comes in Chinese"


def test_transposed_gradient_is_called_a_transpose(graded):
    result = graded("bug", "step_backward_dWx_transposed")
    outputs = [t.output for t in result.tests if t.target == "rnn_step_backward"]
    assert outputs and all("the transpose" in o for o in outputs)


def test_failing_dependency_is_named_first(graded):
    result = graded("bug", "forward_h0_ignored")
    failed = [t for t in result.tests if t.target == "rnn_backward" and t.status != "passed"]
    assert failed and all("fix rnn_forward first" in t.output for t in failed)


def test_no_hint_for_a_dtype_only_failure(graded):
    hints = [h for t in graded("bug", "forward_float32_not_preserved").tests for h in t.hints]
    assert hints == []


def test_correct_code_is_never_told_it_has_a_bug(graded):
    claims = [t.name for t in graded("variant", "cs231n_step_loop").tests
              if "the bug is in" in t.output or "Hint:" in t.output]
    assert claims == []


def test_each_hint_is_given_once_per_test(graded):
    tests = graded("bug", "step_backward_tanh_prime_from_preactivation").tests
    assert all(len(t.hints) == len(set(t.hints)) for t in tests)
