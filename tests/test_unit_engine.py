"""Unit tests of autograder/judging/engine.py: run_case judges fake students, without a sandbox.

A fake student answers the engine's requests in this process, the way the student
process does: the operation of child/layer_ops.py runs on the reference's layer
functions with some replaced by a student's version, and the reply crosses the wire
format (encode, decode) as it would from the pipe. Failures of the process itself
(a time-out, a crash) are raised as the sandbox raises them."""
import inspect
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from autograder.judging import cases, engine
from autograder.judging.checks import Case, Check, case_points, identity_of
from autograder.sandbox.child import classifier_ops, layer_ops, wire, worker
from autograder.config import Config
from autograder.judging.reference import load_reference
from autograder.judging.results import CAUSES, STATUSES
from autograder.sandbox.process import CallTimeout, ProcessDied
from conftest import SOLUTIONS

REF = load_reference(SOLUTIONS)
HERE = str(Path(__file__).resolve().parent)
LAYERS = REF.rnn_layers
OPS = {"forward": layer_ops.forward, "backward": layer_ops.backward,
       "numeric": layer_ops.numeric, "init": classifier_ops.init,
       "loss": classifier_ops.loss, "predict": classifier_ops.predict}


class FakeStudent:
    """student.request(op, payload, limit, server) as sandbox.Student answers it."""

    def __init__(self, raises=None, reply=None, classifier=None, **functions):
        names = [n for n in dir(LAYERS) if n.endswith(("_forward", "_backward"))]
        layers = SimpleNamespace(**{**{n: getattr(LAYERS, n) for n in names}, **functions})
        lstm = SimpleNamespace(**{n: functions.get(n, getattr(REF.lstm_layers, n))
                                  for n in dir(REF.lstm_layers) if n.startswith("lstm_")})
        model = SimpleNamespace(RNNClassifier=classifier or REF.rnn_classifier.RNNClassifier)
        self.modules = SimpleNamespace(rnn_layers=layers, lstm_layers=lstm, rnn_classifier=model)
        self.raises, self.reply, self.limits = raises, reply, []

    def request(self, op, payload, limit, server=None):
        self.limits.append(limit)
        if self.raises is not None:
            raise self.raises
        if self.reply is not None:
            return self.reply
        try:
            reply = {"ok": OPS[op](self.modules, payload)}
        except Exception as exc:  # noqa: BLE001  the student's exception, as the worker sends it
            reply = {"error": worker.describe_error(exc, HERE)}  # this file: the submission
        return wire.decode(wire.encode(reply))


# ---- students --------------------------------------------------------------------------

def scaled_forward(x, prev_h, Wx, Wh, b):
    next_h, cache = LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)
    return next_h * 1.01, cache


def float64_forward(x, prev_h, Wx, Wh, b):
    next_h, cache = LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)
    return next_h.astype(np.float64), cache


def nan_forward(x, prev_h, Wx, Wh, b):
    next_h, cache = LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)
    next_h = next_h.copy()
    next_h[0, 0] = np.nan
    return next_h, cache


def zeroing_forward(x, prev_h, Wx, Wh, b):
    """Right output, but it zeroes its input x afterwards (the cache holds that x)."""
    next_h, cache = LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)
    x[...] = 0
    return next_h, cache


def transposed_forward(x, prev_h, Wx, Wh, b):
    next_h, cache = LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)
    return next_h.T.copy(), cache


def untupled_forward(x, prev_h, Wx, Wh, b):
    return LAYERS.rnn_step_forward(x, prev_h, Wx, Wh, b)[0]


def stub(*args):
    raise NotImplementedError("rnn_step_forward: not implemented yet")


def broken(*args):
    raise ValueError("operands could not be broadcast together")


def not_squared_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h)  # (N, H): tanh' without its square
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def double_db_backward(dnext_h, cache):
    *grads, db = LAYERS.rnn_step_backward(dnext_h, cache)
    return (*grads, 2 * db)


def zeroing_backward(dnext_h, cache):
    grads = LAYERS.rnn_step_backward(dnext_h, cache)
    dnext_h[...] = 0
    return grads


def cache_changing_backward(dnext_h, cache):
    grads = LAYERS.rnn_step_backward(dnext_h, cache)
    cache[4][...] *= 0.5  # next_h halved in the cache: the second call differs
    return grads


