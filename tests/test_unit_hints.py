"""Unit tests of autograder/judging/hints.py: the outputs a known mistake produces get its hint,
the right outputs get none; hints across cases; hints in the instructor's languages.

Each mistake is written here as a student would make it (plain NumPy, independent of
hints.py's predictions), on seeded cases of autograder/judging/cases.py; the right outputs come
from the reference."""
from functools import partial

import numpy as np
import pytest

from autograder.judging import cases, hints
from autograder.judging.compare import Hint, compare_array
from autograder.judging.reference import load_reference
from autograder.judging import results
from conftest import SOLUTIONS

REF = load_reference(SOLUTIONS)
LAYERS, Classifier = REF.rnn_layers, REF.rnn_classifier.RNNClassifier
STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
WEIGHTS = ("W_xh", "W_hh", "W_hq")


# ---- mistakes, as students write them ------------------------------------------------

def step_backward(p, slope="1-h^2"):
    x, prev_h, Wx, Wh, b = p["args"]
    a = x @ Wx + prev_h @ Wh + b  # (N, H)
    h = np.tanh(a)
    da = p["dout"] * {"1-h^2": 1 - h**2, "1-h": 1 - h, "1-a^2": 1 - a**2}[slope]
    return dict(zip(STEP_GRADS, (da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0))))


def sequence_backward(p, slope="1-h^2", assign=False, first=0, carry=True, last_only=False,
                      zero_dh0=False):
    """BPTT with the switches a student gets wrong."""
    x, h0, Wx, Wh, b = p["args"]
    dh = p["dout"]  # (N, T, H)
    T = x.shape[1]
    h = LAYERS.rnn_forward(x, h0, Wx, Wh, b)[0]  # (N, T, H): the forward is right
    dx, dprev = np.zeros_like(x), np.zeros_like(h0)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    for t in range(T - 1, first - 1, -1):
        upstream = dh[:, t] if (t == T - 1 or not last_only) else 0
        ht = h[:, t]
        da = (upstream + (dprev if carry else 0)) * (1 - ht**2 if slope == "1-h^2" else 1 - ht)
        prev = h0 if t == 0 else h[:, t - 1]
        dx[:, t] = da @ Wx.T
        if assign:  # = instead of +=
            dWx, dWh, db = x[:, t].T @ da, prev.T @ da, da.sum(0)
        else:
            dWx, dWh, db = dWx + x[:, t].T @ da, dWh + prev.T @ da, db + da.sum(0)
        dprev = da @ Wh.T
    return dict(zip(SEQ_GRADS, (dx, 0 * dprev if zero_dh0 else dprev, dWx, dWh, db)))


def forward_without_h0(p):
    x, h0, Wx, Wh, b = p["args"]
    h, prev = [], np.zeros_like(h0)
    for t in range(x.shape[1]):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h.append(prev)
    return {"h": np.stack(h, axis=1)}


def embedding_buffered(p):
    x, W = p["args"]
    dW = np.zeros_like(W)
    dW[x] += p["dout"]  # one contribution per repeated index survives
    return {"dW": dW}


def _data_part(p):
    """The mean cross-entropy and its gradients, without regularisation or clipping."""
    model = Classifier(**{**p["init"], "reg": 0.0, "clip": None})
    model.params.update({k: v.copy() for k, v in p["params"].items()})
    return model.loss(p["X"], p["y"])


def _l2(p):
    return sum(float(np.sum(p["params"][w] ** 2)) for w in WEIGHTS)


def classifier_loss(p, bug):
    """(loss, grads) of a loss() with one mistake, made of the right data part."""
    data, grads = _data_part(p)
    reg, clip, N = p["init"]["reg"], p["init"].get("clip", 5.0), len(p["y"])
    loss = data + 0.5 * reg * _l2(p)
    grads = {k: g + (reg * p["params"][k] if k in WEIGHTS else 0) for k, g in grads.items()}
    if bug == "summed":
        loss = N * data + 0.5 * reg * _l2(p)
    elif bug == "reg twice":
        loss = data + reg * _l2(p)
    elif bug == "times N":
        grads = {k: N * g + (reg * p["params"][k] if k in WEIGHTS else 0)
                 for k, g in _data_part(p)[1].items()}
    elif bug == "no reg gradient":
        grads = dict(_data_part(p)[1])
    elif bug == "clip before reg":
        grads = {k: np.clip(g, -clip, clip) + (reg * p["params"][k] if k in WEIGHTS else 0)
                 for k, g in _data_part(p)[1].items()}
        return {"loss": loss, **grads}
    if clip is not None:
        grads = {k: np.clip(g, -clip, clip) for k, g in grads.items()}
    return {"loss": loss, **grads}


# ---- the right outputs ---------------------------------------------------------------

