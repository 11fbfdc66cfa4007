"""Each graded function described once; every table about them is derived from here.

A Function names the student's module it lives in, its arguments and outputs (a
backward's outputs are its gradients), the contract's shape letters of each (N, T, D,
H, V, K), its backward partner, the graded functions it may call by name (answered by
the grader while it is graded, contract revision 3) and the notebook section that
teaches it. OPERATIONS is the one table of what the student process can be asked
(read by the worker, the engine and the sandbox); KINDS says which operation each
kind of check asks. tests/test_functions.py holds the derived tables to the records.

Imports: standard library only (this file is loaded in the student process).
"""
import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Function:
    name: str  # "rnn_forward", or "RNNClassifier.loss" for a method
    module: str  # the student's module (file name without .py)
    args: tuple[str, ...] = ()  # the contract's parameters, in order
    outputs: tuple[str, ...] = ()  # what it returns, in order (a backward: gradients)
    letters: dict = field(default_factory=dict)  # shape letters of args and outputs
    backward: str = ""  # a forward's backward partner
    callees: tuple[str, ...] = ()  # graded functions it calls by name (the grader answers)
    section: tuple[str, ...] = ()  # (number, title) of the notebook section teaching it
    integers: dict = field(default_factory=dict)  # index arrays (any integer dtype) ->
    # the letter of the axis they index: {"x": "V"} means values in [0, V)
    state: str = ""  # a forward's hidden-state argument (a state updated in place is caught)
    extension: str = ""  # the settings' table that turns it on ("" = always graded)
    no_overflow: bool = False  # the contract forbids overflow warnings (the LSTM's sigmoid)


# the classifier's parameters, with their letters (contract: params)
PARAMS = {"W_xh": "DH", "W_hh": "HH", "b_h": "H", "W_hq": "HK", "b_q": "K"}
_LAYERS = ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
           "word_embedding_forward", "word_embedding_backward")

