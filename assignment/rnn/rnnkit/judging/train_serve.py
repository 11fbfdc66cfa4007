"""train() judged from outside: the grader answers every loss and predict call of a run.

The student's own `train` runs in the student process on its own class; its
`self.loss` and `self.predict` are answered here (child/served.methods), so every
parameter value train uses, every batch and every accuracy it measures passes through
the grader, which records them. The scripted runs answer with scripted gradients and
accuracies (payload["grader"], never sent to the student process); the overfit run
answers with the reference. Both look the same to the student's code: the same class,
the same operation, the same calls. train_rules.py reads the record.
"""
import time
from types import SimpleNamespace

import numpy as np

from rnnkit.sandbox.child import classifier_ops, served
from rnnkit.judging.serve import (SERVE_SECONDS, LocalChannel, Refused, checked_batch, checked_labels,
                             describe_value, reference_model)


def longest_run(payload) -> int:
    """More loss or predict calls than this (one sample per batch, twice over, every
    epoch) and train() is certainly wrong: the grader stops answering."""
    return 2 * payload["train"]["num_epochs"] * (len(payload["y"]) + 2) + 8


def scripted_grads(seed: int, iteration: int, shapes: dict, scale: float = 1.0) -> dict:
    """The gradients a scripted run answers at one iteration."""
    rng = np.random.default_rng([seed, iteration])
    return {k: scale * rng.standard_normal(shape) for k, shape in shapes.items()}


class TrainRun:
    """Answers the calls of one train() run and records them (a callable for
    sandbox.request, or for serve.LocalChannel in the grader's own process)."""

    names = served.METHODS  # what it answers: self.loss and self.predict

    def __init__(self, payload: dict, reference=None):
        self.payload, self.reference = payload, reference
        self.script = payload.get("grader", {})  # empty: answer with the reference
        self.train_rows = _row_index(payload["X"])
        self.val_rows = _row_index(payload["X_val"])
        self.same_sets = self.train_rows.keys() == self.val_rows.keys()
        self.epochs, self.validated, self.calls = 0, True, 0
        self.refused, self.seconds = "", 0.0
        self.model = None  # the reference's model of the case, given each call's params
        self.record = {"batch_ids": [], "batch_labels": [], "batch_epochs": [], "before": [],
                       "grads": [], "losses": [], "at_val": [], "val_epochs": [],
                       "val_right": [], "observed": []}

    def epoch(self) -> int:
        """The epoch under way or just ended (-1 before the first training batch)."""
        return self.epochs - 1

    def __call__(self, call) -> dict:
        began = time.perf_counter()
        try:
            return {"answer": self._answer(call)}
        except Refused as exc:
            self.refused = self.refused or str(exc)
            return {"error": str(exc)}
        finally:
            self.seconds += time.perf_counter() - began

    def _answer(self, call) -> dict:
        name = call.get("name") if isinstance(call, dict) else None
        if name not in self.names:
            what = " ".join(str(name)[:60].split())  # the student's text, one line
            raise Refused(f"train called {what}, which the grader does not answer")
        self.calls += 1
        if self.calls > longest_run(self.payload) or self.seconds > SERVE_SECONDS:
            raise Refused(f"train called loss and predict more than "
                          f"{longest_run(self.payload)} times")
        params = checked_params(self.payload, call.get("params"))
        X = checked_batch(call.get("X"), self.payload)
        if len(X) > len(self.train_rows) + len(self.val_rows):
            raise Refused(f"train called loss or predict on {len(X)} rows, more than X and "
                          "X_val hold")
        train_ids, val_ids = self._rows(X)
        if name == "RNNClassifier.loss" and call.get("y") is not None:
            y = checked_labels(call["y"], len(X), self.payload)
            if train_ids is not None and not (self.same_sets and len(X) >
                                              self.payload["train"]["batch_size"]):
                return self._iteration(X, y, train_ids, params)
        if val_ids is not None and (train_ids is None or self.same_sets):
            self.validated = True
            self.record["at_val"].append(params)
            self.record["val_epochs"].append(self.epoch())
        elif train_ids is None:
            raise Refused("train called loss or predict on rows that are not rows of X or "
                          "X_val: pass X[batch] unchanged")
        self.record["observed"].append(("measure", self.epoch(), params, None))
        if name == "RNNClassifier.loss" and call.get("y") is not None:  # a validation loss
            return self._validation_loss(X, call["y"], params)
        labels = self._labels(X, train_ids, val_ids, params)
        if name == "RNNClassifier.predict":
            return {"labels": labels}
        return {"scores": np.eye(self.payload["init"]["num_classes"])[labels]}

    def _rows(self, X):
        """The training and validation sample indices of X's rows (None: not all there)."""
        dtype = self.payload["X"].dtype
        keys = [np.ascontiguousarray(row, dtype=dtype).tobytes() for row in X]
        train = [self.train_rows.get(k) for k in keys]
        val = [self.val_rows.get(k) for k in keys]
        return (None if None in train else np.array(train, dtype=np.int64),
                None if None in val else np.array(val, dtype=np.int64))

    def _iteration(self, X, y, ids, params) -> dict:
        if self.validated:  # the first training batch after a validation: a new epoch
            self.epochs, self.validated = self.epochs + 1, False
        i = len(self.record["batch_ids"])
        if self.script:
            shapes = {k: v.shape for k, v in params.items()}
            loss = 100.0 + i
            grads = scripted_grads(self.script["seed"], i, shapes,
                                   self.script.get("grad_scale", 1.0))
        else:
            loss, grads = self._reference(params).loss(X, y)
            loss = float(loss)
        record = self.record
        record["batch_ids"].append(ids)
        record["batch_labels"].append(y.astype(np.int64))
        record["batch_epochs"].append(self.epoch())
        record["before"].append(params)
        record["grads"].append(grads)
        record["losses"].append(loss)
        record["observed"].append(("iteration", self.epoch(), params, grads))
        return {"loss": loss, "grads": grads}

    def _validation_loss(self, X, y, params) -> dict:
        if self.script:
            return {"loss": 0.0, "grads": {k: np.zeros_like(v) for k, v in params.items()}}
        loss, grads = self._reference(params).loss(X, checked_labels(y, len(X), self.payload))
        return {"loss": float(loss), "grads": grads}

    def _labels(self, X, train_ids, val_ids, params) -> np.ndarray:
        """The answered predictions: scripted by sample index, or the reference's."""
        validation = val_ids is not None and (train_ids is None or self.same_sets)
        if not self.script:
            labels = self._reference(params).predict(X)
            if validation:
                right = labels == self.payload["y_val"][val_ids]
                self.record["val_right"].append((self.epoch(), val_ids, right))
            return labels
        e = self.epoch()
        K = self.payload["init"]["num_classes"]
        if validation:
            y_val = self.payload["y_val"]
            right = val_ids < round(_scripted(self.script["val_acc"], e) * len(y_val))
            return np.where(right, y_val[val_ids], (y_val[val_ids] + 1) % K)
        y = self.payload["y"]
        right = train_ids < _scripted(self.script["train_correct"], e)
        return np.where(right, y[train_ids], (y[train_ids] + 1) % K)

    def _reference(self, params: dict):
        """The reference's model holding `params` (already checked: reference_model_params)."""
        if self.model is None:
            self.model = reference_model(self.reference, self.payload, self.payload["params"])
        self.model.params.update(params)
        return self.model

    def val_accuracies(self) -> list[float]:
        """Per epoch, the validation accuracy the answers gave (the first answer for each
        validation sample in the epoch), scripted or the reference's."""
        if self.script:
            return list(self.script["val_acc"])
        n_val, per_epoch = len(self.payload["y_val"]), {}
        for epoch, ids, right in self.record["val_right"]:
            seen = per_epoch.setdefault(epoch, {})
            for i, ok in zip(ids.tolist(), right.tolist()):
                seen.setdefault(i, ok)
        return [sum(per_epoch.get(e, {}).values()) / n_val
                for e in range(max(per_epoch, default=-1) + 1)]


    def outcome(self, final: dict, reference) -> dict:
        """What the judges read besides the record: for the overfit run, the validation
        accuracy per epoch as answered, and the training accuracy of the params train
        returned (already checked against the contract), measured with the reference."""
        if self.script or reference is None:
            return {}
        labels = reference_model(reference, self.payload, final).predict(self.payload["X"])
        return {"val_acc": self.val_accuracies(),
                "accuracy": float(np.mean(labels == self.payload["y"]))}


def expected(payload: dict) -> dict:
    """The form of train's reply (validate.py reads it): the history and params of the
    case's shapes and dtype. Every run of train is judged on the grader's record of the
    student's run alone; tests/test_train_serve.py holds the reference to every rule
    through the same answers (reference_run)."""
    return {"history": {}, "final": {k: v.copy() for k, v in payload["params"].items()}}


def reference_run(payload: dict, reference, request: dict) -> tuple[dict, dict]:
    """The reference's train on a case, answered here as a student's would be (through
    the wire format, nothing shared): (its reply, the record of its run)."""
    run = TrainRun(payload, reference if "grader" not in payload else None)
    modules = SimpleNamespace(rnn_layers=reference.rnn_layers,
                              rnn_classifier=reference.rnn_classifier,
                              grader=LocalChannel(run))
    reply = classifier_ops.train(modules, {**request, "served": list(TrainRun.names)})
    return reply, {**run.record, **run.outcome(reply["final"], reference)}


def checked_params(payload: dict, params) -> dict:
    """The params a call sent: exactly the contract's keys, of the case's shapes and
    dtype (those the run started from), copied."""
    start = payload["params"]
    if not isinstance(params, dict):
        raise Refused(f"the model's params are {describe_value(params)}; expected a dict")
    checked = {}
    for key, value in start.items():
        got = params.get(key)
        if not isinstance(got, np.ndarray) or got.shape != value.shape or got.dtype != value.dtype:
            raise Refused(f"params[{key!r}] is {describe_value(got)}; expected {value.dtype} of "
                          f"shape {value.shape}")
        checked[key] = got.copy()
    return checked


def _row_index(X: np.ndarray) -> dict:
    return {np.ascontiguousarray(row).tobytes(): i for i, row in enumerate(X)}


def _scripted(values, epoch: int):
    return values[min(max(epoch, 0), len(values) - 1)]