def right(target, p):
    if target == "rnn_step_backward":
        _, cache = LAYERS.rnn_step_forward(*p["args"])
        return dict(zip(STEP_GRADS, LAYERS.rnn_step_backward(p["dout"], cache)))
    if target == "rnn_backward":
        _, cache = LAYERS.rnn_forward(*p["args"])
        return dict(zip(SEQ_GRADS, LAYERS.rnn_backward(p["dout"], cache)))
    if target == "rnn_forward":
        return {"h": LAYERS.rnn_forward(*p["args"])[0]}
    if target == "word_embedding_backward":
        _, cache = LAYERS.word_embedding_forward(*p["args"])
        return {"dW": LAYERS.word_embedding_backward(p["dout"], cache)}
    model = Classifier(**p["init"])
    model.params.update({k: v.copy() for k, v in p["params"].items()})
    loss, grads = model.loss(p["X"], p["y"])
    return {"loss": np.asarray(loss), **grads}


def hints_for(target, p, got):
    """What recognise() says about got, the outputs judged wrong as the engine judges."""
    expected = right(target, p)
    got = {k: np.asarray(v) for k, v in got.items()}
    wrong = {}
    for name, want in expected.items():
        comparison = compare_array(name, want, got[name], 1e-6)
        if not comparison.ok:
            wrong[name] = comparison.reason
    return wrong, hints.recognise(target, p, wrong, got, expected, REF)


STEP = partial(cases.rnn_step, N=3, D=4, H=5)
SEQ = partial(cases.rnn_sequence, N=3, T=4, D=4, H=5)
EMBEDDING = partial(cases.embedding, N=3, T=4, D=4)
LOSS_REG = partial(cases.classifier, N=4, T=3, D=4, H=5, reg=0.3)
LOSS_CLIP = partial(cases.classifier, N=4, T=3, D=4, H=5, reg=0.3, clip=0.02)

