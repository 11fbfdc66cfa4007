"""Operations on RNNClassifier, run identically on the student's and the reference.

See layer_ops for the calling convention. `train` runs the real `train` of the
submission's class; the grader answers its loss and predict calls and records them
(autograder/judging/train_serve.py), so that what train did is seen from outside.
Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import contextlib

import numpy as np

import functions
import served
from layer_ops import StudentError, arranged, plain, same_values, unpack

PARAM_NAMES = functions.PARAM_NAMES


def _model(modules, payload):
    """A model built with payload["init"], its params replaced by payload["params"]
    (laid out as payload["layout"] asks: C order by default)."""
    model = modules.rnn_classifier.RNNClassifier(**payload["init"])
    for i, (name, value) in enumerate(payload.get("params", {}).items()):
        model.params[name] = arranged(value, payload.get("layout", "C"), i)
    return model


def _plain_params(params, what):
    if not isinstance(params, dict):
        raise StudentError(f"{what} is a {type(params).__name__}; expected a dict")
    return {k: plain(params[k], f"{what}[{k!r}]") for k in PARAM_NAMES if k in params}


def _modified(method: str, model, payload, passed: dict) -> list[str]:
    """"RNNClassifier.<method>:<what>" for X, y and every parameter the call changed."""
    changed = [f"RNNClassifier.{method}:{k}" for k, value in passed.items()
               if not same_values(value, payload[k])]
    params = model.params if isinstance(model.params, dict) else {}
    return changed + [f"RNNClassifier.{method}:params[{k!r}]"
                      for k, value in payload.get("params", {}).items()
                      if k in params and not same_values(params[k], value)]


def _inputs(payload, *keys) -> dict:
    return {k: arranged(payload[k], payload.get("layout", "C"), i + 1)
            for i, k in enumerate(keys)}


def _answered(modules, payload, kinds) -> list:
    """The names of `kinds` (served.LAYER_FUNCTIONS or served.METHODS) that the grader
    answers in this request (none without its channel: the self-check)."""
    if getattr(modules, "grader", None) is None:
        return []
    return [n for n in payload.get("served") or () if n in kinds]


def _with_layers(modules, payload):
    names = _answered(modules, payload, served.LAYER_FUNCTIONS)
    if not names:
        return contextlib.nullcontext()
    return served.layer_functions(modules, names, modules.grader)


def _with_methods(modules, payload, model):
    names = _answered(modules, payload, served.METHODS)
    if names:
        served.methods(model, names, modules.grader, lambda p: _plain_params(p, "params"))
    return model


def init(modules, payload):
    """{"init"} -> {"params": the freshly initialised parameters}."""
    model = _model(modules, payload)
    return {"params": _plain_params(model.params, "params"),
            "keys": sorted(str(k) for k in model.params)}


def scores(modules, payload):
    """{"init", "params", "X"} -> {"scores": loss(X), "modified"}."""
    model, passed = _model(modules, payload), _inputs(payload, "X")
    with _with_layers(modules, payload):
        out = plain(model.loss(passed["X"]), "loss(X)")
    return {"scores": out, "modified": _modified("loss", model, payload, passed)}


def loss(modules, payload):
    """{"init", "params", "X", "y"} -> {"loss", "grads", "modified"}."""
    model, passed = _model(modules, payload), _inputs(payload, "X", "y")
    with _with_layers(modules, payload):
        value, grads = unpack(model.loss(passed["X"], passed["y"]), ("loss", "grads"),
                              "RNNClassifier.loss")
    return {"loss": plain(value, "the loss"), "grads": _plain_params(grads, "grads"),
            "modified": _modified("loss", model, payload, passed)}


def predict(modules, payload):
    """{"init", "params", "X"} -> {"labels": predict(X)}."""
    model, passed = _model(modules, payload), _inputs(payload, "X")
    _with_methods(modules, payload, model)
    return {"labels": plain(model.predict(passed["X"]), "predict(X)"),
            "modified": _modified("predict", model, payload, passed)}


def predict_each(modules, payload):
    """{"init", "params", "X"} -> {"labels": [predict(X[i:i + 1]) for every i]}: one
    sample at a time, each answer checked on its own (a constant cannot pass them all)."""
    model, X = _with_methods(modules, payload, _model(modules, payload)), payload["X"]
    return {"labels": [plain(model.predict(X[i:i + 1].copy()), f"predict(X[{i}:{i + 1}])")
                       for i in range(len(X))]}


def train(modules, payload):
    """{"init", "params", "X", "y", "X_val", "y_val", "train", "served"?} -> {"history",
    "final": the params when train() returned}: the submission's own train() on its own
    class, its self.loss and self.predict answered by the grader when "served" names
    them (child/served.py). Every run of train, scripted or not, comes here. Without the
    grader's answers (the self-check) also "own_accuracy": the run's training accuracy
    as its own predict measures it."""
    model = _with_methods(modules, payload, _model(modules, payload))
    names = _answered(modules, payload, served.METHODS)
    history = model.train(payload["X"].copy(), payload["y"].copy(), payload["X_val"].copy(),
                          payload["y_val"].copy(), **payload["train"])
    if not isinstance(history, dict):
        raise StudentError(f"train returned a {type(history).__name__}; expected the "
                           "history dict")
    reply = {"history": {k: [plain(v, f"history[{k!r}]") for v in history.get(k, [])]
                         for k in ("loss", "train_acc", "val_acc")
                         if isinstance(history.get(k), (list, tuple, np.ndarray))},
             "final": _plain_params(model.params, "params")}
    if not names:
        reply["own_accuracy"] = float(np.mean(np.asarray(model.predict(payload["X"].copy()))
                                              == payload["y"]))
    return reply
