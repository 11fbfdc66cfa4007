"""Calls the grader answers: the student's side.

While a graded function runs, the graded functions it calls by name (contract revision
3: `rnn_forward` the step forward, `RNNClassifier.loss` the sequence functions, `train`
`self.loss` and `self.predict`, ...) may be answered by the grader, which runs the
reference in its own process: the reference never comes here. A stub stands in for
each such name; it sends {"call": {"name", ...arguments}} on the reply pipe, and the
grader answers on the request pipe with {"answer": ...} or {"error": message}.
A forward function answered this way returns a GraderCache: the cache itself stays with
the grader, and the matching backward, answered too, is given it back by its number.

Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import contextlib

import numpy as np

import functions
import wire

# derived from the descriptions (functions.py)
LAYER_FUNCTIONS, FORWARD_OF, METHODS = (functions.LAYER_FUNCTIONS, functions.FORWARD_OF,
                                        functions.METHODS)
PARAMETERS = functions.PARAMETERS  # the contract's parameter names (keywords allowed)

class ServedCallError(Exception):
    """The grader could not answer a call (wrong arguments, too many calls)."""


class GraderCache:
    """The cache of a forward function the grader answered: the grader keeps it; pass
    it unchanged to the matching backward function (a cache is never looked into)."""

    __slots__ = ("number", "function")

    def __init__(self, number: int, function: str):
        self.number, self.function = number, function

    def __repr__(self):
        return f"<cache of {self.function}, kept by the grader>"

    def _opaque(self, *args):
        raise TypeError(f"this cache was made by the grader's {self.function} (it answers "
                        "the graded functions a graded function calls): pass it unchanged "
                        f"to {self._backward()}, never look inside it")

    def _backward(self):
        return {v: k for k, v in FORWARD_OF.items()}.get(self.function, "its backward")

    def __bool__(self):
        return True

    __getitem__ = __iter__ = _opaque


class PipeChannel:
    """The grader's answers, on the pipes of the student process."""

    def __init__(self, requests, replies):
        self.requests, self.replies = requests, replies

    def call(self, name: str, arguments: dict):
        self.replies.write(wire.frame({"call": {"name": name, **arguments}}))
        self.replies.flush()
        header = self.requests.read(8)
        if len(header) < 8:
            raise SystemExit(0)  # the grader is gone
        reply = wire.decode(self.requests.read(int.from_bytes(header, "little")))
        if "error" in reply:
            raise ServedCallError(str(reply["error"]))
        return reply["answer"]


def _plain_argument(value):
    """An argument as plain data: arrays copied, a GraderCache by its number."""
    if isinstance(value, GraderCache):
        return {"cache": value.number}
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=value.dtype.newbyteorder("="), order="C", subok=False)
    if isinstance(value, (np.generic, int, float)) and not isinstance(value, bool):
        return np.asarray(value)
    raise ServedCallError(f"an argument of type {type(value).__name__}; expected an array")


def _function_stub(channel, name: str, own, recorded: dict):
    """What stands for the layer function `name`. A backward given a cache that the
    student's own step forward made (`recorded`: id -> (cache, inputs)) sends those
    inputs instead; a cache the grader cannot know is handled by the student's own
    function (`own`)."""
    backward = name in FORWARD_OF

    def stub(*args, **kwargs):
        args = _positional(name, args, kwargs)
        if backward:
            *upstream, cache = args  # one upstream gradient per output (an LSTM step: 2)
            dout = [_plain_argument(u) for u in upstream]
            dout = dout if len(dout) > 1 else dout[0]
            if isinstance(cache, GraderCache):
                sent = {"dout": dout, "cache": cache.number}
            elif id(cache) in recorded and recorded[id(cache)][0] is cache:
                sent = {"dout": dout,
                        "inputs": [_plain_argument(a) for a in recorded[id(cache)][1]]}
            else:
                return own(*args)
            grads = channel.call(name, sent)["grads"]  # one gradient: returned bare
            return tuple(grads) if len(functions.FUNCTIONS[name].outputs) > 1 else grads[0]
        answer = channel.call(name, {"args": [_plain_argument(a) for a in args]})
        outs = answer["out"] if len(functions.OUTPUTS[name]) > 1 else [answer["out"]]
        return (*outs, GraderCache(answer["cache"], name))

    stub.__name__ = name
    return stub


def _positional(name: str, args: tuple, kwargs: dict) -> list:
    """The call's arguments in the contract's order, keywords included."""
    names = PARAMETERS[name]
    if len(args) > len(names) or set(kwargs) - set(names[len(args):]):
        raise TypeError(f"{name}() takes the arguments ({', '.join(names)})")
    missing = [n for n in names[len(args):] if n not in kwargs]
    if missing:
        raise TypeError(f"{name}() missing the argument(s) {', '.join(missing)}")
    return list(args) + [kwargs[n] for n in names[len(args):]]


@contextlib.contextmanager
def layer_functions(modules, names, channel, recorded=None):
    """Within the block, each layer function in `names` is answered by the grader: the
    module attribute <its module>.<name> (rnn_layers.rnn_forward) and every global of
    rnn_classifier bound to the same function (`from rnn_layers import rnn_forward`)
    stand for it."""
    classifier = _loaded_classifier(modules)
    saved = []
    try:
        for name in names:
            layers = getattr(modules, functions.FUNCTIONS[name].module)
            own = getattr(layers, name, None)
            stub = _function_stub(channel, name, own, recorded if recorded is not None else {})
            saved.append((layers, name, own))
            setattr(layers, name, stub)
            if classifier is not None and own is not None:
                for key, value in list(vars(classifier).items()):
                    if value is own:
                        saved.append((classifier, key, own))
                        setattr(classifier, key, stub)
        yield
    finally:
        for module, key, value in reversed(saved):
            if value is None:
                delattr(module, key)
            else:
                setattr(module, key, value)


def _loaded_classifier(modules):
    """The submission's rnn_classifier if it is imported already (a layer check must not
    import it: its import may fail on its own)."""
    try:
        return vars(modules).get("rnn_classifier")
    except TypeError:
        return None


def methods(model, names, channel, plain_params):
    """Stand the grader in for model.loss / model.predict (instance attributes: the
    class is the student's own, the same in every run)."""
    def loss(X, y=None):
        sent = {"X": _plain_argument(X), "params": plain_params(model.params)}
        if y is not None:
            sent["y"] = _plain_argument(y)
        answer = channel.call("RNNClassifier.loss", sent)
        if "scores" in answer:  # asked without labels
            return answer["scores"]
        return np.float64(answer["loss"]), answer["grads"]

    def predict(X, *args, **kwargs):
        answer = channel.call("RNNClassifier.predict",
                              {"X": _plain_argument(X), "params": plain_params(model.params)})
        return answer["labels"]

    stubs = {"RNNClassifier.loss": loss, "RNNClassifier.predict": predict}
    for name in names:
        setattr(model, name.split(".")[1], stubs[name])
