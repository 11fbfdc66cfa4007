"""Hostile and honest submissions against the principle of issue 19 (items 3-5): each
function is graded on its own (its callees answered by the grader), train() is judged
from the grader's record of its calls, and numeric differentiation fails the large
cases. Each submission is the reference with one function replaced."""
import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest

from autograder.config import DEFAULT
from autograder.judging.grade import grade
from autograder.judging.run_cases import sweep
from conftest import SOLUTIONS
from submissions.rewrites import REWRITES, apply_rewrite

FAST = dataclasses.replace(DEFAULT, timeout_scale=0.5)

# a closed-form fit of the output layer: h_T from the model's own forward, then least
# squares onto scaled one-hot targets (H > N: an exact fit, accuracy 1.0, no SGD at all)
CLOSED_FORM = '''
import numpy as _np

def _closed_form(model, X, y):
    p = model.params
    h = _np.zeros((X.shape[0], p["W_hh"].shape[0]))
    for t in range(X.shape[1]):
        h = _np.tanh(X[:, t] @ p["W_xh"] + h @ p["W_hh"] + p["b_h"])
    K = p["b_q"].shape[0]
    A = _np.hstack([h, _np.ones((len(h), 1))])
    fit = _np.linalg.lstsq(A, 10.0 * _np.eye(K)[y], rcond=None)[0]
    p["W_hq"] = fit[:-1].astype(p["W_hq"].dtype)
    p["b_q"] = fit[-1].astype(p["b_q"].dtype)
'''
# 1. SGD only where the old grader's scripted runs used a subclass of the student's class
TYPE_CHECK = CLOSED_FORM + '''
_honest_train = RNNClassifier.train

def _train(self, X, y, X_val, y_val, **kw):
    if type(self) is not RNNClassifier:
        return _honest_train(self, X, y, X_val, y_val, **kw)
    _closed_form(self, X, y)
    return {"loss": [0.0], "train_acc": [1.0], "val_acc": [1.0]}
RNNClassifier.train = _train
'''
# 2. the worker's operation wrapped at import: the old scripted runs ran as they should
# (their payload carried the script), every other run of train got the closed form
WORKER_WRAPPER = CLOSED_FORM + '''
import sys as _sys
_ops = getattr(_sys.modules.get("__main__"), "OPERATIONS", None)
if isinstance(_ops, dict) and "train_trace" in _ops:
    _original = _ops["train_trace"]

    def _wrapped(modules, payload):
        if "val_acc" in payload:
            return _original(modules, payload)
        model = RNNClassifier(**payload["init"])
        model.params.update({k: v.copy() for k, v in payload.get("params", {}).items()})
        _closed_form(model, payload["X"], payload["y"])
        return {"history": {"loss": [0.0], "train_acc": [1.0], "val_acc": [1.0]},
                "final": {k: v.copy() for k, v in model.params.items()}}
    _ops["train_trace"] = _wrapped
'''
# 3. told apart by the data: honest SGD on the small scripted runs, the closed form on
# the batch to learn (the overfit run is judged on its own record)
BY_SIZE = CLOSED_FORM + '''
_honest_train = RNNClassifier.train

def _train(self, X, y, X_val, y_val, **kw):
    if len(X) < 20:
        return _honest_train(self, X, y, X_val, y_val, **kw)
    _closed_form(self, X, y)
    return {"loss": [0.0], "train_acc": [1.0], "val_acc": [1.0]}
RNNClassifier.train = _train
'''