def naive_sigmoid_lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """Right values, but 1 / (1 + exp(-a)) overflows where a is very negative."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = (1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in range(3))
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, REF.lstm_layers.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[2]


def dnext_c_dropped_backward(dnext_h, dnext_c, cache):
    return REF.lstm_layers.lstm_step_backward(dnext_h, 0 * dnext_c, cache)


# ---- checks and cases ------------------------------------------------------------------

STEP = partial(cases.rnn_step, N=3, D=4, H=5)
STEP32 = partial(cases.rnn_step, N=3, D=4, H=5, dtype="float32")
FORWARD = Check("rnn_step_forward", "next_h", "forward", 5, (Case("case", STEP),))
FORWARD32 = Check("rnn_step_forward", "next_h", "forward", 5, (Case("float32", STEP32),))
BACKWARD = Check("rnn_step_backward", "gradients", "backward", 10, (Case("case", STEP),),
                 calls=("rnn_step_forward",))


def grade(check, student, seed=0, **options):
    case = check.cases[0]
    payload = case.make(np.random.default_rng(seed))
    expected = engine.expected_output(check, payload, REF, case)
    return engine.run_case(check, case, payload, expected, student, REF, **options)


LSTM_STEP = partial(cases.lstm_step, N=3, D=4, H=5)
LSTM_FORWARD = Check("lstm_step_forward", "next_h and next_c", "forward", 4,
                     (Case("case", LSTM_STEP),))
LSTM_SATURATED = Check("lstm_step_forward", "next_h and next_c", "forward", 4,
                       (Case("large pre-activations", partial(LSTM_STEP, saturate=True)),))
LSTM_BACKWARD = Check("lstm_step_backward", "gradients", "backward", 6,
                      (Case("case", LSTM_STEP),), calls=("lstm_step_forward",))

# (check, student, status, cause, wrong, blame, words in the feedback or its hints)
ROWS = [
    (FORWARD, FakeStudent(), "passed", "", {}, "", ["next_h: relative error", "ok"]),
    (FORWARD32, FakeStudent(), "passed", "", {}, "", ["tolerance 2e-04"]),
    (FORWARD, FakeStudent(rnn_step_forward=scaled_forward), "failed", "", {"next_h": "value"},
     "", ["WRONG", "Wrong: next_h."]),
    (FORWARD32, FakeStudent(rnn_step_forward=float64_forward), "failed", "",
     {"next_h": "dtype"}, "", ["float32 inputs must give float32"]),
    (FORWARD, FakeStudent(rnn_step_forward=nan_forward), "failed", "", {"next_h": "nonfinite"},
     "", ["NaN or inf"]),
    (FORWARD, FakeStudent(rnn_step_forward=zeroing_forward), "failed", "",
     {"purity": "impure"}, "", ["rnn_step_forward changed x", "never modify its inputs"]),
    (FORWARD, FakeStudent(rnn_step_forward=transposed_forward), "failed", "invalid", {}, "",
     ["rnn_step_forward returned next_h of shape (5, 3); expected (N, H) = (3, 5)"]),
    (FORWARD, FakeStudent(rnn_step_forward=untupled_forward), "error", "exception", {}, "",
     ["Wrong return value: rnn_step_forward returned a ndarray; expected a tuple"]),
    (FORWARD, FakeStudent(rnn_step_forward=stub), "error", "not_implemented", {}, "",
     ["Not implemented yet", "rnn_step_forward: not implemented yet"]),
    (FORWARD, FakeStudent(rnn_step_forward=broken), "error", "exception", {}, "",
     ["ValueError", "operands could not be broadcast"]),
    (FORWARD, FakeStudent(raises=CallTimeout("slow")), "timeout", "timeout", {}, "",
     ["Did not finish within 2 s (an infinite loop, or far too slow?)"]),
    (FORWARD, FakeStudent(raises=ProcessDied("the student process died (SIGKILL)")), "error",
     "crash", {}, "", ["the student process died (SIGKILL)"]),
    (FORWARD, FakeStudent(reply={"neither": 1}), "error", "exception", {}, "", ["ProtocolError"]),
    (FORWARD, FakeStudent(reply=[1, 2]), "error", "exception", {}, "", ["malformed reply"]),
    (FORWARD, FakeStudent(raises=RuntimeError("a bug of the grader")), "error", "internal", {},
     "", ["internal error, not a verdict on your code"]),
    (BACKWARD, FakeStudent(), "passed", "", {}, "", ["dWx: relative error"]),
    (BACKWARD, FakeStudent(rnn_step_backward=not_squared_backward), "failed", "",
     {n: "value" for n in ("dx", "dprev_h", "dWx", "dWh", "db")}, "backward",
     ["1 - next_h**2 (squared)", "with numeric gradients of your own rnn_step_forward: the "
      "bug is in rnn_step_backward"]),
    (BACKWARD, FakeStudent(rnn_step_forward=zeroing_forward), "failed", "",
     {"dWx": "value"}, "rnn_step_forward",  # the forward's impurity: blamed, not judged
     ["fix rnn_step_forward first"]),
    (BACKWARD, FakeStudent(rnn_step_backward=zeroing_backward), "failed", "",
     {"purity": "impure"}, "", ["rnn_step_backward changed dnext_h"]),
    (BACKWARD, FakeStudent(rnn_step_backward=cache_changing_backward), "failed", "",
     {"repeat": "impure"}, "", ["Called twice on the same cache", "a different dx"]),
    # the LSTM step: two outputs, two upstream gradients, no overflow allowed
    (LSTM_FORWARD, FakeStudent(), "passed", "", {}, "", ["next_h: relative", "next_c: relative"]),
    (LSTM_SATURATED, FakeStudent(), "passed", "", {}, "", ["next_c: relative"]),
    (LSTM_FORWARD, FakeStudent(lstm_step_forward=naive_sigmoid_lstm_step), "passed", "", {},
     "", ["next_h: relative"]),  # ordinary values: no overflow
    (LSTM_SATURATED, FakeStudent(lstm_step_forward=naive_sigmoid_lstm_step), "failed", "",
     {"overflow": "overflow"}, "", ["lstm_step_forward overflowed"]),
    (LSTM_BACKWARD, FakeStudent(), "passed", "", {}, "", ["dprev_c: relative error"]),
    (LSTM_BACKWARD, FakeStudent(lstm_step_backward=dnext_c_dropped_backward), "failed", "",
     {n: "value" for n in ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")}, "backward",
     ["The cell state's gradient looks incomplete", "with numeric gradients of your own "
      "lstm_step_forward: the bug is in lstm_step_backward"]),
]


@pytest.mark.parametrize("check, student, status, cause, wrong, blame, words", ROWS,
                         ids=range(len(ROWS)))
def test_run_case(check, student, status, cause, wrong, blame, words):
    result = grade(check, student, time_limit=2.0)
    text = "\n".join([result.output, *result.hints])
    assert (result.status, result.cause, result.wrong, result.blame) == (
        status, cause, wrong, blame), text
    assert result.score == (result.max_score if status == "passed" else 0.0)
    assert result.max_score == check.points and result.case == check.cases[0].label
    assert result.name.startswith(f"{check.target}: {check.what}, ")
    assert result.output.startswith(f"Case: {check.cases[0].label} (N=3 D=4 H=5)")
    assert result.identity == identity_of(check, check.cases[0])  # set where it is known
    assert result.status in STATUSES and result.cause in ("", *CAUSES)
    for word in words:
        assert word in text, text


def test_an_exception_reply_carries_its_fields():
    result = grade(FORWARD, FakeStudent(rnn_step_forward=broken))
    assert result.error["type"] == "ValueError"
    assert result.error["message"] == "operands could not be broadcast together"
    line = inspect.getsourcelines(broken)[1] + 1  # the raise
    assert (result.error["file"], result.error["line"]) == ("test_unit_engine.py", line)
    assert f"ValueError at test_unit_engine.py:{line} in broken: operands" in result.output
    assert engine.error_line(result.error) in result.output.splitlines()  # as data, again


# (partial credit, student, share of the points earned)
PARTIAL = [
    (False, FakeStudent(rnn_step_backward=double_db_backward), 0.0),
    (True, FakeStudent(rnn_step_backward=double_db_backward), 4 / 5),  # 4 of 5 gradients
    (True, FakeStudent(rnn_step_backward=zeroing_backward), 0.0),  # impure: nothing
    (True, FakeStudent(rnn_step_backward=cache_changing_backward), 0.0),
    (True, FakeStudent(), 1.0),
]


@pytest.mark.parametrize("partial_credit, student, share", PARTIAL, ids=range(len(PARTIAL)))
def test_partial_credit(partial_credit, student, share):
    result = grade(BACKWARD, student, partial_credit=partial_credit)
    assert result.score == pytest.approx(BACKWARD.points * share, abs=1e-4)


@pytest.mark.parametrize("partial_credit, share", [(False, 0.0), (True, 2 / 3)])
def test_an_overflow_is_a_part_of_the_case_it_costs(partial_credit, share):
    """next_h and next_c right, but the sigmoid overflowed: 2 of 3 parts."""
    result = grade(LSTM_SATURATED, FakeStudent(lstm_step_forward=naive_sigmoid_lstm_step),
                   partial_credit=partial_credit)
    assert result.score == pytest.approx(LSTM_SATURATED.points * share, abs=1e-4)


# (time_limit, deadline in seconds from now or None, the limit the student is given)
LIMITS = [
    (2.0, None, 2.0),
    (2.0, 60.0, 2.0),
    (10.0, 3.0, 3.0),  # the global budget is nearer
    (10.0, -5.0, 0.05),  # already past: the shortest call, never a negative limit
    (None, None, FORWARD.timeout * 1.5),  # no limit given: the check's, scaled
]


@pytest.mark.parametrize("time_limit, deadline, given", LIMITS, ids=range(len(LIMITS)))
def test_the_call_gets_its_limit_capped_by_the_deadline(time_limit, deadline, given):
    student = FakeStudent(raises=CallTimeout("slow"))
    start = time.monotonic()
    until = None if deadline is None else start + deadline
    grade(FORWARD, student, time_limit=time_limit, deadline=until, timeout_scale=1.5)
    elapsed = time.monotonic() - start  # the deadline came nearer by at most this much
    assert max(given - elapsed, 0.05) - 1e-9 <= student.limits[0] <= given + 1e-9


# (check timeout, reference seconds, floor, multiple, minimum, scale, limit)
CALL_TIME = [
    (10.0, 0.001, 5.0, 50.0, 1.0, 1.0, 5.05),  # floor + multiple x reference
    (10.0, 0.2, 5.0, 50.0, 1.0, 1.0, 10.0),  # capped by the check's own timeout
    (10.0, 0.2, 5.0, 50.0, 1.0, 2.0, 20.0),  # then scaled
    (10.0, 0.0, 0.1, 50.0, 1.0, 1.0, 1.0),  # never below the minimum
    (10.0, 0.0, 0.1, 50.0, 1.0, 0.5, 1.0),  # not even scaled down
    (30.0, 0.1, 2.0, 20.0, 0.5, 1.5, 6.0),  # (2 + 20 x 0.1) x 1.5
]


@pytest.mark.parametrize("timeout, seconds, floor, multiple, minimum, scale, limit", CALL_TIME)
def test_call_time_limit(timeout, seconds, floor, multiple, minimum, scale, limit):
    check = Check("rnn_step_forward", "next_h", "forward", 5, (), timeout=timeout)
    config = Config(call_time_floor=floor, call_time_multiple=multiple, call_time_min=minimum,
                    timeout_scale=scale)
    assert engine.call_time_limit(check, seconds, config) == pytest.approx(limit)


@pytest.mark.parametrize("points, n", [(5, 3), (10, 7), (0.1, 3), (18, 17)])
def test_case_shares_add_up_to_the_check_points(points, n):
    check = Check("x", "y", "forward", points, tuple(Case(str(i), STEP) for i in range(n)))
    shares = [engine.case_share(check, case) for case in check.cases]
    assert shares == case_points(check)
    assert sum(shares) == pytest.approx(points, abs=1e-9)
    assert max(shares) - min(shares) <= 1e-4


def test_redact_filters_the_feedback():
    result = grade(FORWARD, FakeStudent(rnn_step_forward=scaled_forward),
                   redact=lambda text: text.replace("WRONG", "[hidden]"))
    assert "WRONG" not in result.output and "[hidden]" in result.output


def test_explain_false_gives_the_same_verdict_without_asking_numeric_gradients():
    explained = FakeStudent(rnn_step_backward=not_squared_backward)
    quiet = FakeStudent(rnn_step_backward=not_squared_backward)
    a, b = grade(BACKWARD, explained), grade(BACKWARD, quiet, explain=False)
    assert (a.status, a.score, a.wrong) == (b.status, b.score, b.wrong)
    assert len(explained.limits) == 2 and len(quiet.limits) == 1  # + the numeric request
    assert a.blame == "backward" and b.blame == ""


def test_no_reference_gives_no_known_mistake_hints():
    """The self-check grades without the reference: the same verdict, no hints."""
    case = BACKWARD.cases[0]
    payload = case.make(np.random.default_rng(0))
    expected = engine.expected_output(BACKWARD, payload, REF, case)
    student = FakeStudent(rnn_step_backward=not_squared_backward)
    result = engine.run_case(BACKWARD, case, payload, expected, student, None)
    assert result.status == "failed" and not any("squared" in h for h in result.hints)


# ---- the classifier's judges -------------------------------------------------------------

Model = REF.rnn_classifier.RNNClassifier


class SummedLoss(Model):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        reg_part = 0.5 * self.reg * sum(np.sum(self.params[w] ** 2)
                                        for w in ("W_xh", "W_hh", "W_hq"))
        return float(len(y) * (loss - reg_part) + reg_part), grads  # the batch's sum


class NoGradB(Model):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        return loss, {k: v for k, v in grads.items() if k != "b_q"}


class ShiftedPredict(Model):
    def predict(self, X, batch_size=1000):
        return (super().predict(X) + 1) % self.params["b_q"].shape[0]


class FloatPredict(Model):
    def predict(self, X, batch_size=1000):
        return super().predict(X).astype(np.float64)


class WideInit(Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params["W_hh"] = self.params["W_hh"] * 3


class Float32Init(Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}


SMALL = partial(cases.classifier, N=4, T=3, D=4, H=5, reg=0.3)
LOSS = Check("RNNClassifier.loss", "loss and gradients", "loss", 18, (Case("reg", SMALL),))
PREDICT = Check("RNNClassifier.predict", "labels", "predict", 2,
                (Case("N=4", partial(SMALL, distinct_labels=True)),))
INIT = Check("RNNClassifier.__init__", "parameters", "init", 1,
             (Case("float64", partial(cases.classifier_init, D=40, H=130)),))

# (check, student class, status, cause, wrong, words in the feedback or its hints)
CLASSIFIER_ROWS = [
    (LOSS, None, "passed", "", {}, ["loss: relative error", "W_hq: relative error"]),
    (LOSS, SummedLoss, "failed", "", {"loss": "value"}, ["summed over the batch"]),
    (LOSS, NoGradB, "failed", "invalid", {}, ["RNNClassifier.loss returned grads without 'b_q'"]),
    (PREDICT, None, "passed", "", {}, ["labels: 0 of 4 labels differ"]),
    (PREDICT, ShiftedPredict, "failed", "", {"labels": "value"}, ["4 of 4 labels differ"]),
    (PREDICT, FloatPredict, "failed", "invalid", {},
     ["RNNClassifier.predict returned labels of dtype float64; expected an integer array"]),
    (INIT, None, "passed", "", {}, ["ok    W_hh ~ N(0, 1) / sqrt(130)"]),
    (INIT, WideInit, "failed", "", {"rule 3": "rule"}, ["WRONG W_hh ~ N(0, 1) / sqrt(130)"]),
    (INIT, Float32Init, "failed", "invalid", {},
     ["RNNClassifier.__init__ returned params['W_xh'] of dtype float32; expected float64"]),
]


@pytest.mark.parametrize("check, model, status, cause, wrong, words", CLASSIFIER_ROWS,
                         ids=range(len(CLASSIFIER_ROWS)))
def test_classifier_judges(check, model, status, cause, wrong, words):
    result = grade(check, FakeStudent(classifier=model), time_limit=5.0)
    text = "\n".join([result.output, *result.hints])
    assert (result.status, result.cause, result.wrong) == (status, cause, wrong), text
    assert result.score == (result.max_score if status == "passed" else 0.0)
    for word in words:
        assert word in text, text


# ---- sequences, embeddings, large cases ---------------------------------------------------

def single_step_backward(dh, cache):
    """rnn_backward whose weight gradients keep step 0's share only (= instead of +=)."""
    x_tm, h0, Wx, Wh, hs = cache  # the reference's cache: time-major
    dx, dh0, *_ = LAYERS.rnn_backward(dh, cache)
    dprev, da = np.zeros_like(h0), None
    for t in reversed(range(hs.shape[0])):
        da = (dh[:, t] + dprev) * (1 - hs[t] ** 2)  # (N, H)
        dprev = da @ Wh.T
    return dx, dh0, x_tm[0].T @ da, h0.T @ da, da.sum(axis=0)