DESCRIPTIONS = (
    Function("rnn_step_forward", "rnn_layers", ("x", "prev_h", "Wx", "Wh", "b"),
             ("next_h", "cache"), {"x": "ND", "prev_h": "NH", "Wx": "DH", "Wh": "HH",
                                   "b": "H", "next_h": "NH"},
             backward="rnn_step_backward", section=("2.1", "Step forward"), state="prev_h"),
    Function("rnn_step_backward", "rnn_layers", ("dnext_h", "cache"),
             ("dx", "dprev_h", "dWx", "dWh", "db"),
             {"dnext_h": "NH", "dx": "ND", "dprev_h": "NH", "dWx": "DH", "dWh": "HH",
              "db": "H"}, section=("2.2", "Step backward")),
    Function("rnn_forward", "rnn_layers", ("x", "h0", "Wx", "Wh", "b"), ("h", "cache"),
             {"x": "NTD", "h0": "NH", "Wx": "DH", "Wh": "HH", "b": "H", "h": "NTH"},
             backward="rnn_backward", callees=("rnn_step_forward",),
             section=("3.1", "Sequence forward"), state="h0"),
    Function("rnn_backward", "rnn_layers", ("dh", "cache"), ("dx", "dh0", "dWx", "dWh", "db"),
             {"dh": "NTH", "dx": "NTD", "dh0": "NH", "dWx": "DH", "dWh": "HH", "db": "H"},
             callees=("rnn_step_backward",), section=("3.2", "Backpropagation through time")),
    Function("word_embedding_forward", "rnn_layers", ("x", "W"), ("out", "cache"),
             {"x": "NT", "W": "VD", "out": "NTD"}, backward="word_embedding_backward",
             section=("4.1", "Embedding forward"), integers={"x": "V"}),
    Function("word_embedding_backward", "rnn_layers", ("dout", "cache"), ("dW",),
             {"dout": "NTD", "dW": "VD"}, section=("4.2", "Embedding backward")),
    Function("RNNClassifier.__init__", "rnn_classifier"),  # provided code, 0 points
    Function("RNNClassifier.loss", "rnn_classifier", ("X", "y"), ("loss", "grads"),
             {"X": "NTD", "y": "N", "scores": "NK", **PARAMS}, callees=_LAYERS,
             section=("7.1", "Scores and loss")),
    Function("RNNClassifier.predict", "rnn_classifier", ("X",), ("labels",),
             {"X": "NTD", "labels": "N"}, section=("7.3", "Training: overfit a small batch")),
    Function("RNNClassifier.train", "rnn_classifier",
             ("X", "y", "X_val", "y_val"), ("history",),
             callees=("RNNClassifier.loss", "RNNClassifier.predict"),
             section=("7.3", "Training: overfit a small batch")),
)
# the optional LSTM extension (settings: [lstm] enabled); G = 4H, the four gates i, f, o, g
_LSTM_STEP = {"x": "ND", "prev_h": "NH", "prev_c": "NH", "Wx": "DG", "Wh": "HG", "b": "G"}
_LSTM_SEQUENCE = {"x": "NTD", "h0": "NH", "Wx": "DG", "Wh": "HG", "b": "G", "h": "NTH"}
DESCRIPTIONS += (
    Function("lstm_step_forward", "lstm_layers", ("x", "prev_h", "prev_c", "Wx", "Wh", "b"),
             ("next_h", "next_c", "cache"), {**_LSTM_STEP, "next_h": "NH", "next_c": "NH"},
             backward="lstm_step_backward", section=("6.4", "Gated memory: the LSTM"),
             state="prev_h", extension="lstm", no_overflow=True),
    Function("lstm_step_backward", "lstm_layers", ("dnext_h", "dnext_c", "cache"),
             ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
             {"dnext_h": "NH", "dnext_c": "NH", "dx": "ND", "dprev_h": "NH", "dprev_c": "NH",
              "dWx": "DG", "dWh": "HG", "db": "G"}, section=("6.4", "Gated memory: the LSTM"),
             extension="lstm", no_overflow=True),
    Function("lstm_forward", "lstm_layers", ("x", "h0", "Wx", "Wh", "b"), ("h", "cache"),
             _LSTM_SEQUENCE, backward="lstm_backward", callees=("lstm_step_forward",),
             section=("6.4", "Gated memory: the LSTM"), state="h0", extension="lstm",
             no_overflow=True),
    Function("lstm_backward", "lstm_layers", ("dh", "cache"), ("dx", "dh0", "dWx", "dWh", "db"),
             {"dh": "NTH", "dx": "NTD", "dh0": "NH", "dWx": "DG", "dWh": "HG", "db": "G"},
             callees=("lstm_step_backward",), section=("6.4", "Gated memory: the LSTM"),
             extension="lstm", no_overflow=True),
)
FUNCTIONS = {f.name: f for f in DESCRIPTIONS}


@dataclass(frozen=True)
class Operation:
    child: str  # the module of this folder that runs it
    function: str  # its function there: function(modules, payload) -> plain values
    module: str  # the student's module it needs imported first


# what the student process can be asked (and the grader asks of the reference)
OPERATIONS = {
    "forward": Operation("layer_ops", "forward", "rnn_layers"),
    "backward": Operation("layer_ops", "backward", "rnn_layers"),
    "numeric": Operation("layer_ops", "numeric", "rnn_layers"),  # explains, never judged
    "init": Operation("classifier_ops", "init", "rnn_classifier"),
    "scores": Operation("classifier_ops", "scores", "rnn_classifier"),
    "loss": Operation("classifier_ops", "loss", "rnn_classifier"),
    "predict": Operation("classifier_ops", "predict", "rnn_classifier"),
    "predict_each": Operation("classifier_ops", "predict_each", "rnn_classifier"),
    "train_trace": Operation("classifier_ops", "train", "rnn_classifier"),
}
# the kind of a check (its judge in judges.py, its rules in validate.py) -> the
# operation it asks; every run of train (scripted or the overfit run) is one operation
KINDS = {"forward": "forward", "backward": "backward", "init": "init", "scores": "scores",
         "loss": "loss", "predict": "predict", "predict_each": "predict_each",
         "train": "train_trace", "overfit": "train_trace"}


def operation(op: str):
    """The function that runs operation `op` (the same code on both sides)."""
    described = OPERATIONS[op]
    return getattr(importlib.import_module(described.child), described.function)


def implementation(modules, name: str):
    """The function `name` (a layer function) in `modules`: the student's or the
    reference's, as an attribute of its described module."""
    return getattr(getattr(modules, FUNCTIONS[name].module), name)