def _submission(folder: Path, layers: str = "", classifier: str = "",
                replace: tuple[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for name, code in (("rnn_layers.py", layers), ("rnn_classifier.py", classifier)):
        text = (folder / name).read_text()
        if replace and name == "rnn_layers.py":
            assert replace[0] in text
            text = text.replace(*replace)
        (folder / name).write_text(text + textwrap.dedent(code))
    return folder


def _swept(folder: Path, targets: set, config=DEFAULT, large=True):
    return sweep(folder, ["one", "two"], targets, config, large=large)


@pytest.mark.parametrize("code", [TYPE_CHECK, WORKER_WRAPPER], ids=["type_check", "wrapper"])
def test_a_closed_form_train_earns_no_overfit_and_no_sgd_points(code, tmp_path):
    runs = _swept(_submission(tmp_path / "s", classifier=code), {"RNNClassifier.train"})
    for run in runs:
        assert run and all(t.score == 0 for t in run), [(t.name, t.score) for t in run]
        overfit = [t for t in run if "overfit" in t.name]
        # it did learn the batch; it earns nothing because that was not SGD
        assert overfit and all("0.95) ok" in t.output and "No credit for this test" in t.output
                               for t in overfit), overfit[0].output


def test_the_overfit_run_is_judged_on_its_own_record(tmp_path):
    """Honest SGD where the runs are small, the closed form on the batch to learn: the
    scripted runs earn their points, the overfit test none."""
    runs = _swept(_submission(tmp_path / "s", classifier=BY_SIZE), {"RNNClassifier.train"})
    for run in runs:
        assert all(t.score == t.max_score for t in run if "SGD" in t.name)
        overfit = [t for t in run if "overfit" in t.name]
        assert overfit and all(t.score == 0 and "WRONG" in t.output for t in overfit)


def test_one_backward_bug_costs_points_on_its_own_function_only(tmp_path):
    """dWx = instead of += in rnn_backward: rnn_backward loses its 15 points, and
    RNNClassifier.loss, whose calls of it the grader answers, keeps its 22."""
    folder = _submission(tmp_path / "s", replace=(
        "dWx = x_tm.reshape(T * N, D).T @ da_flat  # (D, H)",
        "dWx = x_tm[-1].T @ da[-1]  # (D, H): the last step's only"))
    result = grade(folder, DEFAULT)
    lost = {t.target for t in result.tests if t.score < t.max_score}
    assert lost == {"rnn_backward"}, lost
    assert round(sum(t.score for t in result.tests if t.target == "RNNClassifier.loss"), 4) == 22
    assert result.score == 85
    # the end-to-end view stays, as feedback: said once, on the loss's first test
    told = [t for t in result.tests if "graded with the grader's rnn_backward" in t.output]
    assert [t.target for t in told] == ["RNNClassifier.loss"]


def test_a_step_backward_bug_costs_rnn_backward_nothing(tmp_path):
    """rnn_backward calling rnn_step_backward with its own step caches: the grader
    answers from the inputs the student's step forward was called with."""
    folder = _submission(tmp_path / "s", replace=(
        "db = da.sum(axis=0)  # (H,)\n    ### END SOLUTION\n    return dx, dprev_h",
        "db = da.mean(axis=0)  # (H,)\n    ### END SOLUTION\n    return dx, dprev_h"), layers='''
        def rnn_forward(x, h0, Wx, Wh, b):
            h, caches, prev = np.zeros((x.shape[0], x.shape[1], h0.shape[1])), [], h0
            for t in range(x.shape[1]):
                prev, step = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
                h[:, t] = prev
                caches.append(step)
            return h.astype(x.dtype), caches

        def rnn_backward(dh, cache):
            dx, dWx, dWh, db, dprev = [], 0, 0, 0, np.zeros_like(dh[:, 0])
            for t in reversed(range(dh.shape[1])):
                dxt, dprev, gWx, gWh, gb = rnn_step_backward(dh[:, t] + dprev, cache[t])
                dx.insert(0, dxt)
                dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
            return np.stack(dx, axis=1), dprev, dWx, dWh, db
        ''')
    runs = _swept(folder, {"rnn_step_backward", "rnn_forward", "rnn_backward"}, large=False)
    for run in runs:
        assert {t.target for t in run if t.score < t.max_score} == {"rnn_step_backward"}


# ---- numeric differentiation, perturbations grouped by the outputs they touch --------

GROUPED_FD_BACKWARD = '''
def _forward(x, h0, Wx, Wh, b):  # a private copy: the grader cannot count its calls
    h, prev = np.empty(x.shape[:2] + (Wh.shape[0],)), h0
    for t in range(x.shape[1]):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h[:, t] = prev
    return h

def rnn_forward(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b).astype(x.dtype), (x, h0, Wx, Wh, b)

def rnn_backward(dh, cache, eps=1e-6):
    args = [np.array(a, dtype=np.float64) for a in cache]
    grads = [np.zeros_like(a) for a in args]

    def delta(position, where):  # one pair of forward calls per group
        plus = [a.copy() for a in args]
        plus[position][where] += eps
        minus = [a.copy() for a in args]
        minus[position][where] -= eps
        return (_forward(*plus) - _forward(*minus)) * dh / (2 * eps)

    N, T, D = args[0].shape
    for t in range(T):  # samples decouple: x[:, t, d] of every sample in one group
        for d in range(D):
            grads[0][:, t, d] = delta(0, (slice(None), t, d)).sum(axis=(1, 2))
    for j in range(args[1].shape[1]):
        grads[1][:, j] = delta(1, (slice(None), j)).sum(axis=(1, 2))
    for position in (2, 3, 4):  # shared by every sample and step: entry by entry
        for index in np.ndindex(args[position].shape):
            grads[position][index] = delta(position, index).sum()
    return tuple(g.astype(dh.dtype) for g in grads)
'''

FD_LOSS = '''
def _numeric_loss(self, X, y, by_name):
    p, eps = self.params, 1e-6

    def value():
        N, H = X.shape[0], p["W_hh"].shape[0]
        if by_name:  # through rnn_forward: each call is answered (and counted) by the grader
            h = rnn_forward(X, np.zeros((N, H)), p["W_xh"], p["W_hh"], p["b_h"])[0][:, -1]
        else:
            h = np.zeros((N, H))
            for t in range(X.shape[1]):
                h = np.tanh(X[:, t] @ p["W_xh"] + h @ p["W_hh"] + p["b_h"])
        s = h @ p["W_hq"] + p["b_q"]
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -logp[np.arange(N), y].mean() + 0.5 * self.reg * sum(
            np.sum(p[w] ** 2) for w in ("W_xh", "W_hh", "W_hq"))

    grads = {}
    for k in p:  # the loss is one number: no grouping, entry by entry
        g = np.zeros_like(p[k])
        for index in np.ndindex(p[k].shape):
            old = p[k][index]
            p[k][index] = old + eps
            plus = value()
            p[k][index] = old - eps
            g[index] = (plus - value()) / (2 * eps)
            p[k][index] = old
        grads[k] = g if self.clip is None else np.clip(g, -self.clip, self.clip)
    return float(value()), grads

_honest_loss = RNNClassifier.loss

def _loss(self, X, y=None):
    if y is None:
        return _honest_loss(self, X)
    return _numeric_loss(self, X, y, BY_NAME)
RNNClassifier.loss = _loss
'''


def test_grouped_finite_differences_fail_rnn_backward_at_its_large_case(tmp_path):
    folder = _submission(tmp_path / "s", layers=GROUPED_FD_BACKWARD)
    for run in _swept(folder, {"rnn_backward"}, FAST):
        large = [t for t in run if "large inputs" in t.name]
        assert large and all(t.status == "timeout" for t in large), large[0].output
        assert all(t.score == 0 for t in run)


@pytest.mark.parametrize("by_name", [False, True], ids=["inline_forward", "rnn_forward"])
def test_finite_differences_fail_the_loss(by_name, tmp_path):
    """Inline, the large case times out; through rnn_forward, the grader counts the calls
    it answers and gives no credit at once."""
    folder = _submission(tmp_path / "s", classifier=f"BY_NAME = {by_name}\n" + FD_LOSS)
    for run in _swept(folder, {"RNNClassifier.loss"}, FAST):
        graded = [t for t in run if t.name.startswith("RNNClassifier.loss: loss and")]
        assert graded and all(t.score == 0 for t in graded)
        large = graded[0]
        if by_name:
            assert "numeric gradients" in large.output and "the grader answered" in large.output
        else:
            assert large.status == "timeout", large.output


@pytest.mark.parametrize("update", [
    "self.params[name] -= lr * (grad + self.reg * self.params[name])",
    "self.params[name] -= lr * np.clip(grad, -5, 5)"], ids=["reg_again", "clip_at_5"])
def test_an_update_that_changes_the_answered_gradient_loses_sgd_points(update, tmp_path):
    folder = tmp_path / "s"
    _submission(folder)
    text = (folder / "rnn_classifier.py").read_text()
    assert "self.params[name] -= lr * grad" in text
    (folder / "rnn_classifier.py").write_text(
        text.replace("self.params[name] -= lr * grad", update))
    for run in _swept(folder, {"RNNClassifier.train"}, large=False):
        lost = [t for t in run if t.score < t.max_score]
        assert any("gradients beyond 5" in t.name for t in lost), [t.name for t in lost]
        assert all("WRONG the parameters start as given" in t.output for t in lost)


def test_accuracies_measured_before_the_updates_are_not_called_an_unrestored_best(tmp_path):
    """Issue 21: the snapshots are an epoch off, so the hint about copying and restoring
    the best parameters (which the code does right) must not be given."""
    rewrite = {r.name: r for r in REWRITES}["train_accuracy_before_the_epochs_updates"]
    folder = apply_rewrite(rewrite, tmp_path / "s")
    for run in _swept(folder, {"RNNClassifier.train"}, large=False):
        failed = [t for t in run if "SGD" in t.name and t.status != "passed"]
        assert failed and any("validated" in t.wrong for t in failed)
        assert not any("the last epoch's" in h for t in run for h in t.hints)
