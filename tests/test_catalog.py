"""The grader against a catalog of submissions: every realistic bug loses points on the
function that holds it under every fingerprint, every correct variant gets full marks
under the same fingerprints, and each known-mistake hint appears exactly for its bugs.

The catalog is data: tests/submissions/bugs.py (one small edit of the reference per
bug), tests/submissions/rewrites.py (whole functions as a student writes them, one
mistake each) and tests/submissions/variants/<name>/ (the files a correct but
differently written submission changes; the others come from the reference).

Fingerprints: the hidden cases are drawn from a seed that hashes every byte of the
submission, so each catalog entry is regraded under FINGERPRINTS different contents
(the submission with a comment line i appended: the same code, other cases), with
run_cases.sweep (one student process per entry, the entry's own checks), two entries at
a time. A grading secret of the catalog's own keeps the cases independent of the
machine's secret.key.
"""
import dataclasses
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from autograder.intake import submission as submissions
from autograder.judging.checks import ALL_CHECKS, CHECKS, EXTENSION_CHECKS
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from autograder.judging.run_cases import sweep
from conftest import SOLUTIONS
from submissions.bugs import BUGS, apply_bug
from submissions.rewrites import REWRITES, apply_rewrite

VARIANTS_DIR = Path(__file__).resolve().parent / "submissions" / "variants"
VARIANTS = sorted(p.name for p in VARIANTS_DIR.iterdir() if p.is_dir())
TARGETS = {check.target for check in ALL_CHECKS}
# the optional LSTM extension's functions: their entries are graded with it turned on
LSTM_TARGETS = {check.target for check in EXTENSION_CHECKS["lstm"]}
LSTM_ON = dataclasses.replace(DEFAULT, extensions=(("lstm", True),))
ENTRIES = {bug.name: bug for bug in (*BUGS, *REWRITES)}
CATALOG_SECRET = "rnn-catalog-test-secret"
FINGERPRINTS = 20

_L2_HINT = "added twice, or is the 1/2 missing?"
# Known-mistake hints: a phrase of the hint that each of these bugs must get under every
# fingerprint; no other entry of the catalog may get that phrase.
EXPECTED_HINTS = {
    "step_backward_tanh_prime_from_preactivation": "computed from the pre-activation",
    "backward_dWx_last_step_only": "Only one time step's contribution is kept",
    "backward_dWh_last_step_only": "Only one time step's contribution is kept",
    "backward_db_last_step_only": "Only one time step's contribution is kept",
    "backward_loop_misses_step_0": "Step t = 0 is skipped",
    "embedding_backward_loses_repeats": "Repeated indices lose their gradients",
    "loss_summed_not_mean": "The loss looks summed over the batch",
    "loss_reg_without_half": _L2_HINT,
    "loss_reg_added_twice": _L2_HINT,
    "step_backward_dWx_transposed": "dWx is the transpose of the right dWx",
    "step_backward_dWx_transposed_fixed_by_shape": "dWx is the transpose of the right dWx",
    "backward_dWx_transposed_fixed_by_shape": "dWx is the transpose of the right dWx",
    "step_backward_dWh_transposed": "dWh is the transpose of the right dWh",
    "embedding_backward_dW_allocated_D_by_V": "dW is the transpose of the right dW",
    "loss_reg_gradient_missing": "reg * W is missing",
    "loss_clip_before_reg": "clipped before adding reg * W",
    "loss_dscores_not_divided_by_N": "N times too large",
    "loss_no_max_subtraction": "subtract each row's own max",
    "train_best_params_by_reference": "the last epoch's",
    "train_best_params_shallow_copy": "the last epoch's",
    "train_best_params_not_restored": "the last epoch's",
    "lstm_gates_order_i_f_g_o": "The gates look taken in another order",
    "lstm_gates_forget_first": "The gates look taken in another order",
    "lstm_sigmoid_naive_exp": "a sigmoid written 1 / (1 + np.exp(-a)) overflows",
    "lstm_step_backward_dnext_c_dropped": "The cell state's gradient looks incomplete",
    "lstm_step_backward_tanh_prime_of_c_missing": "The cell state's gradient looks incomplete",
    "lstm_backward_dprev_c_not_carried": "The cell state's gradient looks incomplete",
    "lstm_backward_dWx_not_summed_over_time": "Only one time step's contribution is kept",
    **{r.name: r.hint for r in REWRITES if r.hint},
}
# What the feedback must say of these (not a hint: a verdict's own line).
EXPECTED_NOTES = {r.name: r.note for r in REWRITES if r.note}


