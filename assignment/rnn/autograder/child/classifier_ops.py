"""Operations on RNNClassifier, run identically on the student's and the reference.

See layer_ops for the calling convention. `train_trace` runs the real `train` of the
class on a probe subclass whose loss and predict are scripted, and records what `train`
did with them, so that the grader can check the contract's rules one by one.
Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import numpy as np

from layer_ops import StudentError, plain, unpack

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")


def _model(modules, payload, cls=None):
    """A model built with payload["init"], its params replaced by payload["params"]."""
    model = (cls or modules.rnn_classifier.RNNClassifier)(**payload["init"])
    for name, value in payload.get("params", {}).items():
        model.params[name] = value.copy()
    return model


def _plain_params(params, what):
    if not isinstance(params, dict):
        raise StudentError(f"{what} is a {type(params).__name__}; expected a dict")
    return {k: plain(params[k], f"{what}[{k!r}]") for k in PARAM_NAMES if k in params}


def init(modules, payload):
    """{"init"} -> {"params": the freshly initialised parameters}."""
    model = _model(modules, payload)
    return {"params": _plain_params(model.params, "params"),
            "keys": sorted(str(k) for k in model.params)}


def scores(modules, payload):
    """{"init", "params", "X"} -> {"scores": loss(X)}."""
    model = _model(modules, payload)
    return {"scores": plain(model.loss(payload["X"].copy()), "loss(X)")}


def loss(modules, payload):
    """{"init", "params", "X", "y"} -> {"loss", "grads"}."""
    model = _model(modules, payload)
    value, grads = unpack(model.loss(payload["X"].copy(), payload["y"].copy()),
                          ("loss", "grads"), "RNNClassifier.loss")
    return {"loss": plain(value, "the loss"), "grads": _plain_params(grads, "grads")}


def predict(modules, payload):
    """{"init", "params", "X"} -> {"labels": predict(X)}."""
    return {"labels": plain(_model(modules, payload).predict(payload["X"].copy()), "predict(X)")}


def overfit(modules, payload):
    """{"init", "X", "y", "train"} -> {"params": after training on (X, y) as train and val,
    "own_accuracy": measured with the model's own predict (used by the self-check only)}."""
    model = _model(modules, payload)
    X, y = payload["X"], payload["y"]
    model.train(X.copy(), y.copy(), X.copy(), y.copy(), **payload["train"])
    own = float(np.mean(np.asarray(model.predict(X.copy())) == y))
    return {"params": _plain_params(model.params, "params"), "own_accuracy": own}


def scripted_grads(seed: int, iteration: int, shapes: dict) -> dict:
    """The gradients the probe returns at one iteration (both sides compute the same)."""
    rng = np.random.default_rng([seed, iteration])
    return {k: rng.standard_normal(shape) for k, shape in shapes.items()}


def train_trace(modules, payload):
    """Run the submission's train() with a scripted loss and predict.

    payload: "init", "X" (N, T, D) whose X[:, 0, 0] holds each sample's index, "y",
    "X_val" whose X_val[:, 0, 0] is negative, "y_val", "val_acc" (scripted validation
    accuracy per epoch), "seed" for the scripted gradients, "train" (keyword arguments).
    Returns what train did: the batches it drew (sample indices and labels), the
    parameters before every loss call and at every validation, the history, the final
    parameters.
    """
    base = modules.rnn_classifier.RNNClassifier
    y_train, y_val = payload["y"], payload["y_val"]
    n_batches = -(-len(y_train) // payload["train"]["batch_size"])
    record = {"batch_ids": [], "batch_labels": [], "before": [], "at_val": []}

    class Probe(base):
        def loss(self, X, y=None):  # the contract's parameter names: train may use keywords
            if y is None:  # scores without labels: train() should use predict for that
                raise StudentError("train() called loss(X) without labels; use predict")
            ids = np.asarray(X)[:, 0, 0]
            record["batch_ids"].append(np.rint(ids).astype(np.int64))
            record["batch_labels"].append(np.asarray(y).astype(np.int64))
            record["before"].append(_plain_params(self.params, "params"))
            i = len(record["batch_ids"]) - 1
            shapes = {k: v.shape for k, v in record["before"][-1].items()}
            # np.float64 behaves as a float and as a NumPy scalar (.item()), like any loss
            return np.float64(100.0 + i), scripted_grads(payload["seed"], i, shapes)

        def predict(self, X, *args, **kwargs):
            X = np.asarray(X)
            if X[0, 0, 0] >= 0:  # the training set, or part of it
                return y_train[np.rint(X[:, 0, 0]).astype(np.int64)]
            epoch = max(0, -(-len(record["batch_ids"]) // n_batches) - 1)
            record["at_val"].append((epoch, _plain_params(self.params, "params")))
            correct = round(payload["val_acc"][min(epoch, len(payload["val_acc"]) - 1)]
                            * len(y_val))
            return np.where(np.arange(len(y_val)) < correct, y_val, y_val + 1)

    model = _model(modules, payload, cls=Probe)
    history = model.train(payload["X"].copy(), y_train.copy(), payload["X_val"].copy(),
                          y_val.copy(), **payload["train"])
    if not isinstance(history, dict):
        raise StudentError(f"train returned a {type(history).__name__}; expected the "
                           "history dict")
    return {**record,
            "at_val": [snapshot for _, snapshot in record["at_val"]],
            "val_epochs": [epoch for epoch, _ in record["at_val"]],
            "history": {k: [plain(v, f"history[{k!r}]") for v in history.get(k, [])]
                        for k in ("loss", "train_acc", "val_acc")
                        if isinstance(history.get(k), (list, tuple, np.ndarray))},
            "final": _plain_params(model.params, "params")}