def buffered_embedding_backward(dout, cache):
    x, shape, dtype = cache
    dW = np.zeros(shape, dtype=dtype)
    dW[x] += dout  # a repeated index keeps one of its gradients
    return dW


SEQ = partial(cases.rnn_sequence, N=3, T=4, D=4, H=5)
SEQ_BACKWARD = Check("rnn_backward", "gradients", "backward", 15, (Case("T=4", SEQ),),
                     calls=("rnn_forward",))
EMBEDDING_BACKWARD = Check("word_embedding_backward", "dW", "backward", 8,
                           (Case("repeats", partial(cases.embedding, N=3, T=4, D=4)),))
LARGE = Check("rnn_step_backward", "gradients", "backward", 10,
              (Case("large inputs", partial(cases.rnn_step, N=64, D=32, H=16), large=True),))

# (check, student, status, wrong, blame, words in the feedback or its hints)
MORE_ROWS = [
    (SEQ_BACKWARD, FakeStudent(), "passed", {}, "", ["dh0: relative error"]),
    (SEQ_BACKWARD, FakeStudent(rnn_backward=single_step_backward), "failed",
     {"dWx": "value", "dWh": "value", "db": "value"}, "backward",
     ["Only one time step's contribution", "the bug is in rnn_backward"]),
    (EMBEDDING_BACKWARD, FakeStudent(), "passed", {}, "", ["dW: relative error"]),
    (EMBEDDING_BACKWARD, FakeStudent(word_embedding_backward=buffered_embedding_backward),
     "failed", {"dW": "value"}, "backward", ["Repeated indices lose their gradients"]),
    (LARGE, FakeStudent(raises=CallTimeout("slow")), "timeout", {}, "",
     ["numeric gradients (2 forward passes per input) cannot finish"]),
    (LARGE, FakeStudent(rnn_step_backward=not_squared_backward), "failed",
     {n: "value" for n in ("dx", "dprev_h", "dWx", "dWh", "db")}, "", ["WRONG"]),
]


