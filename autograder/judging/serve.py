"""The grader's answers to the calls a graded function makes (contract revision 3).

While a function is graded, the graded functions it calls by name are answered here,
by the reference in the grader's process (the reference never enters the sandbox), so
that one mistake costs points in one place only: a loss graded with the reference's
rnn_forward and rnn_backward, an rnn_backward with the reference's step backward.
child/served.py is the other end. Every call is data from the student process: its
name must be one this case serves, its arguments fit the contract's shapes and sizes,
and the number of calls is bounded; anything else is refused with a message for the
student. Forward calls are counted here, on the grader's side: a backward (or a loss)
that calls its forward far more often than deriving needs is differentiating
numerically.
"""
import time
from collections import Counter

import numpy as np

from autograder.sandbox.child import functions, served, wire

# derived from the descriptions (child/functions.py): the forward functions; target ->
# the graded functions it may call by name, answered by the grader (predict is provided
# code: the contract names no callee of it to answer); each forward's arguments
FORWARDS, SERVED = functions.FORWARDS, functions.SERVED
SHAPES, ARG_NAMES = functions.SHAPES, {name: functions.ARG_NAMES[name] for name in FORWARDS}
MAX_CALLS = 5000  # calls answered per request
MAX_CACHES = 512  # caches kept per request (a derived loss keeps 1, a step loop 2 T)
SERVE_SECONDS = 10.0  # of the grader's time answering one request, at most
MAX_ELEMENTS = 1 << 22  # entries of one argument, whatever the case


def _case_sizes(payload: dict) -> tuple[int, int]:
    """(entries one argument may have, entries the kept caches may hold) for the calls
    of this case: a few times its own arrays, so that the grader's work answering is
    bounded by the case, not by what the student process asks."""
    arrays = [a for a in _arrays(payload) if isinstance(a, np.ndarray)]
    largest, total = max((a.size for a in arrays), default=0), sum(a.size for a in arrays)
    return min(max(4 * largest, 1 << 16), MAX_ELEMENTS), max(64 * total, 1 << 20)


def _arrays(value):
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    return [value]


def answered_for(target: str, function: str) -> bool:
    """While `target` is graded (by the grader, with its reference), is `function`
    answered by the grader, so that its own mistakes and time-outs are not the
    target's? A backward's own forward makes the cache it reads: never answered."""
    return function in SERVED.get(target, ()) and function != served.FORWARD_OF.get(target)


class Refused(Exception):
    """A call the grader does not answer; str() is the line the student reads."""


def forward_call_limit(function: str, payload: dict) -> int:
    """Forward calls a derived backward or loss may make (recomputing the forward, even
    step by step); numeric differentiation needs 2 per input entry (or per group)."""
    x = payload.get("X", payload.get("args", [np.zeros(0)])[0])
    steps = x.shape[1] if x.ndim == 3 else 1  # (embedding indices are (N, T): one step)
    return 2 * steps + 4


