"""Operations on the layer functions, run identically on the student's and the reference.

Each operation takes `modules` (an object with the attributes rnn_layers and
rnn_classifier) and a payload of plain values, and returns plain values. The grader runs
them on the reference in its own process and on the submission in the student process.
Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import contextlib

import numpy as np

import functions
import served


class StudentError(Exception):
    """The submission returned something that does not fit the contract."""


def plain(value, what: str):
    """The student's value as plain data (a base-class copy), or a description of it."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub" or value.dtype.fields is not None:
            raise StudentError(f"{what} is an array of dtype {value.dtype}; expected float")
        # a plain, native-endian, C-ordered copy: no subclass, no view of the student's
        return np.array(value, dtype=value.dtype.newbyteorder("="), order="C", subok=False)
    if isinstance(value, np.generic):
        return np.array(value, subok=False)
    if type(value) in (float, int, bool) or value is None:
        return value
    raise StudentError(f"{what} is a {type(value).__name__}; expected a NumPy array")


def unpack(result, names: tuple[str, ...], function: str):
    """Split a returned tuple into its named parts, or explain what is wrong with it."""
    if len(names) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)):
        raise StudentError(f"{function} returned a {type(result).__name__}; expected a tuple "
                           f"({', '.join(names)})")
    if len(result) != len(names):
        raise StudentError(f"{function} returned {len(result)} values; expected {len(names)} "
                           f"({', '.join(names)})")
    return tuple(result)


PAIRS, ARG_NAMES = functions.PAIRS, functions.ARG_NAMES  # derived (functions.py)
MAX_CACHE_LEAVES = 10_000  # arrays of a cache looked at for a shared hidden state


def arranged(value: np.ndarray, layout: str, index: int = 0) -> np.ndarray:
    """A fresh copy of value in the memory layout a case asks for: "C" (the default),
    "F" (Fortran order), "strided" (a view of every other element of a larger buffer),
    or "mixed" (F for even argument positions `index`, strided for odd ones).
    Correct code gives the same answer whatever the layout."""
    if layout == "mixed":
        layout = "F" if index % 2 == 0 and value.ndim > 1 else "strided"
    if layout == "F":
        return np.array(value, order="F", copy=True)
    if layout == "strided" and value.ndim:
        buffer = np.zeros(value.shape[:-1] + (2 * value.shape[-1],), dtype=value.dtype)
        view = buffer[..., ::2]
        view[...] = value
        return view
    return np.array(value, copy=True)


def _copies(arrays, payload):
    layout = payload.get("layout", "C")
    return [arranged(a, layout, i) for i, a in enumerate(arrays)]