def _build(kind: str, name: str, folder: Path) -> Path:
    if kind == "bug":
        entry = ENTRIES[name]
        return (apply_rewrite if name in {r.name for r in REWRITES} else apply_bug)(entry, folder)
    folder.mkdir(parents=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for path in (VARIANTS_DIR / name).glob("*.py"):
        shutil.copy(path, folder / path.name)
    return folder


def _fingerprints(folder: Path) -> list[str]:
    """The fingerprints of FINGERPRINTS contents of the submission: one comment line
    more in rnn_layers.py each (what a resubmission with a new comment would be)."""
    prints = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(FINGERPRINTS):
            copy = Path(tmp) / f"v{i}"
            shutil.copytree(folder, copy)
            with open(copy / "rnn_layers.py", "a") as f:
                f.write(f"\n# resubmission {i}\n")
            prints.append(submissions.prepare(copy, Path(tmp) / f"w{i}")[1])
    return prints


def _targets_of(kind: str, name: str) -> set[str]:
    if kind == "bug":
        return set(ENTRIES[name].targets)
    files = {p.name for p in (VARIANTS_DIR / name).glob("*.py")}
    if files == {"lstm_layers.py"}:
        return LSTM_TARGETS
    return {c.target for c in CHECKS
            if ("rnn_classifier.py" in files) == c.target.startswith("RNNClassifier")}


def _sweep_one(job):
    """(kind, name) -> its FINGERPRINTS lists of tests (run in a worker process)."""
    kind, name = job
    os.environ["RNN_GRADER_SECRET"] = CATALOG_SECRET
    with tempfile.TemporaryDirectory() as tmp:
        folder = _build(kind, name, Path(tmp) / "submission")
        # a bug must show in the ordinary cases: the large ones (the same conditions,
        # sized against numeric gradients) are swept for the correct variants only
        targets = _targets_of(kind, name)
        return job, sweep(folder, _fingerprints(folder), targets,
                          LSTM_ON if targets & LSTM_TARGETS else DEFAULT, large=kind == "variant")


@pytest.fixture(scope="session")
def swept():
    """(kind, name) -> FINGERPRINTS lists of tests, for every entry of the catalog."""
    jobs = [("bug", name) for name in ENTRIES] + [("variant", name) for name in VARIANTS]
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(_sweep_one, jobs))


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(kind, name) -> GradingResult of a full grading, once per session."""
    results = {}

    def run(kind: str, name: str):
        if (kind, name) not in results:
            folder = _build(kind, name, tmp_path_factory.mktemp(f"{kind}-{name}") / "s")
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("RNN_GRADER_SECRET", CATALOG_SECRET)
                results[kind, name] = grade(folder, DEFAULT)
        return results[kind, name]

    return run


# ---- the catalog itself ---------------------------------------------------------------

def test_catalog_is_large_enough_and_well_formed():
    assert len(ENTRIES) >= 90 and len(VARIANTS) >= 12
    assert len(ENTRIES) == len(BUGS) + len(REWRITES), "entry names must be unique"
    for bug in BUGS:
        assert bug.targets and set(bug.targets) <= TARGETS, (bug.name, bug.targets)
        assert bug.old != bug.new, bug.name
    for rewrite in REWRITES:
        assert rewrite.targets and set(rewrite.targets) <= TARGETS, rewrite.name
    for name in VARIANTS:
        files = {p.name for p in (VARIANTS_DIR / name).glob("*.py")}
        assert files and files <= set(DEFAULT.student_modules), (name, files)
    assert set(EXPECTED_HINTS) <= set(ENTRIES)


def test_every_bug_snippet_occurs_exactly_once_in_the_reference():
    """A reference edit must not silently disable a bug of the catalog."""
    texts = {name: (SOLUTIONS / name).read_text() for name in DEFAULT.student_modules}
    counts = {bug.name: texts[bug.file].count(bug.old) for bug in BUGS}
    assert {name: n for name, n in counts.items() if n != 1} == {}


def test_fingerprints_draw_different_cases():
    """The sweep's fingerprints are really different: so are the hidden cases."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = _build("variant", VARIANTS[0], Path(tmp) / "s")
        assert len(set(_fingerprints(folder))) == FINGERPRINTS


