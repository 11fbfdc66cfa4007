"""Operations on the layer functions, run identically on the student's and the reference.

Each operation takes `modules` (an object with the attributes rnn_layers and
rnn_classifier) and a payload of plain values, and returns plain values. The grader runs
them on the reference in its own process and on the submission in the student process.
Imports: standard library and NumPy only (this file is loaded in the student process).
"""
import numpy as np


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


# forward function -> (backward function, names of forward outputs, names of gradients)
PAIRS = {
    "rnn_step_forward": ("rnn_step_backward", ("next_h", "cache"),
                         ("dx", "dprev_h", "dWx", "dWh", "db")),
    "rnn_forward": ("rnn_backward", ("h", "cache"), ("dx", "dh0", "dWx", "dWh", "db")),
    "word_embedding_forward": ("word_embedding_backward", ("out", "cache"), ("dW",)),
}


def forward(modules, payload):
    """{"function", "args"} -> {"out": the forward output}."""
    name = payload["function"]
    function = getattr(modules.rnn_layers, name)
    out, _cache = unpack(function(*[a.copy() for a in payload["args"]]), PAIRS[name][1], name)
    return {"out": plain(out, f"{name}'s {PAIRS[name][1][0]}")}


def backward(modules, payload):
    """{"function" (the forward one), "args", "dout", "numeric"} -> {"grads": [...]}.

    With "numeric", also the centred-difference gradients of this module's own forward
    (for feedback: does the backward agree with its own forward?).
    """
    name = payload["function"]
    back_name, out_names, grad_names = PAIRS[name]
    forward_fn = getattr(modules.rnn_layers, name)
    backward_fn = getattr(modules.rnn_layers, back_name)
    args, dout = payload["args"], payload["dout"]
    _out, cache = unpack(forward_fn(*[a.copy() for a in args]), out_names, name)
    with counting_forward_calls(modules.rnn_layers) as calls:
        grads = unpack(backward_fn(dout.copy(), cache), grad_names, back_name)
    result = {"grads": [plain(g, f"{back_name}'s {n}") for g, n in zip(grads, grad_names)],
              "forward_calls": calls[0]}
    if payload.get("numeric"):  # in float64: float32 differences would be mostly noise
        args64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in args]
        result["numeric"] = numeric_gradients(forward_fn, args64, dout.astype(np.float64),
                                              out_names, name)
    return result


class counting_forward_calls:
    """Count calls to the module's forward functions while the backward runs (a backward
    that differentiates numerically calls its forward thousands of times)."""

    def __init__(self, module):
        self.module, self.calls, self.saved = module, [0], {}

    def __enter__(self):
        for name in PAIRS:
            original = getattr(self.module, name, None)
            if callable(original):
                self.saved[name] = original
                setattr(self.module, name, self._counted(original))
        return self.calls

    def _counted(self, original):
        calls = self.calls

        def counted(*args, **kwargs):
            calls[0] += 1
            return original(*args, **kwargs)
        return counted

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            setattr(self.module, name, original)
        return False


def numeric_gradients(forward_fn, args, dout, out_names, name, h=1e-5):
    """Centred differences of sum(forward(*args)[0] * dout) for every float argument.

    Integer arguments (embedding indices) get None. Each call receives fresh copies.
    """
    def scalar(values):
        out = unpack(forward_fn(*[v.copy() for v in values]), out_names, name)[0]
        return float(np.sum(np.asarray(out, dtype=np.float64) * dout))

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