def student_module(op: str, payload) -> str:
    """The student's module a request needs imported: the described function's (a
    layer operation names it), else the operation's."""
    name = payload.get("function") if isinstance(payload, dict) else None
    return FUNCTIONS[name].module if name in FUNCTIONS else OPERATIONS[op].module


AXIS_TEXT = {"G": "4H"}  # how a letter is written where it is not the contract's own


def shape_text(letters: str) -> str:
    """"NTD" -> "N, T, D"; one letter "H" -> "H," (as the contract writes shapes);
    "DG" -> "D, 4H" (the LSTM's four gates side by side)."""
    return ", ".join(AXIS_TEXT.get(a, a) for a in letters) + ("," if len(letters) == 1 else "")


# ---- derived tables ------------------------------------------------------------------

# the student's modules, in import order (rnn_classifier imports rnn_layers): required,
# and every module with the ones of the extensions (graded when the settings turn them on)
MODULES = tuple(dict.fromkeys(f.module for f in DESCRIPTIONS if not f.extension))
ALL_MODULES = tuple(dict.fromkeys(f.module for f in DESCRIPTIONS))
# each optional extension (its settings' table: [lstm] enabled, points) -> its module
EXTENSIONS = {f.extension: f.module for f in DESCRIPTIONS if f.extension}
# forward function -> (backward function, names of forward outputs, names of gradients)
PAIRS = {f.name: (f.backward, f.outputs, FUNCTIONS[f.backward].outputs)
         for f in DESCRIPTIONS if f.backward}
# a forward's outputs besides the cache (an LSTM step has two: next_h and next_c), each
# with its upstream gradient, the backward's first arguments
OUTPUTS = {name: outs[:-1] for name, (_, outs, _) in PAIRS.items()}
FORWARDS = tuple(PAIRS)
FORWARD_OF = {f.backward: f.name for f in DESCRIPTIONS if f.backward}
LAYER_FUNCTIONS = tuple(f.name for f in DESCRIPTIONS if "." not in f.name)
# the arrays a layer function is given (a backward's cache is not the caller's array)
ARG_NAMES = {f.name: tuple(a for a in f.args if a != "cache") for f in DESCRIPTIONS
             if f.name in LAYER_FUNCTIONS}
# every parameter of a layer function, the cache included (a call may use keywords)
PARAMETERS = {name: FUNCTIONS[name].args for name in LAYER_FUNCTIONS}
# the contract's shapes of each forward's arguments, one letter per axis
SHAPES = {name: tuple(FUNCTIONS[name].letters[a] for a in FUNCTIONS[name].args)
          for name in FORWARDS}
# methods that a graded method calls by name (answered by the grader)
METHODS = tuple(dict.fromkeys(c for f in DESCRIPTIONS for c in f.callees if "." in c))
# what the grader answers while `target` is graded: its callees, and for a backward
# every forward of its module as well (a derived backward may recompute one; another
# module's may be absent: lstm_layers.py is optional)
SERVED = {f.name: f.callees + (tuple(n for n in FORWARDS if FUNCTIONS[n].module == f.module)
                               if f.name in FORWARD_OF else ())
          for f in DESCRIPTIONS if f.callees or f.name in FORWARD_OF}
INTEGER_ARGS = {(f.name, a): bound for f in DESCRIPTIONS for a, bound in f.integers.items()}
NOTEBOOK_SECTIONS = {f.name: " ".join(f.section) for f in DESCRIPTIONS if f.section}
SECTION_NUMBERS = {f.name: f.section[0] for f in DESCRIPTIONS if f.section}
PARAM_NAMES = tuple(PARAMS)


def _letters_by_name() -> dict[str, str]:
    """Each name's letters as text, where every function that has it agrees (dx is
    (N, D) in a step and (N, T, D) in a sequence: looked up by function instead)."""
    seen: dict[str, set] = {}
    for f in DESCRIPTIONS:
        for name, letters in f.letters.items():
            seen.setdefault(name, set()).add(letters)
    return {name: shape_text(next(iter(s))) for name, s in seen.items() if len(s) == 1}


LETTERS = _letters_by_name()


def letters_of(function: str, name: str) -> str:
    """The letters of `name` (an argument or output) of `function`, as text ("" where
    none are described)."""
    described = FUNCTIONS.get(function)
    letters = described.letters.get(name) if described else None
    return shape_text(letters) if letters else ""
