"""THE table of graded checks. Adding a graded behaviour is adding a row here.

No credit for numeric differentiation: every check of gradients starts with a case too
large for finite differences (2 forwards per input) to finish within its time limit,
while derived gradients take milliseconds; a function that times out fails its
remaining cases, and the checks that call it, at once (run_cases._grade_case).

A check grades one function or method (`target`) in one way (`kind`, a judge of
judges.py) on several cases; its points are shared equally by its cases, and every
(check, case) pair is one test in the results, named "<target>: <what>, <case label>".
Case labels are stable across submissions (the shapes inside them are random).
"""
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

from autograder.judging import cases as c
from autograder.judging.domains import Domain, Factor, Level, level
from autograder.judging.results import TestId


@dataclass(frozen=True)
class Case:
    label: str  # stable name of the situation, e.g. "N=1, T=1"
    make: Callable  # make(rng) -> payload of the operation
    public: bool = False  # also run by the student's self-check
    large: bool = False  # sized against numeric differentiation: no numeric self-check
    kind: str = ""  # another judge of judges.JUDGES than the check's own (e.g. predict_each)
    levels: tuple[str, ...] = ()  # the boundaries of its domain it stands at (domains.py)


@dataclass(frozen=True)
class Check:
    target: str  # the function or method graded, first word of every test name
    what: str  # what is checked, e.g. "gradients"
    kind: str  # the judge in judges.JUDGES (and its operation: child/functions.KINDS)
    points: float
    cases: tuple[Case, ...]
    tolerance: float = 1e-6  # largest |student - reference| / max|reference| (float64)
    timeout: float = 10.0  # seconds per case
    calls: tuple[str, ...] = field(default=())  # functions it calls: fix those first


def identity_of(check: "Check", case: Case) -> TestId:
    """The one place a test's identity is made (its name, "<target>: <what>, <case
    label>", is made from it: results.TestId.name)."""
    return TestId(check.target, check.what, case.label, case.levels, case.large)


def case_points(check: "Check") -> list[float]:
    """The check's points shared by its cases, each rounded to 4 decimals, the rounding
    spread over the first cases so that they add up to exactly the check's points."""
    units, n = round(check.points * 10_000), len(check.cases)
    base, extra = divmod(units, n)
    return [(base + (i < extra)) / 10_000 for i in range(n)]


def _layers_domain(factory, sequence=False) -> Domain:
    """rnn_step_* (x (N, D), ...) and rnn_* (x (N, T, D), ...): N, T, D vs H, dtype,
    values past exp's overflow, memory layout."""
    n = (level("N>1", lambda p: _x(p).shape[0] > 1), level("N=1", _n_is(1), N=1))
    t = ()
    if sequence:  # T >= 3 by default: one step kept and step 0 skipped differ then
        t = (Factor("T", (level("T>2", lambda p: _x(p).shape[1] > 2, long=True),
                          level("T=1", lambda p: _x(p).shape[1] == 1, T=1))),
             # N = T: code that swaps the two axes gets the right shape (once suffices)
             Factor("N vs T", (level("N, T drawn", lambda p: True),
                               level("N=T", lambda p: _x(p).shape[0] == _x(p).shape[1] > 1,
                                     n_is_t=True)), alone=True))
    return Domain(factory, (
        Factor("N", n), *t, _AXES,
        _float_dtypes(lambda p: p["args"][0].dtype),
        Factor("values", (level("ordinary values", lambda p: np.abs(p["args"][4]).max() < 10),
                          level("large pre-activations",
                                lambda p: np.abs(p["args"][4]).max() > 80, saturate=True))),
        _LAYOUT), excluded=(("N=T", "T=1"), ("N=T", "N=1")),
        public=((), ("large pre-activations",)))


def _x(p):
    return p["X"] if "X" in p else p["args"][0]


def _n_is(n):
    return lambda p: _x(p).shape[0] == n


def _wx(p):
    return p["params"]["W_xh"] if "params" in p else p["args"][2]


def _float_dtypes(dtype_of) -> Factor:
    return Factor("dtype", (level("float64", lambda p: dtype_of(p) == np.float64),
                            level("float32", lambda p: dtype_of(p) == np.float32,
                                  dtype="float32")))


_AXES = Factor("D vs H", (level("D<H", lambda p: np.subtract(*_wx(p).shape) < 0, dh="<"),
                          level("D=H", lambda p: np.subtract(*_wx(p).shape) == 0, dh="="),
                          level("D>H", lambda p: np.subtract(*_wx(p).shape) > 0, dh=">")))
_LAYOUT = Factor("layout", (level("C-ordered", lambda p: p["layout"] == "C"),
                            level("Fortran-ordered and strided inputs",
                                  lambda p: p["layout"] == "mixed", layout="mixed")))


def _index_level(name: str) -> Level:
    """Indices of dtype `name`; 8 and 16 bits: x * D past its range (8 bits: x at its max)."""
    info = np.iinfo(name)
    narrow = name in c.NARROW_INDEX

    def holds(p):
        x, D = p["args"][0], p["args"][1].shape[1]
        return x.dtype == np.dtype(name) and (not narrow or int(x.max()) * D > info.max
                                              and (info.bits > 8 or x.max() == info.max))
    label = {8: " indices up to its max", 16: " indices, x*D past its max"}.get(info.bits, "")
    return level(name + (label if narrow else " indices"), holds, index_dtype=name)


def _repeats(p) -> bool:
    x, V = p["args"][0], p["args"][1].shape[0]
    return len(np.unique(x)) < x.size and len(np.unique(x)) < V


_INDEX_DTYPES = ("int64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "uint64")
_EMBEDDING = Domain(c.embedding, (
    Factor("index dtype", tuple(_index_level(d) for d in _INDEX_DTYPES), alone=True),
    Factor("indices", (
        level("repeated and unused indices", _repeats),
        level("every index distinct",
              lambda p: len(np.unique(p["args"][0])) == p["args"][0].size, repeats=False),
        level("V > N*T, repeated and unused indices",
              lambda p: _repeats(p) and p["args"][1].shape[0] > p["args"][0].size,
              large_vocabulary=True))),
    # a vocabulary of 2048 for one index: guessed (W[0], say) with p < 1e-3
    Factor("N", (level("N*T>1", lambda p: p["args"][0].size > 1),
                 level("N=1, T=1", lambda p: p["args"][0].shape == (1, 1), N=1, T=1,
                       vocabulary=2048))),
    _float_dtypes(lambda p: p["args"][1].dtype), _LAYOUT,
    Factor("V vs D", (level("V!=D", lambda p: np.subtract(*p["args"][1].shape) != 0),
                      level("V=D", lambda p: np.subtract(*p["args"][1].shape) == 0,
                            v_is_d=True)), alone=True)),
    excluded=(*((_index_level(d).label, "V=D") for d in c.NARROW_INDEX),
              ("N=1, T=1", "V=D"),
              ("N=1, T=1", "repeated and unused indices"),
              ("N=1, T=1", "V > N*T, repeated and unused indices"),
              *(("N=1, T=1", _index_level(d).label) for d in c.NARROW_INDEX)))


def _classifier_values(*labels) -> Factor:
    levels = {"ordinary values": level("ordinary values", lambda p: abs(p["params"]["b_q"]).max() < 10),
              "large scores": level("large scores", lambda p: p["params"]["b_q"].max() > 500,
                                    score_scale=10.0, score_offset=1000.0),
              "scores near -1000": level("scores near -1000",
                                         lambda p: p["params"]["b_q"].max() < -500,
                                         score_offset=-1000.0),
              "score rows that differ by thousands": level(
                  "score rows that differ by thousands", lambda p: _row_spread(p) > 1000,
                  row_spread=3000.0),
              "a label scored thousands below its row's best": level(
                  "a label scored thousands below its row's best",
                  lambda p: np.ptp(p["params"]["b_q"]) > 1000, label_gap=1500.0)}
    return Factor("values", tuple(levels[name] for name in labels), alone=True)


def _row_spread(p) -> float:
    """How far apart the rows' best scores lie (float64, from the case's own params)."""
    params = {k: v.astype(np.float64) for k, v in p["params"].items()}
    scores = c._last_states(params, p["X"].astype(np.float64)) @ params["W_hq"] + params["b_q"]
    return float(np.ptp(scores.max(axis=1)))


_CLASSIFIER_AXES = Factor("axes", (
    level("N>=3, D!=H", lambda p: _x(p).shape[0] >= 3 and np.subtract(*_wx(p).shape) != 0),
    level("N=1, T=1", lambda p: _x(p).shape[:2] == (1, 1), N=1, T=1),
    level("D=H, K=N", lambda p: np.subtract(*_wx(p).shape) == 0
          and p["params"]["b_q"].shape[0] == _x(p).shape[0], dh="=", n_is_k=True)), alone=True)
_EXTREME = ("score rows that differ by thousands", "a label scored thousands below its row's best",
            "large scores", "scores near -1000")
_NO_EXTREME_FLOAT32 = tuple(("float32", e) for e in _EXTREME) + (
    ("N=1, T=1", "score rows that differ by thousands"),)


def _clip_level(label, value) -> Level:
    return level(label, lambda p: p["init"].get("clip", "default") == value, clip=value)


_SCORES = Domain(c.classifier, (
    _CLASSIFIER_AXES, _float_dtypes(lambda p: p["X"].dtype), _LAYOUT,
    _classifier_values("ordinary values", "large scores",
                       "score rows that differ by thousands")),
    excluded=_NO_EXTREME_FLOAT32)
_LOSS_DOMAIN = Domain(c.classifier, (
    _CLASSIFIER_AXES,
    Factor("reg", (level("reg=0", lambda p: p["init"]["reg"] == 0),
                   level("reg=0.3", lambda p: p["init"]["reg"] == 0.3, reg=0.3))),
    Factor("clip", (_clip_level("no clip", None), _clip_level("clip=0", 0.0),
                    _clip_level("clip active (0.02)", 0.02),
                    _clip_level("clip inactive (50)", 50.0),
                    _clip_level("clip left at its default", "default"))),
    _float_dtypes(lambda p: p["X"].dtype), _LAYOUT,
    _classifier_values("ordinary values", "large scores", "score rows that differ by thousands",
                       "a label scored thousands below its row's best")),
    excluded=_NO_EXTREME_FLOAT32)
# predict is provided code, but it carries points: graded past the chunk sizes a correct
# implementation might use (1000, 1024, 4096) and on scores past exp's overflow both ways
_PREDICT = Domain(c.classifier, (
    Factor("N", (level("N=8", _n_is(8), N=8),
                 level("8 single samples (N=1 each)", _n_is(8), kind="predict_each", N=8),
                 level("N=1001", _n_is(1001), N=1001, T=2),
                 level("N=4097", _n_is(4097), N=4097, T=1)), alone=True),
    _classifier_values("ordinary values", "large scores", "scores near -1000",
                       "score rows that differ by thousands"),
    _float_dtypes(lambda p: p["X"].dtype)),
    excluded=(("float32", "score rows that differ by thousands"),),
    fixed={"distinct_labels": True})


def _train_cases():
    script = c.train_script
    return (Case("steady improvement, lr decay 0.5", script, public=True),
            Case("early stop after patience 2",
                 partial(script, val_acc=(0.3, 0.6, 0.6, 0.4, 0.5, 0.9), patience=2,
                         num_epochs=6, lr_decay=0.9)),
            Case("improvement resets the count, patience 2",
                 partial(script, val_acc=(0.3, 0.2, 0.5, 0.4, 0.4, 0.6), patience=2,
                         num_epochs=6, lr_decay=0.8)),
            Case("best epoch first, patience 3",
                 partial(script, val_acc=(0.7, 0.1, 0.3, 0.7, 0.9), patience=3,
                         num_epochs=5, lr_decay=1.0)),
            Case("all epochs run, best epoch in the middle",
                 partial(script, val_acc=(0.2, 0.9, 0.5, 0.4), patience=10, num_epochs=4,
                         lr_decay=0.7)),
            Case("batch_size divides N", partial(script, divides=True, val_acc=(0.2, 0.4),
                                                 num_epochs=2), public=True),
            Case("validation accuracy 0 at epoch 0",
                 partial(script, val_acc=(0.0, 0.0, 0.0, 0.0, 0.0), patience=2,
                         num_epochs=5, lr_decay=0.9)),
            # the model's own reg, and answered gradients far beyond 5: an update that
            # adds reg * W again, or clips at a number of its own, is not the contract's
            Case("reg=0.3, gradients beyond 5",
                 partial(script, reg=0.3, grad_scale=10.0, val_acc=(0.2, 0.4), num_epochs=2)))


_LOSS = ("rnn_forward", "rnn_backward")
_STEP, _SEQUENCE = _layers_domain(c.rnn_step), _layers_domain(c.rnn_sequence, sequence=True)


def _large(factory, **kwargs) -> tuple[Case, ...]:
    """First in a check of gradients: a time-out there fails the function's other cases
    at once, a wrong answer there gates them (run_cases._grade_case)."""
    what = "large vocabulary" if factory is c.embedding else "large inputs"
    return (Case(f"{what} (no time for numeric gradients)", partial(factory, **kwargs),
                 large=True),)


CHECKS: tuple[Check, ...] = (
    Check("rnn_step_forward", "next_h", "forward", 5, _STEP.cases(Case)),
    Check("rnn_step_backward", "gradients", "backward", 10,
          _STEP.cases(Case, _large(c.rnn_step, N=64, D=256, H=192)),
          calls=("rnn_step_forward",)),
    Check("rnn_forward", "hidden states", "forward", 10, _SEQUENCE.cases(Case)),
    Check("rnn_backward", "gradients", "backward", 15,
          _SEQUENCE.cases(Case, _large(c.rnn_sequence, N=32, T=16, D=128, H=96)),
          calls=("rnn_forward",)),
    Check("word_embedding_forward", "vectors", "forward", 4, _EMBEDDING.cases(Case)),
    Check("word_embedding_backward", "dW", "backward", 8,
          _EMBEDDING.cases(Case, _large(c.embedding, N=32, T=16, D=32, large_vocabulary=True,
                                        vocabulary=8192)),
          calls=("word_embedding_forward",)),
    # __init__ is provided code (no TODO): shown, worth no points, so that a student who
    # breaks it notices.
    Check("RNNClassifier.__init__", "parameters (provided code, 0 points)", "init", 0,
          (Case("float64", c.classifier_init, public=True),
           Case("float32", partial(c.classifier_init, dtype="float32")))),
    Check("RNNClassifier.loss", "scores", "scores", 4, _SCORES.cases(Case), calls=_LOSS),
    Check("RNNClassifier.loss", "loss and gradients", "loss", 18,
          _LOSS_DOMAIN.cases(Case, _large(c.classifier, N=32, T=16, D=96, H=128)),
          calls=_LOSS),
    Check("RNNClassifier.predict", "labels", "predict", 2, _PREDICT.cases(Case),
          calls=("RNNClassifier.loss",)),
    Check("RNNClassifier.train", "SGD", "train", 14, _train_cases()),
    Check("RNNClassifier.train", "overfit a small batch", "overfit", 10,
          (Case("20 samples", c.overfit_batch, public=True),), timeout=30.0,
          calls=("RNNClassifier.loss",)),
)


def _lstm_domain(factory, sequence=False) -> Domain:
    """lstm_step_* and lstm_* (the optional extension): N, T, D vs H, dtype, gates past
    exp's overflow (a sigmoid built from exp overflows there), memory layout. Wx (D, 4H)
    is the third argument from the end of both."""
    def d_vs_h(p):
        D, G = p["args"][-3].shape
        return D - G // 4
    n = Factor("N", (level("N>1", lambda p: _x(p).shape[0] > 1), level("N=1", _n_is(1), N=1)))
    t = (Factor("T", (level("T>2", lambda p: _x(p).shape[1] > 2, long=True),
                      level("T=1", lambda p: _x(p).shape[1] == 1, T=1))),) if sequence else ()
    return Domain(factory, (
        n, *t,
        Factor("D vs H", (level("D<H", lambda p: d_vs_h(p) < 0, dh="<"),
                          level("D=H", lambda p: d_vs_h(p) == 0, dh="="),
                          level("D>H", lambda p: d_vs_h(p) > 0, dh=">"))),
        _float_dtypes(lambda p: p["args"][0].dtype),
        Factor("values", (level("ordinary values", lambda p: np.abs(p["args"][-1]).max() < 10),
                          level("large pre-activations",
                                lambda p: np.abs(p["args"][-1]).max() > 80, saturate=True))),
        _LAYOUT), public=((), ("large pre-activations",)))


_LSTM_STEP, _LSTM_SEQUENCE = _lstm_domain(c.lstm_step), _lstm_domain(c.lstm_sequence, True)
# the checks of each optional extension (settings: [lstm] enabled), graded after CHECKS
# so that the cases of CHECKS draw the same inputs whether it is on or off. The points
# here split the extension's own (settings: lstm.points) among its functions.
EXTENSION_CHECKS: dict[str, tuple[Check, ...]] = {"lstm": (
    Check("lstm_step_forward", "next_h and next_c", "forward", 4, _LSTM_STEP.cases(Case)),
    Check("lstm_step_backward", "gradients", "backward", 6,
          _LSTM_STEP.cases(Case, _large(c.lstm_step, N=64, D=256, H=128)),
          calls=("lstm_step_forward",)),
    Check("lstm_forward", "hidden states", "forward", 4, _LSTM_SEQUENCE.cases(Case)),
    Check("lstm_backward", "gradients", "backward", 6,
          _LSTM_SEQUENCE.cases(Case, _large(c.lstm_sequence, N=32, T=16, D=64, H=64)),
          calls=("lstm_forward",)),
)}
ALL_CHECKS = CHECKS + tuple(check for checks in EXTENSION_CHECKS.values() for check in checks)


def calls_of(checks) -> dict[str, tuple[str, ...]]:
    """function -> the graded functions it calls: its checks' calls, in order, once each."""
    calls: dict[str, tuple[str, ...]] = {}
    for check in checks:
        calls[check.target] = tuple(dict.fromkeys(calls.get(check.target, ()) + check.calls))
    return calls


def extension_on(config, name: str) -> bool:
    """Whether the settings turn the optional extension `name` on ([lstm] enabled)."""
    return dict(config.extensions).get(name, False)


def graded(config) -> tuple[Check, ...]:
    """The checks a grading runs: CHECKS, then those of every extension the settings
    turn on ([lstm] enabled: config.extension_on)."""
    return CHECKS + tuple(check for name, checks in EXTENSION_CHECKS.items()
                          if extension_on(config, name) for check in checks)


# each check's argument domain (tests/test_coverage.py: every boundary is hit)
DOMAINS = {("rnn_step_forward", "next_h"): _STEP, ("rnn_step_backward", "gradients"): _STEP,
           ("rnn_forward", "hidden states"): _SEQUENCE,
           ("rnn_backward", "gradients"): _SEQUENCE,
           ("word_embedding_forward", "vectors"): _EMBEDDING,
           ("word_embedding_backward", "dW"): _EMBEDDING,
           ("RNNClassifier.loss", "scores"): _SCORES,
           ("RNNClassifier.loss", "loss and gradients"): _LOSS_DOMAIN,
           ("RNNClassifier.predict", "labels"): _PREDICT,
           ("lstm_step_forward", "next_h and next_c"): _LSTM_STEP,
           ("lstm_step_backward", "gradients"): _LSTM_STEP,
           ("lstm_forward", "hidden states"): _LSTM_SEQUENCE,
           ("lstm_backward", "gradients"): _LSTM_SEQUENCE}