def same_values(a, b) -> bool:
    """Same shape and values (NaN equal to NaN). Unchanged bytes, the common case, are
    the fast test (a few hundred calls per grading); values are compared only when the
    bytes or dtypes differ (-0.0 is 0.0, float64 params may equal float32 ones)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == b.dtype and a.dtype.kind in "biufc" and a.tobytes() == b.tobytes():
        return True
    return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def modified(function: str, passed, originals) -> list[str]:
    """"function:argument" for every argument whose values the call changed."""
    names = ARG_NAMES.get(function, ())
    return [f"{function}:{names[i] if i < len(names) else i}"
            for i, (now, before) in enumerate(zip(passed, originals))
            if not same_values(now, before)]


def answered(modules, payload, recorded=None):
    """Within the block, the layer functions payload["served"] names are answered by
    the grader (child/served.py; the grader never names the function graded)."""
    channel = getattr(modules, "grader", None)
    names = [n for n in payload.get("served") or () if n in served.LAYER_FUNCTIONS]
    if channel is None or not names:
        return contextlib.nullcontext()
    return served.layer_functions(modules, names, channel, recorded)


def forward(modules, payload):
    """{"function", "args", "layout"?, "served"?} -> {"out": the forward output,
    "modified": the arguments it changed (a pure function changes none)}."""
    name = payload["function"]
    function = functions.implementation(modules, name)
    args = _copies(payload["args"], payload)
    with answered(modules, payload), watching_overflow(name) as overflow:
        *outs, _cache = unpack(function(*args), PAIRS[name][1], name)
    outs = [plain(o, f"{name}'s {n}") for o, n in zip(outs, functions.OUTPUTS[name])]
    reply = {"out": outs[0], "modified": modified(name, args, payload["args"])}
    if len(outs) > 1:  # an LSTM step: next_c too
        reply["more"] = outs[1:]
    return {**reply, **overflow.reply()}


class watching_overflow:
    """Where the contract forbids an overflow warning (functions.Function.no_overflow:
    the LSTM's sigmoid), NumPy's overflows inside the block are counted, so that
    reply() can say {"overflow": True}; elsewhere nothing is watched ({})."""

    def __init__(self, name: str):
        self.watch, self.count, self.states = functions.FUNCTIONS[name].no_overflow, 0, []

    def _seen(self, kind, flag):
        self.count += 1

    def __enter__(self):  # may be entered again after it was left (a fresh errstate)
        if self.watch:
            self.states.append(np.errstate(over="call", call=self._seen))
            self.states[-1].__enter__()
        return self

    def __exit__(self, *exc):
        if self.watch:
            self.states.pop().__exit__(*exc)
        return False

    def reply(self) -> dict:
        return {"overflow": self.count > 0} if self.watch else {}


def backward(modules, payload):
    """{"function" (the forward one), "args", "dout", "layout"?, "repeat"?, "served"?} ->
    {"grads": [...], "modified", "repeat_differs", "shared_state"}.

    The cache comes from the submission's own forward (nothing answered by the grader
    then: the cache is the student's); while the backward runs, the functions
    payload["served"] names are answered by the grader, and a step cache made by the
    student's own rnn_step_forward goes to the grader as that call's inputs.
    The backward runs twice on the same cache (the second time with a fresh copy of
    dout): "repeat_differs" names the gradients that came out different. "modified"
    names every argument of either function that a call changed. "shared_state": the
    forward's cache holds one (N, H) array for several time steps (a state updated in
    place). "repeat": False runs the backward once (large cases).
    """
    name = payload["function"]
    back_name, out_names, grad_names = PAIRS[name]
    forward_fn = functions.implementation(modules, name)
    backward_fn = functions.implementation(modules, back_name)
    args, douts = payload["args"], _upstream(payload)
    passed = _copies(args, payload)
    module = getattr(modules, functions.FUNCTIONS[name].module)
    overflow = watching_overflow(back_name)
    with watching_step_caches(module, name) as watch, overflow:
        *_outs, cache = unpack(forward_fn(*passed), out_names, name)
    changed = modified(name, passed, args)
    by_forward = list(changed)
    shared = bool(functions.FUNCTIONS[name].state) and (
        watch.overwritten() or _shared_state(cache, passed, douts[0].shape))
    grads = []
    with answered(modules, payload, watch.inputs), overflow:
        for _attempt in range(2 if payload.get("repeat", True) else 1):
            upstream = _copies(douts, payload)
            result = unpack(backward_fn(*upstream, cache), grad_names, back_name)
            grads.append([plain(g, f"{back_name}'s {n}") for g, n in zip(result, grad_names)])
            changed += [m for m in modified(back_name, upstream, douts) if m not in changed]
    changed += [back_name + m[len(name):] for m in modified(name, passed, args)
                if m not in by_forward]  # the backward changed what the cache holds
    differs = [n for n, a, b in zip(grad_names, grads[0], grads[-1]) if not _same_plain(a, b)]
    return {"grads": grads[0], "modified": changed, "repeat_differs": differs,
            "shared_state": bool(shared), **overflow.reply()}


def _upstream(payload) -> list:
    """The upstream gradients: one per output of the forward (an LSTM step: two)."""
    dout = payload["dout"]
    return list(dout) if isinstance(dout, (list, tuple)) else [dout]


def numeric(modules, payload):
    """{"function" (the forward one), "args", "dout"} -> {"numeric": centred differences
    of this module's own forward, in float64 (float32 differences would be mostly
    noise)}: asked only when a backward's gradients are wrong, to tell which pass."""
    name = payload["function"]
    forward_fn = functions.implementation(modules, name)
    args64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in payload["args"]]
    return {"numeric": numeric_gradients(forward_fn, args64,
                                         [d.astype(np.float64) for d in _upstream(payload)],
                                         PAIRS[name][1], name)}


