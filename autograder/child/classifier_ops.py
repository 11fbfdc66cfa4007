"""Operations on RNNClassifier, run identically on the student's and the reference.

See layer_ops for the calling convention. `train_trace` runs the real `train` of the
class on a probe subclass whose loss and predict are scripted, and records what `train`
did with them, so that the grader can check the contract's rules one by one.
Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import numpy as np

from layer_ops import StudentError, arranged, plain, same_values, unpack

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")


def _model(modules, payload, cls=None):
    """A model built with payload["init"], its params replaced by payload["params"]
    (laid out as payload["layout"] asks: C order by default)."""
    model = (cls or modules.rnn_classifier.RNNClassifier)(**payload["init"])
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


def init(modules, payload):
    """{"init"} -> {"params": the freshly initialised parameters}."""
    model = _model(modules, payload)
    return {"params": _plain_params(model.params, "params"),
            "keys": sorted(str(k) for k in model.params)}


def scores(modules, payload):
    """{"init", "params", "X"} -> {"scores": loss(X), "modified"}."""
    model, passed = _model(modules, payload), _inputs(payload, "X")
    out = plain(model.loss(passed["X"]), "loss(X)")
    return {"scores": out, "modified": _modified("loss", model, payload, passed)}


def loss(modules, payload):
    """{"init", "params", "X", "y"} -> {"loss", "grads", "modified"}."""
    model, passed = _model(modules, payload), _inputs(payload, "X", "y")
    value, grads = unpack(model.loss(passed["X"], passed["y"]), ("loss", "grads"),
                          "RNNClassifier.loss")
    return {"loss": plain(value, "the loss"), "grads": _plain_params(grads, "grads"),
            "modified": _modified("loss", model, payload, passed)}


def predict(modules, payload):
    """{"init", "params", "X"} -> {"labels": predict(X)}."""
    model, passed = _model(modules, payload), _inputs(payload, "X")
    return {"labels": plain(model.predict(passed["X"]), "predict(X)"),
            "modified": _modified("predict", model, payload, passed)}


def predict_each(modules, payload):
    """{"init", "params", "X"} -> {"labels": [predict(X[i:i + 1]) for every i]}: one
    sample at a time, each answer checked on its own (a constant cannot pass them all)."""
    model, X = _model(modules, payload), payload["X"]
    return {"labels": [plain(model.predict(X[i:i + 1].copy()), f"predict(X[{i}:{i + 1}])")
                       for i in range(len(X))]}


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
    "X_val" whose X_val[:, 0, 0] is -1 - its index, "y_val", "val_acc" (scripted
    validation accuracy per epoch), "train_correct" (per epoch, how many training
    samples, those of index below it, are predicted right), "seed" for the scripted
    gradients, "train" (keyword arguments).
    Accuracy may be measured with predict(X) or with the argmax of loss(X) (no labels),
    on the whole set or in chunks: both answer by sample index; a loss(X_val, y_val) is
    answered too, and is not an iteration. Returns what train did: the batches it drew
    (sample indices, labels, epoch), the parameters before every loss call and at every
    validation (with its epoch), the history, the final parameters.
    """
    base = modules.rnn_classifier.RNNClassifier
    y_train, y_val = payload["y"], payload["y_val"]
    K = payload["init"]["num_classes"]
    record = {"batch_ids": [], "batch_labels": [], "batch_epochs": [], "before": [],
              "at_val": []}
    # Epochs are told apart by what train does, not by counting batches (a wrong batch
    # count must not shift every later epoch): an epoch ends with a validation, so the
    # first training batch after one begins the next epoch.
    state = {"epochs": 0, "validated": True}

    def epoch() -> int:
        """The epoch under way or just ended (-1 before the first training batch)."""
        return state["epochs"] - 1

    def scripted(key, e):
        values = payload[key]
        return values[min(max(e, 0), len(values) - 1)]

    def labels(model, X) -> np.ndarray:
        """The scripted predictions for rows of X (training or validation rows)."""
        X = np.asarray(X)
        if X.ndim != 3 or len(X) == 0:
            return np.zeros(0, dtype=np.int64)
        ids = np.rint(X[:, 0, 0]).astype(np.int64)
        if X[0, 0, 0] >= 0:  # rows of the training set
            ids = np.clip(ids, 0, len(y_train) - 1)
            right = ids < scripted("train_correct", epoch())
            return np.where(right, y_train[ids], (y_train[ids] + 1) % K)
        rows = np.clip(-1 - ids, 0, len(y_val) - 1)
        state["validated"] = True
        record["at_val"].append((epoch(), _plain_params(model.params, "params")))
        right = rows < round(scripted("val_acc", epoch()) * len(y_val))
        return np.where(right, y_val[rows], (y_val[rows] + 1) % K)

    class Probe(base):
        def loss(self, X, y=None):  # the contract's parameter names: train may use keywords
            if y is None:  # scores: their argmax is the scripted prediction
                return np.eye(K)[labels(self, X)]
            if np.ndim(X) == 3 and len(X) and np.asarray(X)[0, 0, 0] < 0:
                labels(self, X)  # a validation loss (say, for a plot): not an iteration
                return np.float64(0.0), {k: np.zeros_like(v) for k, v in self.params.items()}
            if state["validated"]:
                state["epochs"], state["validated"] = state["epochs"] + 1, False
            ids = np.asarray(X)[:, 0, 0]
            record["batch_ids"].append(np.rint(ids).astype(np.int64))
            record["batch_labels"].append(np.asarray(y).astype(np.int64))
            record["batch_epochs"].append(epoch())
            record["before"].append(_plain_params(self.params, "params"))
            i = len(record["batch_ids"]) - 1
            shapes = {k: v.shape for k, v in record["before"][-1].items()}
            # np.float64 behaves as a float and as a NumPy scalar (.item()), like any loss
            return np.float64(100.0 + i), scripted_grads(payload["seed"], i, shapes)

        def predict(self, X, *args, **kwargs):
            return labels(self, X)

    model = _model(modules, payload, cls=Probe)
    history = model.train(payload["X"].copy(), y_train.copy(), payload["X_val"].copy(),
                          y_val.copy(), **payload["train"])
    if not isinstance(history, dict):
        raise StudentError(f"train returned a {type(history).__name__}; expected the "
                           "history dict")
    return {**record,
            "at_val": [snapshot for _, snapshot in record["at_val"]],
            "val_epochs": [e for e, _ in record["at_val"]],
            "history": {k: [plain(v, f"history[{k!r}]") for v in history.get(k, [])]
                        for k in ("loss", "train_acc", "val_acc")
                        if isinstance(history.get(k), (list, tuple, np.ndarray))},
            "final": _plain_params(model.params, "params")}