class Server:
    """Answers the calls of one request of one case (a callable for sandbox.request)."""

    def __init__(self, reference, target: str, payload: dict, count_forwards: bool):
        self.reference, self.target, self.payload = reference, target, payload
        self.names = SERVED.get(target, ())
        self.counts: Counter = Counter()
        self.caches: dict[int, tuple] = {}  # number -> (forward function, cache, out shape)
        self.limit = forward_call_limit(payload.get("function", ""), payload) \
            if count_forwards else None
        self.refused = ""  # the first refusal, said in the feedback
        self.seconds = 0.0  # spent answering (not the student's time)
        self.largest, self.room = _case_sizes(payload)  # entries: one argument, all caches

    @property
    def forward_calls(self) -> int:
        return sum(self.counts[name] for name in FORWARDS)

    def __call__(self, call) -> dict:
        began = time.perf_counter()
        name = call.get("name") if isinstance(call, dict) else None
        try:
            if name not in self.names:
                what = " ".join(str(name)[:60].split())  # the student's text, one line
                raise Refused(f"{self.target} called {what}, which the grader does not "
                              "answer here")
            self.counts[name] += 1
            if sum(self.counts.values()) > MAX_CALLS or self.seconds > SERVE_SECONDS:
                raise Refused(f"{self.target} made more calls than the grader answers "
                              f"({MAX_CALLS}, or {SERVE_SECONDS:g} s of its time)")
            if self.limit is not None and name in FORWARDS and self.forward_calls > self.limit:
                raise Refused(f"{self.target} called its forward functions more than "
                              f"{self.limit} times (numeric differentiation?)")
            return {"answer": self._answer(name, call)}
        except Refused as exc:
            self.refused = self.refused or str(exc)
            return {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001  the reference on arguments of the student's
            return {"error": f"the grader's {name} could not compute with these arguments "
                             f"({type(exc).__name__})"}
        finally:
            self.seconds += time.perf_counter() - began

    def _answer(self, name: str, call: dict) -> dict:
        if name in FORWARDS:
            args = _arguments(name, call.get("args"), self.largest)
            if len(self.caches) >= MAX_CACHES or sum(a.size for a in args) > self.room:
                raise Refused(f"{self.target} kept more caches of the grader's than a "
                              "derived computation needs")
            self.room -= sum(a.size for a in args)
            *outs, cache = functions.implementation(self.reference, name)(*args)
            number = len(self.caches) + 1
            self.caches[number] = (name, cache, [np.shape(o) for o in outs])
            return {"out": outs if len(outs) > 1 else outs[0], "cache": number}
        return self._backward(name, call)

    def _backward(self, name: str, call: dict) -> dict:
        forward = served.FORWARD_OF[name]
        if "inputs" in call:  # a cache the student's own forward made: its inputs
            *outs, cache = functions.implementation(self.reference, forward)(
                *_arguments(forward, call["inputs"], self.largest))
            made_by, shapes = forward, [np.shape(o) for o in outs]
        else:
            number = call.get("cache")
            made_by, cache, shapes = self.caches.get(number if type(number) is int else -1,
                                                     (None, None, None))
        if made_by != forward:
            raise Refused(f"{name} was given a cache that {forward} did not make")
        douts = call.get("dout") if len(shapes) > 1 else [call.get("dout")]
        if not isinstance(douts, list) or len(douts) != len(shapes):
            raise Refused(f"{name} was given {describe_value(douts)}; expected "
                          f"{len(shapes)} upstream gradients")
        for dout, shape in zip(douts, shapes):
            if not isinstance(dout, np.ndarray) or dout.shape != shape or dout.dtype.kind != "f":
                raise Refused(f"{name} was given an upstream gradient of "
                              f"{describe_value(dout)}; expected a float array of shape {shape}")
        grads = functions.implementation(self.reference, name)(*douts, cache)
        return {"grads": list(grads) if isinstance(grads, tuple) else [grads]}


def reference_model(reference, payload: dict, params):
    """The reference's RNNClassifier of the case, holding the params a call sent
    (exactly the contract's keys, each of the case's shape and dtype)."""
    model = reference.rnn_classifier.RNNClassifier(**payload["init"])
    if not isinstance(params, dict):
        raise Refused(f"the model's params are {describe_value(params)}; expected a dict")
    for key, value in model.params.items():
        got = params.get(key)
        if not isinstance(got, np.ndarray) or got.shape != value.shape or got.dtype != value.dtype:
            raise Refused(f"params[{key!r}] is {describe_value(got)}; expected {value.dtype} of "
                          f"shape {value.shape}")
        model.params[key] = got.copy()
    return model


def checked_batch(X, payload: dict) -> np.ndarray:
    D = payload["init"]["input_dim"]
    if (not isinstance(X, np.ndarray) or X.dtype.kind != "f" or X.ndim != 3
            or X.shape[2] != D or X.size > MAX_ELEMENTS):
        raise Refused(f"X is {describe_value(X)}; expected a float array of shape (N, T, {D})")
    return X


def checked_labels(y, n: int, payload: dict) -> np.ndarray:
    K = payload["init"]["num_classes"]
    if (not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.shape != (n,)
            or (n and (y.min() < 0 or y.max() >= K))):
        raise Refused(f"y is {describe_value(y)}; expected {n} integer labels in [0, {K})")
    return y


def _arguments(name: str, args, largest: int = MAX_ELEMENTS) -> list:
    """The arguments of a forward call, checked against the contract's shapes."""
    letters, names = SHAPES[name], ARG_NAMES[name]
    if not isinstance(args, list) or len(args) != len(letters):
        raise Refused(f"{name} was called with {describe_value(args)}; expected "
                      f"({', '.join(names)})")
    sizes: dict[str, int] = {}
    for arg, spec, what in zip(args, letters, names):
        integer = (name, what) in functions.INTEGER_ARGS
        if (not isinstance(arg, np.ndarray) or arg.dtype.kind not in ("iu" if integer else "f")
                or arg.ndim != len(spec) or arg.size > largest):
            raise Refused(f"{name} was called with {what} = {describe_value(arg)}; expected "
                          f"{'an integer' if integer else 'a float'} array of shape "
                          f"({', '.join(spec)})")
        for letter, size in zip(spec, arg.shape):
            if sizes.setdefault(letter, size) != size:
                raise Refused(f"{name} was called with {what} of shape {arg.shape}: its "
                              f"{letter} = {size} differs from {sizes[letter]}")
    for arg, what in zip(args, names):  # index arrays: values in [0, their axis' size)
        bound = functions.INTEGER_ARGS.get((name, what))
        if bound and arg.size and (arg.min() < 0 or arg.max() >= sizes[bound]):
            raise Refused(f"{name} was called with indices outside [0, {bound})")
    return args


def describe_value(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a {type(value).__name__}"


class LocalChannel:
    """The same answers in the grader's own process (the reference's train run), in the
    same wire format as on the pipes, so that nothing is shared by reference."""

    def __init__(self, server):
        self.server = server

    def call(self, name: str, arguments: dict):
        call = wire.decode(wire.encode({"name": name, **arguments}))
        reply = wire.decode(wire.encode(self.server(call)))
        if "error" in reply:
            raise served.ServedCallError(str(reply["error"]))
        return reply["answer"]