@pytest.mark.parametrize("check, student, status, wrong, blame, words", MORE_ROWS,
                         ids=range(len(MORE_ROWS)))
def test_sequences_embeddings_and_large_cases(check, student, status, wrong, blame, words):
    result = grade(check, student, time_limit=5.0)
    text = "\n".join([result.output, *result.hints])
    assert (result.status, result.wrong, result.blame) == (status, wrong, blame), text
    for word in words:
        assert word in text, text
    if check.cases[0].large:  # no known-mistake hints, no numeric explanation there
        assert result.hints == [] and len(student.limits) == 1


@pytest.mark.parametrize("raw_line, line", [(7, 7), ("7", None), (True, None), (0, None),
                                            (1 << 40, None), (7.0, None), (None, None)])
def test_the_error_line_is_a_number_the_grader_checked(raw_line, line):
    """file and line come as fields from the student process, read as data of any type
    (a forged reply may say anything): the line is kept only as a plausible int."""
    from autograder.sandbox.process import plain_error
    error = plain_error({"type": "ValueError", "where": "x.py:7 in f", "file": "x.py\nfake",
                         "line": raw_line, "message": "m"}, 100)
    assert error["line"] == line and error["file"] == "x.py fake"  # one line, as text
    assert engine._error_fields(error)["line"] == line


_F32 = np.array([[1.5, -2.0], [0.0, 3.0]], dtype=np.float32)


@pytest.mark.parametrize("before, after, same", [
    (_F32, _F32.copy(), True),
    (_F32, np.where(_F32 == 3.0, 4.0, _F32).astype(np.float32), False),  # one value written
    (_F32, np.array([[1.5, -2.0], [-0.0, 3.0]], dtype=np.float32), True),  # -0.0: other
    # bytes, the same values
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), True),  # NaN equals NaN
    (_F32, _F32.astype(np.float64), True),  # the same values in another dtype
    (_F32, _F32.reshape(4), False),  # another shape
    (np.arange(3), np.arange(3)[::-1].copy(), False),
    (np.arange(6)[::2], np.array([0, 2, 4]), True),  # a strided view, its values
])
def test_same_values_compares_values_whatever_the_bytes(before, after, same):
    """layer_ops.same_values (the purity checks: did a call change its inputs?)."""
    assert layer_ops.same_values(after, before) is same
