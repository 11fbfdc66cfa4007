"""Every reply of the student process checked against the contract before any use.

The reply to an operation (child/layer_ops.py, child/classifier_ops.py) was built by
our code inside a process the submission controls, so nothing in it is trusted. The
reference's output for the same case gives its schema: the same keys, arrays of the
same shape and dtype kind, params dicts with exactly the contract's keys, shapes and
dtype, scalars of the right type and range, lists of bounded length. A reply that fits
comes back restricted to what the grader knows (so that every later computation on it
is bounded by the sizes of the case); one that does not raises InvalidReply, whose
message names the function, the output, what was expected and what came:

    RNNClassifier.train returned params['b_q'] of shape (20, 4); expected (K,) = (4,)

Exact dtypes of outputs (float32 in, float32 out) are left to the judges, which grade
them output by output; params dicts must have the exact dtype here.
"""
import math
from dataclasses import dataclass

import numpy as np

from autograder.sandbox.child import functions
from autograder.judging.compare import describe, shape_hint

# The letters of the contract for each named output (derived from the descriptions)
LETTERS = functions.LETTERS
MAX_KEYS = 32  # entries of params the student's model may list (the contract has 5)
MAX_TEXT = 64  # characters of one key name kept


class InvalidReply(Exception):
    """A reply that does not fit the contract; str() is the line for the student."""


@dataclass(frozen=True)
class _Context:
    target: str  # the function or method graded, first word of the message
    payload: dict


def validate(target: str, kind: str, payload: dict, expected, got) -> dict:
    """got (the decoded reply's "ok" part to a check of `kind`, or to the "numeric"
    operation) checked against expected (the reference's); returns the checked reply,
    keeping only keys the grader knows."""
    if not isinstance(expected, dict):  # the grader's own invariant
        raise TypeError(f"expected output of {kind} is a {type(expected).__name__}")
    context = _Context(target, payload)
    if not isinstance(got, dict):
        raise InvalidReply(f"{target}: the student process sent {describe(got)} instead of "
                           "the grader's reply")
    rules = RULES.get(kind) or EXPLAINING.get(kind, {})
    checked = {}
    for key, want in expected.items():
        if key not in got:
            raise InvalidReply(f"{target}: the student process's reply has no {key!r}")
        checked[key] = rules.get(key, _same)(context, key, got[key], want)
    for key, rule in OPTIONAL.get(kind, {}).items():
        if key in got:
            checked[key] = rule(context, key, got[key], None)
    return checked


# ---- leaves ----------------------------------------------------------------------------

def _array(context, what: str, got, want: np.ndarray, letters: str = "",
           exact_dtype: bool = False) -> np.ndarray:
    """An array of want's shape and dtype kind (float, integer or bool)."""
    target = context.target
    if not isinstance(got, np.ndarray):
        raise InvalidReply(f"{target} returned {what} as {describe(got)}; expected an array "
                           f"of shape {_shape(want, letters)}")
    if got.shape != want.shape:
        raise InvalidReply(f"{target} returned {what} of shape {got.shape}; expected "
                           f"{_shape(want, letters)}{shape_hint(got.shape, want.shape)}")
    kinds = {"f": "f", "i": "iu", "u": "iu", "b": "b"}[want.dtype.kind]
    if got.dtype.kind not in kinds or (exact_dtype and got.dtype != want.dtype):
        expect = want.dtype if exact_dtype else {"f": "a float", "iu": "an integer",
                                                  "b": "a bool"}[kinds]
        raise InvalidReply(f"{target} returned {what} of dtype {got.dtype}; expected "
                           f"{expect}{' array' if not exact_dtype else ''}")
    return got


def _scalar(context, what: str, got, low=-math.inf, high=math.inf, integer=False):
    """A number (a Python int or float, or a 0-d array) in [low, high]; NaN and inf are
    values like any other for a float (the judges say what is wrong with them)."""
    value = got
    if isinstance(got, np.ndarray) and got.ndim == 0 and got.dtype.kind in "fiu":
        value = got.item()
    if type(value) not in ((int,) if integer else (int, float)):
        kind = "an integer" if integer else "a number"
        raise InvalidReply(f"{context.target} returned {what} as {describe(got)}; expected "
                           f"{kind}")
    if not math.isnan(value) and not low <= value <= high:
        raise InvalidReply(f"{context.target} returned {what} = {value:.3g}; expected a "
                           f"value in [{low:g}, {high:g}]")
    return got


def _params(context, what: str, got, want: dict) -> dict:
    """A params dict: exactly the contract's keys, each of the reference's shape and dtype."""
    if not isinstance(got, dict):
        raise InvalidReply(f"{context.target} returned {what} as {describe(got)}; expected "
                           "a dict")
    missing = [k for k in want if k not in got]
    if missing:
        raise InvalidReply(f"{context.target} returned {what} without "
                           f"{', '.join(map(repr, missing))}; expected the keys "
                           f"{', '.join(want)}")
    return {k: _array(context, f"{what}[{k!r}]", got[k], want[k], LETTERS.get(k, ""),
                      exact_dtype=True) for k in want}