def _same_plain(a, b) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and same_values(a, b)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _shared_state(cache, passed, state_shape) -> bool:
    """Does the cache hold one array of a hidden state's shape (N, H) in the same role
    at two time steps (the same memory at two places of the cache whose paths differ in
    one index only, e.g. caches[2][1] and caches[3][1])? A forward that updates its state
    in place (prev_h[:] = ..., prev_h += ...) stores that one array for every step,
    while a correct cache may hold h_t twice, but in two roles (next_h of step t,
    prev_h of step t+1)."""
    N, H = state_shape[0], state_shape[-1]
    inputs = {id(a) for a in passed} | {id(a.base) for a in passed if a.base is not None}
    places: dict[tuple, list[tuple]] = {}
    stack, count = [(cache, ())], 0
    while stack and count < MAX_CACHE_LEAVES:
        value, path = stack.pop()
        count += 1
        if isinstance(value, np.ndarray):
            base = value if value.base is None else value.base
            if value.shape == (N, H) and id(value) not in inputs and id(base) not in inputs:
                key = (id(base), value.__array_interface__["data"][0], value.strides)
                places.setdefault(key, []).append(path)
        elif isinstance(value, (tuple, list)) and len(path) < 6:
            stack.extend((v, path + (i,)) for i, v in enumerate(value))
        elif isinstance(value, dict) and len(path) < 6:
            stack.extend((v, path + (str(k),)) for k, v in value.items())
    return any(_one_index_apart(a, b) for paths in places.values() if len(paths) > 1
               for i, a in enumerate(paths) for b in paths[i + 1:])


def _one_index_apart(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


class watching_step_caches:
    """While the student's rnn_forward runs, remember every array that goes into or
    comes out of its calls to rnn_step_forward (what the step caches hold), with a copy
    of its values. Inside the with-block, overwritten() says whether rnn_forward changed
    one of them afterwards: a state updated in place (prev_h[:] = next_h) rewrites what
    an earlier step's cache holds, even with a single step."""

    LIMIT = 4096  # arrays remembered at most

    def __init__(self, module, function: str):
        # the step forward a sequence forward calls by name (functions.py), if any
        self.step = next((c for c in functions.FUNCTIONS[function].callees
                          if c in functions.PAIRS), "")
        self.module, self.watch = module, bool(self.step)
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []
        # id(step cache) -> (the cache, the call's input arrays): how the grader answers
        # rnn_step_backward on a cache the student's own step forward made. The arrays
        # themselves, read when the backward runs: a cache holds what its forward was
        # given, so a forward that changes them afterwards changes the cache too
        self.inputs: dict[int, tuple] = {}
        self.original = None

    def __enter__(self):
        original = getattr(self.module, self.step, None)
        if self.watch and callable(original):
            self.original = original
            seen, inputs, limit = self.seen, self.inputs, self.LIMIT
            arity = len(functions.FUNCTIONS[self.step].args)
            outputs = len(functions.OUTPUTS[self.step])  # besides the cache

            def watched(*args, **kwargs):
                result = original(*args, **kwargs)
                arrays = [a for a in args if isinstance(a, np.ndarray)]
                if isinstance(result, tuple) and result and isinstance(result[0], np.ndarray):
                    arrays.append(result[0])
                for a in arrays[:8]:
                    if len(seen) < limit:
                        seen.append((a, a.copy()))
                if (isinstance(result, tuple) and len(result) == outputs + 1 and not kwargs
                        and len(args) == arity and len(inputs) < limit
                        and all(isinstance(a, np.ndarray) for a in args)):
                    inputs[id(result[-1])] = (result[-1], list(args))  # as they are later
                return result
            setattr(self.module, self.step, watched)
        return self

    def overwritten(self) -> bool:
        return any(not same_values(a, copy) for a, copy in self.seen)

    def __exit__(self, *exc):
        if self.original is not None:
            setattr(self.module, self.step, self.original)
        return False


def numeric_gradients(forward_fn, args, douts, out_names, name, h=1e-5):
    """Centred differences of the sum over outputs of sum(output * its upstream gradient)
    (douts: one per output besides the cache) for every float argument.

    Integer arguments (embedding indices) get None. Each call receives fresh copies.
    """
    def scalar(values):
        outs = unpack(forward_fn(*[v.copy() for v in values]), out_names, name)
        return sum(float(np.sum(np.asarray(o, dtype=np.float64) * d))
                   for o, d in zip(outs, douts))

    grads = []
    for position, arg in enumerate(args):
        if arg.dtype.kind != "f":
            grads.append(None)
            continue
        values = [a.copy() for a in args]
        target = values[position]
        grad = np.zeros(arg.shape)
        for index in np.ndindex(arg.shape):
            old = target[index]
            target[index] = old + h
            plus = scalar(values)
            target[index] = old - h
            minus = scalar(values)
            target[index] = old
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads

