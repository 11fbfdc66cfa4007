"""THE table of graded checks. Adding a graded behaviour is adding a row here.

No credit for numeric differentiation: every check of gradients starts with a case too
large for finite differences (2 forwards per input) to finish within its time limit,
while derived gradients take milliseconds; a function that times out fails its
remaining cases, and the checks that call it, at once (grade._grade_case).

A check grades one function or method (`target`) in one way (`kind`, a judge of
engine.py) on several cases; its points are shared equally by its cases, and every
(check, case) pair is one test in the results, named "<target>: <what>, <case label>".
Case labels are stable across submissions (the shapes inside them are random).
"""
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from autograder import cases as c


@dataclass(frozen=True)
class Case:
    label: str  # stable name of the situation, e.g. "N=1, T=1"
    make: Callable  # make(rng) -> payload of the operation
    public: bool = False  # also run by the student's self-check
    large: bool = False  # sized against numeric differentiation: no numeric self-check
    kind: str = ""  # another judge of engine.JUDGES than the check's own (e.g. predict_each)


@dataclass(frozen=True)
class Check:
    target: str  # the function or method graded, first word of every test name
    what: str  # what is checked, e.g. "gradients"
    kind: str  # the judge in engine.JUDGES
    points: float
    cases: tuple[Case, ...]
    tolerance: float = 1e-6  # largest |student - reference| / max|reference| (float64)
    timeout: float = 10.0  # seconds per case
    calls: tuple[str, ...] = field(default=())  # functions it calls: fix those first


def full_name(check: "Check", case: Case) -> str:
    """The one place a test's name is made: "<target>: <what>, <case label>"."""
    return f"{check.target}: {check.what}, {case.label}"


def case_points(check: "Check") -> list[float]:
    """The check's points shared by its cases, each rounded to 4 decimals, the rounding
    spread over the first cases so that they add up to exactly the check's points."""
    units, n = round(check.points * 10_000), len(check.cases)
    base, extra = divmod(units, n)
    return [(base + (i < extra)) / 10_000 for i in range(n)]


def _layer_cases(factory, backward=False, large=None):
    """The situations every layer function is graded in, each present for every
    submission (the values random, the condition not). A backward check adds a case
    too large for numeric differentiation to finish within its time limit."""
    cases = (Case("ordinary", factory, public=True),
             Case("N=1, T=1", partial(factory, N=1, T=1)),
             Case("N=1, D>H", partial(factory, N=1, D=7, H=3)),
             Case("D<H, longer sequence", partial(factory, T=7, D=2, H=6)),
             Case("float32", partial(factory, dtype="float32")),
             Case("large pre-activations, float64", partial(factory, saturate=True, T=3),
                  public=True),
             Case("large pre-activations, float32",
                  partial(factory, saturate=True, T=3, dtype="float32")),
             Case("Fortran-ordered and strided inputs", partial(factory, layout="mixed")))
    if backward:  # first: a time-out there fails the function's other cases at once
        cases = (Case("large inputs (no time for numeric gradients)",
                      partial(factory, **large), large=True),) + cases
    return cases


_STEP_LARGE = {"N": 64, "D": 256, "H": 192}
_SEQ_LARGE = {"N": 32, "T": 16, "D": 128, "H": 96}


def _classifier_cases():
    return (Case("reg=0, no clip", partial(c.classifier), public=True),
            Case("N=1, T=1", partial(c.classifier, N=1, T=1)),
            Case("reg=0.3", partial(c.classifier, reg=0.3)),
            Case("large scores", partial(c.classifier, score_scale=10.0, score_offset=1000.0)),
            # hidden only: its gradients carry ~1e-8 of rounding noise (scores in the
            # thousands), far below the tolerance but too much for the release's bytes
            Case("score rows that differ by thousands", partial(c.classifier, row_spread=3000.0)),
            Case("clip active, reg=0.3", partial(c.classifier, reg=0.3, clip=0.02)),
            Case("clip inactive", partial(c.classifier, clip=50.0)),
            Case("float32", partial(c.classifier, dtype="float32", reg=0.1)),
            Case("Fortran-ordered and strided inputs",
                 partial(c.classifier, reg=0.1, layout="mixed")),
            Case("a label scored thousands below its row's best",
                 partial(c.classifier, label_gap=1500.0)))


def _embedding_cases(backward=False):
    cases = (Case("repeated and unused indices", c.embedding, public=True),
             # a vocabulary of 2048: one index, guessed (W[0], say) with p < 1e-3
             Case("N=1, T=1", partial(c.embedding, N=1, T=1, vocabulary=2048)),
             Case("every index distinct", partial(c.embedding, repeats=False)),
             Case("V > N*T, repeated and unused indices",
                  partial(c.embedding, large_vocabulary=True)),
             Case("float32", partial(c.embedding, dtype="float32")),
             Case("Fortran-ordered and strided inputs", partial(c.embedding, layout="mixed")))
    if backward:  # first, as in _layer_cases
        cases = (Case("large vocabulary (no time for numeric gradients)",
                      partial(c.embedding, N=32, T=16, D=32, large_vocabulary=True,
                              vocabulary=8192), large=True),) + cases
    return cases


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
            Case("batch_size divides N", partial(script, divides=True), public=True),
            Case("validation accuracy 0 at epoch 0",
                 partial(script, val_acc=(0.0, 0.0, 0.0, 0.0, 0.0), patience=2,
                         num_epochs=5, lr_decay=0.9)),
            # the model's own reg, and answered gradients far beyond 5: an update that
            # adds reg * W again, or clips at a number of its own, is not the contract's
            Case("reg=0.3, gradients beyond 5", partial(script, reg=0.3, grad_scale=10.0)))


_LOSS = ("rnn_forward", "rnn_backward")

CHECKS: tuple[Check, ...] = (
    Check("rnn_step_forward", "next_h", "forward", 5, _layer_cases(c.rnn_step)),
    Check("rnn_step_backward", "gradients", "backward", 10,
          _layer_cases(c.rnn_step, backward=True, large=_STEP_LARGE),
          calls=("rnn_step_forward",)),
    Check("rnn_forward", "hidden states", "forward", 10, _layer_cases(c.rnn_sequence)),
    Check("rnn_backward", "gradients", "backward", 15,
          _layer_cases(c.rnn_sequence, backward=True, large=_SEQ_LARGE),
          calls=("rnn_forward",)),
    Check("word_embedding_forward", "vectors", "forward", 4, _embedding_cases()),
    Check("word_embedding_backward", "dW", "backward", 8, _embedding_cases(backward=True),
          calls=("word_embedding_forward",)),
    # __init__ is provided code (no TODO): shown, worth no points, so that a student who
    # breaks it notices.
    Check("RNNClassifier.__init__", "parameters (provided code, 0 points)", "init", 0,
          (Case("float64", c.classifier_init, public=True),
           Case("float32", partial(c.classifier_init, dtype="float32")))),
    Check("RNNClassifier.loss", "scores", "scores", 4, _classifier_cases()[:5], calls=_LOSS),
    Check("RNNClassifier.loss", "loss and gradients", "loss", 18,
          (Case("large inputs (no time for numeric gradients)",
                partial(c.classifier, N=32, T=16, D=96, H=128), large=True),)
          + _classifier_cases(), calls=_LOSS),
    Check("RNNClassifier.predict", "labels", "predict", 2,
          (Case("N=8", partial(c.classifier, N=8, distinct_labels=True), public=True),
           Case("8 single samples (N=1 each)", partial(c.classifier, N=8, distinct_labels=True),
                kind="predict_each")),
          calls=("RNNClassifier.loss",)),
    Check("RNNClassifier.train", "SGD", "train", 14, _train_cases()),
    Check("RNNClassifier.train", "overfit a small batch", "overfit", 10,
          (Case("20 samples", c.overfit_batch, public=True),), timeout=30.0,
          calls=("RNNClassifier.loss",)),
)