# (target, case, the student's outputs, words of the one hint they must get)
MISTAKES = [
    ("rnn_step_backward", STEP, partial(step_backward, slope="1-a^2"), "from the pre-activation"),
    ("rnn_step_backward", STEP, partial(step_backward, slope="1-h"), "1 - next_h**2 (squared)"),
    ("rnn_backward", SEQ, partial(sequence_backward, slope="1-h"), "1 - h_t**2 (squared)"),
    ("rnn_backward", SEQ, partial(sequence_backward, assign=True),
     "Only one time step's contribution"),
    ("rnn_backward", SEQ, partial(sequence_backward, first=1), "Step t = 0 is skipped"),
    ("rnn_backward", SEQ, partial(sequence_backward, carry=False), "not carried back"),
    ("rnn_backward", SEQ, partial(sequence_backward, last_only=True), "Only dh[:, -1] is used"),
    ("rnn_backward", SEQ, partial(sequence_backward, zero_dh0=True), "dh0 is zero"),
    ("rnn_forward", SEQ, forward_without_h0, "The first step ignores h0"),
    ("word_embedding_backward", EMBEDDING, embedding_buffered, "Repeated indices lose"),
    ("RNNClassifier.loss", LOSS_REG, partial(classifier_loss, bug="summed"),
     "summed over the batch"),
    ("RNNClassifier.loss", LOSS_REG, partial(classifier_loss, bug="reg twice"), "added twice"),
    ("RNNClassifier.loss", LOSS_REG, partial(classifier_loss, bug="times N"), "N times too large"),
    ("RNNClassifier.loss", LOSS_REG, partial(classifier_loss, bug="no reg gradient"),
     "reg * W is missing"),
    ("RNNClassifier.loss", LOSS_CLIP, partial(classifier_loss, bug="clip before reg"),
     "clipped before adding reg * W"),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("target, make, student, words", MISTAKES,
                         ids=[row[-1][:30] for row in MISTAKES])
def test_a_known_mistake_gets_its_hint_and_only_it(target, make, student, words, seed):
    p = make(np.random.default_rng(seed))
    wrong, found = hints_for(target, p, student(p))
    assert wrong, "the mistake must give wrong outputs on this case"
    assert [words in h for h in found] == [True], found
    assert "提示：" in found[0] and found[0].startswith("Hint: ")


CASES = [("rnn_step_backward", STEP), ("rnn_backward", SEQ), ("rnn_forward", SEQ),
         ("word_embedding_backward", EMBEDDING), ("RNNClassifier.loss", LOSS_REG),
         ("RNNClassifier.loss", LOSS_CLIP)]


@pytest.mark.parametrize("target, make", CASES, ids=[f"{t} {i}" for i, (t, _) in enumerate(CASES)])
def test_right_outputs_get_no_hint(target, make):
    p = make(np.random.default_rng(5))
    expected = right(target, p)
    # judged right: nothing wrong, no hint
    assert hints.recognise(target, p, {}, expected, expected, REF) == []
    # even told every output is wrong, right values match no mistake
    everything = {name: "value" for name in expected}
    assert hints.recognise(target, p, everything, expected, expected, REF) == []


def _off_by(values, factor):
    return {k: v * factor for k, v in values.items()}


@pytest.mark.parametrize("target, make", CASES[:4], ids=[t for t, _ in CASES[:4]])
def test_an_unknown_mistake_gets_no_hint(target, make):
    p = make(np.random.default_rng(6))
    wrong, found = hints_for(target, p, _off_by(right(target, p), 1.5))
    assert wrong and found == []


# (the right square output, the student's, whether the transpose hint is given)
TRANSPOSED = [
    (np.arange(9.0).reshape(3, 3), np.arange(9.0).reshape(3, 3).T, True),
    (np.arange(9.0).reshape(3, 3), 2 * np.arange(9.0).reshape(3, 3).T, False),
    (np.eye(3), np.eye(3), False),  # symmetric: its transpose is itself, and right
    (np.ones((1, 1)), 2 * np.ones((1, 1)), False),
]


@pytest.mark.parametrize("want, got, hinted", TRANSPOSED, ids=range(len(TRANSPOSED)))
def test_a_transposed_square_output_is_named(want, got, hinted):
    found = hints.recognise("rnn_step_backward", {}, {"dWh": "value"}, {"dWh": got},
                            {"dWh": want}, REF)
    assert [("dWh is the transpose of the right dWh" in h) for h in found] == (
        [True] if hinted else [])


# ---- in_languages --------------------------------------------------------------------

BOTH = Hint("tanh' is 1 - h**2.", "tanh 的导数是 1 - h**2。")
# (hint, languages, what is shown)
LANGUAGES = [
    (BOTH, ("en", "zh"), BOTH),
    (BOTH, ("zh", "en"), BOTH),
    (BOTH, ("en",), "Hint: tanh' is 1 - h**2."),
    (BOTH, ("zh",), "提示：tanh 的导数是 1 - h**2。"),
    ("dWx also disagrees with numeric gradients.", ("zh",),
     "dWx also disagrees with numeric gradients."),
    ("dWx also disagrees with numeric gradients.", ("en",),
     "dWx also disagrees with numeric gradients."),
]


@pytest.mark.parametrize("hint, languages, shown", LANGUAGES, ids=range(len(LANGUAGES)))
def test_in_languages(hint, languages, shown):
    assert hints.in_languages(hint, languages) == shown


def test_every_hint_recognise_gives_splits_into_both_languages():
    p = SEQ(np.random.default_rng(1))
    _, found = hints_for("rnn_backward", p, sequence_backward(p, slope="1-h"))
    english, chinese = (hints.in_languages(found[0], [lang]) for lang in ("en", "zh"))
    assert english.startswith("Hint: ") and "提示" not in english
    assert chinese.startswith("提示：") and "Hint" not in chinese


# ---- pattern_hints(): hints that need several cases of one check ---------------------------

def result(case, status="passed", wrong=None, hints_=()):
    """A test of rnn_step_forward's check whose case stands at the levels in its label."""
    identity = results.TestId("rnn_step_forward", "next_h", case, tuple(case.split(", ")))
    return results.TestResult(identity, 1.0 if status == "passed" else 0.0, 1.0, "", status,
                              list(hints_), wrong=dict(wrong or {}))


NONFINITE = {"next_h": "nonfinite"}
# (tests of one check, index of tests that get the overflow hint)
ACROSS = [
    ([result("N=1"), result("large pre-activations", "failed", NONFINITE)], [1]),
    ([result("N=1", "failed", {"next_h": "value"}),  # an ordinary case fails too: no hint
      result("large pre-activations", "failed", NONFINITE)], []),
    ([result("N=1"), result("large pre-activations", "failed", {"next_h": "value"})], []),
    ([result("N=1"), result("large pre-activations, float32", "failed", NONFINITE),
      result("large pre-activations, float64", "failed", NONFINITE)], [1]),  # once per function
    ([result("large pre-activations", "failed", NONFINITE)], []),  # no ordinary case
]


@pytest.mark.parametrize("tests, hinted", ACROSS, ids=range(len(ACROSS)))
def test_across_gives_the_overflow_hint_once(tests, hinted):
    hints.pattern_hints(tests)
    hints.once_per_function(tests)
    assert [i for i, t in enumerate(tests) if any("overflows" in h for h in t.hints)] == hinted


def test_a_hint_is_kept_on_the_first_test_of_its_function_only():
    same = "Hint: x\n      提示：x"
    tests = [result("a", "failed", {"next_h": "value"}, [same]),
             result("b", "failed", {"next_h": "value"}, [same, same, "Hint: other"])]
    hints.pattern_hints(tests)
    hints.once_per_function(tests)
    assert [t.hints for t in tests] == [[same], ["Hint: other"]]


@pytest.mark.parametrize("pattern", hints.PATTERNS, ids=lambda p: p.markers[0])
def test_every_pattern_marks_levels_its_functions_cases_stand_at(pattern):
    """A marker is a level of the cases' domains (not a piece of a label): each one marks
    a case of every function the pattern names."""
    from autograder.judging.checks import ALL_CHECKS
    for target in pattern.targets:
        levels = {lv for c in ALL_CHECKS if c.target == target for case in c.cases
                  for lv in case.levels}
        assert set(pattern.markers) <= levels, (target, set(pattern.markers) - levels)