# ---- verdicts under every fingerprint ----------------------------------------------------

@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_bug_loses_points_on_its_own_function_under_every_fingerprint(swept, name):
    runs = swept["bug", name]
    targets = set(ENTRIES[name].targets)
    assert len(runs) == FINGERPRINTS
    if all(t.max_score == 0 for t in runs[0]):  # provided code (__init__): shown as failed
        assert all(any(t.status == "failed" for t in run) for run in runs)
        return
    missed = [i for i, run in enumerate(runs)
              if not any(t.target in targets and t.score < t.max_score for t in run)]
    assert missed == [], f"{name} got full marks on {targets} under fingerprints {missed}"


@pytest.mark.parametrize("name", VARIANTS)
def test_correct_variant_gets_full_marks_under_every_fingerprint(swept, name):
    runs = swept["variant", name]
    lost = {t.name: t.output for run in runs for t in run if t.score < t.max_score}
    assert len(runs) == FINGERPRINTS and lost == {}


def test_a_variant_gets_100_in_a_full_grading(graded):
    """Every check, the large cases and the numeric-gradient probe included."""
    for name in ("train_array_split_batches", "train_argmax_loss_rebinding",
                 "batch_loops_object_cache", "tanh_from_exp_stable"):
        result = graded("variant", name)
        assert result.score == result.max_score == 100, {
            t.name: t.output for t in result.tests if t.score < t.max_score}


# ---- hints: exactly for their bugs, under every fingerprint -------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED_HINTS))
def test_known_mistake_is_named_under_every_fingerprint(swept, name):
    phrase = EXPECTED_HINTS[name]
    runs = swept["bug", name]
    without = [i for i, run in enumerate(runs)
               if not any(phrase in h for t in run if t.target in ENTRIES[name].targets
                          for h in t.hints)]
    assert without == [], f"no '{phrase}' under fingerprints {without}"
    assert all("提示" in h for run in runs for t in run for h in t.hints), "hints come in Chinese"


def test_each_hint_appears_for_its_bugs_only(swept):
    """No entry of the catalog (bug or variant) gets a hint phrase meant for another."""
    phrases = set(EXPECTED_HINTS.values())
    wrongly = {}
    for (kind, name), runs in swept.items():
        for phrase in phrases - {EXPECTED_HINTS.get(name)}:
            if any(phrase in h for run in runs for t in run for h in t.hints):
                wrongly.setdefault(phrase, []).append(name)
    assert wrongly == {}


def test_hints_are_given_once_per_function(swept):
    """A one-character bug tells its hint once, not once per failing case."""
    for runs in swept.values():
        for run in runs:
            told = [(t.target, h) for t in run for h in t.hints]
            assert len(told) == len(set(told))


@pytest.mark.parametrize("name", sorted(EXPECTED_NOTES))
def test_verdict_says_what_is_wrong(graded, name):
    """Purity, dtype and cache notes name the function and what it did."""
    note = EXPECTED_NOTES[name]
    outputs = [t.output for t in graded("bug", name).tests if t.status != "passed"]
    assert any(note in o for o in outputs), outputs[:3]


# ---- feedback that never misleads --------------------------------------------------------

def test_transposed_gradient_is_called_a_transpose(graded):
    """(H, D) for (D, H) is called axes swapped; where D = H (a square dWx) the values
    say it: the hint, once for the function."""
    tests = [t for t in graded("bug", "step_backward_dWx_transposed").tests
             if t.target == "rnn_step_backward" and t.status != "passed"]
    by_shape = [t for t in tests if t.cause == "invalid"]  # validate.py: a wrong shape
    by_value = [t for t in tests if t.wrong.get("dWx") == "value"]
    assert by_shape and all("its axes swapped" in t.output for t in by_shape)
    assert by_value and all("D=H" in t.case for t in by_value)
    hints = [h for t in tests for h in t.hints if "dWx is the transpose of the right dWx" in h]
    assert len(hints) == 1


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


def test_one_test_never_blames_both_passes(graded):
    for name in ("backward_dWx_last_step_only", "step_backward_dWx_transposed",
                 "forward_step_caches_share_the_state", "backward_tanh_prime_not_squared"):
        for test in graded("bug", name).tests:
            blames = sum(phrase in test.output for phrase in
                         ("the bug is in rnn_", "fix rnn_forward first (store"))
            assert blames <= 1, (name, test.output)


def test_a_cache_broken_by_the_forward_is_blamed_on_the_forward(graded):
    failed = [t for t in graded("bug", "forward_step_caches_share_the_state").tests
              if t.target == "rnn_backward" and t.status != "passed" and not t.withheld]
    assert failed and all(t.blame == "rnn_forward" for t in failed)
    assert not any("the bug is in rnn_backward" in t.output for t in failed)


def test_a_doubled_bptt_gradient_is_not_called_a_missing_division_by_n(graded):
    result = graded("bug", "backward_doubles_weight_gradients")
    hints = [h for t in result.tests for h in t.hints]
    assert not any("N times" in h for h in hints)
    # the loss is graded with the grader's rnn_backward (contract revision 3): the bug
    # costs it nothing, so nothing there can be misnamed either
    loss = [t for t in result.tests if t.target == "RNNClassifier.loss" and t.status != "passed"]
    assert loss == [] and any(t.target == "rnn_backward" and t.status != "passed"
                              for t in result.tests)


def test_points_have_four_decimals_and_add_up_to_exactly_100(graded):
    from decimal import Decimal
    tests = graded("variant", "cs231n_step_loop").tests
    assert all(round(t.max_score, 4) == t.max_score for t in tests)
    assert sum(Decimal(str(t.max_score)) for t in tests) == Decimal(100)


def test_a_case_counts_only_when_every_output_is_right(graded):
    """dWx alone wrong costs the whole case, not a fifth of it."""
    failed = [t for t in graded("bug", "backward_dWx_last_step_only").tests
              if t.target == "rnn_backward" and t.status != "passed"]
    assert failed and all(t.score == 0 for t in failed)
    # right where the bug cannot show (T = 1; saturated units), but the large case failed
    gated = [t for t in failed if not t.wrong]
    assert gated and all(t.withheld for t in gated)
    assert any(t.case.startswith("N=1, T=1") for t in gated)
    assert all("No credit for this case" in t.output for t in gated)
    assert all(set(t.wrong) == {"dWx"} for t in failed if t not in gated)


def test_a_wrong_forward_never_gets_its_backward_blamed(graded):
    """A right backward of a wrong forward disagrees with that forward's numeric gradients
    too: "the bug is in <backward>" would be false there; "fix <forward> first" is said."""
    forwards = {"rnn_step_forward", "rnn_forward"}
    claims = {}
    for name in sorted(n for n, e in ENTRIES.items() if forwards & set(e.targets)):
        for test in graded("bug", name).tests:
            if test.target in ("rnn_step_backward", "rnn_backward") and "first" in test.output:
                if f"the bug is in {test.target}" in test.output or test.blame == "backward":
                    claims.setdefault(name, []).append(test.name)
    assert claims == {}