def _bounded_list(context, what: str, got, longest: int) -> list:
    if not isinstance(got, list):
        raise InvalidReply(f"{context.target} returned {what} as {describe(got)}; expected "
                           "a list")
    if len(got) > longest:
        raise InvalidReply(f"{context.target} returned {what} with {len(got)} entries; "
                           f"expected at most {longest}")
    return got


def _same(context, what: str, got, want):
    """Anything else: the same structure as the reference's output, exactly."""
    if isinstance(want, np.ndarray):
        return _array(context, what, got, want)
    if isinstance(want, dict):
        if not isinstance(got, dict) or not set(want) <= set(got):
            raise InvalidReply(f"{context.target}: {what} in the student process's reply "
                               f"is {describe(got)}; expected a dict with {sorted(want)}")
        return {k: _same(context, f"{what}[{k!r}]", got[k], v) for k, v in want.items()}
    if isinstance(want, list):
        _bounded_list(context, what, got, len(want))
        if len(got) != len(want):
            raise InvalidReply(f"{context.target} returned {what} with {len(got)} entries; "
                               f"expected {len(want)}")
        return [_same(context, f"{what}[{i}]", g, w) for i, (g, w) in enumerate(zip(got, want))]
    if type(want) in (int, float):
        return _scalar(context, what, got, integer=type(want) is int)
    if want is None or type(got) is not type(want):
        if got is not want:
            raise InvalidReply(f"{context.target}: {what} in the student process's reply "
                               f"is {describe(got)}; expected {describe(want)}")
    return got


def _shape(want: np.ndarray, letters: str) -> str:
    return f"({letters}) = {want.shape}" if letters else str(want.shape)


# ---- the operations ------------------------------------------------------------------------

def _forward_out(context, key, got, want):
    function = context.payload["function"]
    name = functions.PAIRS[function][1][0]
    return _array(context, name, got, want, functions.letters_of(function, name))


def _forward_more(context, key, got, want):
    """A forward's outputs after the first (an LSTM step's next_c), as the reference's."""
    function = context.payload["function"]
    names = functions.OUTPUTS[function][1:]
    _bounded_list(context, "its outputs", got, len(names))
    if len(got) != len(names):
        raise InvalidReply(f"{context.target} returned {len(got) + 1} outputs besides the "
                           f"cache; expected {len(names) + 1}")
    return [_array(context, n, g, w, functions.letters_of(function, n))
            for n, g, w in zip(names, got, want)]


def _grad_letters(function: str, name: str) -> str:
    """The letters of gradient `name` of the forward `function`'s backward."""
    return functions.letters_of(functions.PAIRS[function][0], name)


def _backward_grads(context, key, got, want):
    function = context.payload["function"]
    names = functions.PAIRS[function][2]
    _bounded_list(context, "its gradients", got, len(names))
    if len(got) != len(names):
        raise InvalidReply(f"{context.target} returned {len(got)} gradients; expected "
                           f"{len(names)} ({', '.join(names)})")
    return [_array(context, n, g, w, _grad_letters(function, n))
            for n, g, w in zip(names, got, want)]


def _numeric(context, key, got, want):
    """The child's centred differences of the student's forward: None or float64 arrays
    shaped like the forward's arguments."""
    args = context.payload["args"]
    _bounded_list(context, "numeric gradients", got, len(args))
    checked = []
    for arg, value in zip(args, got):
        if arg.dtype.kind != "f" and value is not None:
            raise InvalidReply(f"{context.target}: a numeric gradient for integer indices")
        if value is not None:
            value = _array(context, "a numeric gradient", value, arg.astype(np.float64))
        checked.append(value)
    return checked


def _init_keys(context, key, got, want):
    _bounded_list(context, "the keys of params", got, MAX_KEYS)
    if not all(isinstance(k, str) for k in got):
        raise InvalidReply(f"{context.target}: the keys of params are not all strings")
    return [k[:MAX_TEXT] for k in got]


def _loss_value(context, key, got, want):
    return _scalar(context, "the loss", got)


def _loss_grads(context, key, got, want):
    return _params_kind_only(context, "grads", got, want)


def _params_kind_only(context, what, got, want):
    """grads of loss(): the keys and shapes of params, a float dtype (the judges say
    whether it is the right one)."""
    if not isinstance(got, dict) or [k for k in want if k not in got]:
        missing = [k for k in want if not isinstance(got, dict) or k not in got]
        raise InvalidReply(f"{context.target} returned {what} without "
                           f"{', '.join(map(repr, missing))}; expected the keys "
                           f"{', '.join(want)}")
    return {k: _array(context, f"{what}[{k!r}]", got[k], want[k], LETTERS.get(k, ""))
            for k in want}


def _scores(context, key, got, want):
    return _array(context, "scores", got, want, LETTERS["scores"])


def _labels(context, key, got, want):
    return _array(context, "labels", got, want, LETTERS["labels"])


def _params_rule(context, key, got, want):
    return _params(context, "params", got, want)


# ---- train(): its reply (the run itself is recorded by the grader: train_serve.TrainRun) -----

def _longest_run(payload) -> int:
    """More loss or predict calls than this (one sample per batch, twice over, every
    epoch) and train() is certainly wrong: longer records are not read."""
    return 2 * payload["train"]["num_epochs"] * (len(payload["y"]) + 2) + 8


def _history(context, key, got, want):
    if not isinstance(got, dict):
        raise InvalidReply(f"{context.target} returned a history of {describe(got)}")
    longest = _longest_run(context.payload)
    checked = {}
    for name in ("loss", "train_acc", "val_acc"):
        if name in got:
            values = _bounded_list(context, f"history[{name!r}]", got[name], longest)
            checked[name] = [_scalar(context, f"history[{name!r}][{i}]", v)
                             for i, v in enumerate(values)]
    return checked


def _final(context, key, got, want):
    return _params(context, "params (when train() returned)", got, want)


def _modified(context, key, got, want) -> list[tuple[str, str]]:
    """Names "function:argument" of arrays a call changed, known names only, as
    (function, argument) pairs (the judges read the pairs, never the names)."""
    known = _known_arguments(context)
    _bounded_list(context, "its list of changed arguments", got, len(known))
    if not all(isinstance(m, str) and m in known for m in got):
        raise InvalidReply(f"{context.target}: the student process named arguments the "
                           "grader does not know")
    return [known[m] for m in got]


def _known_arguments(context) -> dict[str, tuple[str, str]]:
    """"function:argument" as the student process names a changed array -> the pair."""
    function = context.payload.get("function")
    if function in functions.PAIRS:
        back = functions.PAIRS[function][0]
        names = functions.ARG_NAMES[function]
        pairs = ({(function, n) for n in names} | {(back, n) for n in names}
                 | {(back, n) for n in functions.ARG_NAMES[back]})
    else:
        keys = ["X", "y"] + [f"params[{k!r}]" for k in context.payload.get("params", {})]
        pairs = {(f"RNNClassifier.{m}", k) for m in ("loss", "predict") for k in keys}
    return {f"{f}:{arg}": (f, arg) for f, arg in pairs}


def _repeat_differs(context, key, got, want):
    names = functions.PAIRS[context.payload["function"]][2]
    _bounded_list(context, "its list of gradients that changed", got, len(names))
    if not all(isinstance(n, str) and n in names for n in got):
        raise InvalidReply(f"{context.target}: the student process named unknown gradients")
    return list(got)


def _flag(context, key, got, want):
    if type(got) is not bool:
        raise InvalidReply(f"{context.target}: {key} in the student process's reply is "
                           f"{describe(got)}; expected True or False")
    return got


def _labels_each(context, key, got, want):
    _bounded_list(context, "its single-sample predictions", got, len(want))
    if len(got) != len(want):
        raise InvalidReply(f"{context.target} made {len(got)} single-sample predictions; "
                           f"expected {len(want)}")
    return [_array(context, f"predict(X[{i}:{i + 1}])", g, w, "1,")
            for i, (g, w) in enumerate(zip(got, want))]


# every run of train (scripted or the overfit run) is one operation, whose reply is
# what train returned and its params then (the grader records the calls it answered)
_TRAIN_REPLY = {"history": _history, "final": _final}
# keyed by the kind of a check, like judges.JUDGES (tests/test_functions.py)
RULES = {
    "forward": {"out": _forward_out, "more": _forward_more, "modified": _modified,
                "overflow": _flag},
    "backward": {"grads": _backward_grads, "modified": _modified,
                 "repeat_differs": _repeat_differs, "shared_state": _flag, "overflow": _flag},
    "init": {"params": _params_rule, "keys": _init_keys},
    "scores": {"scores": _scores, "modified": _modified},
    "loss": {"loss": _loss_value, "grads": _loss_grads, "modified": _modified},
    "predict": {"labels": _labels, "modified": _modified},
    "predict_each": {"labels": _labels_each},
    "train": _TRAIN_REPLY,
    "overfit": _TRAIN_REPLY,
}
EXPLAINING = {"numeric": {"numeric": _numeric}}  # operations asked only to explain a verdict
OPTIONAL: dict = {}  # keys the student side may add that the reference's output has not
