"""The descriptions of the graded functions (autograder/sandbox/child/functions.py) and every
table derived from them agree; the judges, the validation rules and the kinds of check
have the same keys; the reference solution has the described signatures."""
import inspect

import numpy as np
import pytest

from autograder import config
from autograder.judging import integrity, judges, selfcheck, serve
from autograder.intake import submission
from autograder.judging import validate
from autograder.judging.checks import ALL_CHECKS, CHECKS, EXTENSION_CHECKS
from autograder.sandbox.child import classifier_ops, functions, layer_ops, served
from autograder.judging.reference import load_reference

REFERENCE = load_reference(config.ROOT / "solutions" / "rnn")
DESCRIBED = functions.DESCRIPTIONS


def test_names_are_unique_and_every_graded_target_is_described():
    names = [f.name for f in DESCRIBED]
    assert len(names) == len(set(names))
    assert {c.target for c in ALL_CHECKS} <= set(names)


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda f: f.name)
def test_the_reference_has_the_described_signature(described):
    owner = getattr(REFERENCE, described.module)
    *cls, name = described.name.split(".")
    function = getattr(getattr(owner, cls[0]) if cls else owner, name)
    params = [p for p in inspect.signature(function).parameters if p != "self"]
    assert tuple(params[:len(described.args)]) == described.args
    assert set(described.letters) <= set(described.args) | set(described.outputs) | {
        "scores"} | set(functions.PARAMS)
    assert set(described.integers) <= set(described.args)


@pytest.mark.parametrize("forward", functions.FORWARDS)
def test_a_pair_is_described_on_both_sides(forward):
    """The backward of a pair: in the same module, its gradients are the forward's
    float arguments (d + the name) with their letters, given (upstream, cache)."""
    f = functions.FUNCTIONS[forward]
    back = functions.FUNCTIONS[f.backward]
    assert back.module == f.module and back.args[-1] == "cache" and f.outputs[-1] == "cache"
    floats = [a for a in f.args if a not in f.integers]
    assert back.outputs == tuple("d" + a for a in floats)
    assert [back.letters["d" + a] for a in floats] == [f.letters[a] for a in floats]
    assert back.letters[back.args[0]] == f.letters[f.outputs[0]]  # upstream of the output
    assert functions.PAIRS[forward] == (back.name, f.outputs, back.outputs)
    assert functions.FORWARD_OF[back.name] == forward


@pytest.mark.parametrize("forward", functions.FORWARDS)
def test_the_described_letters_are_the_reference_shapes(forward):
    """Run the reference on a case of the pair: every array's shape spells its letters."""
    payload = next(c for check in ALL_CHECKS if check.target == forward
                   for c in check.cases).make(np.random.default_rng(0))
    f = functions.FUNCTIONS[forward]
    back = functions.FUNCTIONS[f.backward]
    module = getattr(REFERENCE, f.module)
    *outs, cache = getattr(module, forward)(*payload["args"])
    douts = payload["dout"] if isinstance(payload["dout"], list) else [payload["dout"]]
    grads = getattr(module, back.name)(*douts, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    sizes: dict[str, int] = {"G": 4 * payload["args"][1].shape[-1]}  # G = 4H (LSTM gates)
    named = list(zip(f.args, payload["args"])) + list(zip(f.outputs, outs)) + list(
        zip(back.outputs, grads)) + list(zip(back.args, douts))
    assert len(outs) == len(douts) == len(functions.OUTPUTS[forward])
    for name, value in named:
        letters = functions.FUNCTIONS[forward].letters.get(name) or back.letters[name]
        assert len(letters) == np.ndim(value), name
        for letter, size in zip(letters, np.shape(value)):
            assert sizes.setdefault(letter, size) == size, (name, letter)


def test_letters_by_name_agree_with_every_description():
    for f in DESCRIBED:
        for name, letters in f.letters.items():
            assert functions.letters_of(f.name, name) == functions.shape_text(letters)
            assert functions.LETTERS.get(name, functions.shape_text(letters)) == \
                functions.shape_text(letters)
    assert "dx" not in functions.LETTERS  # (N, D) in a step, (N, T, D) in a sequence
    assert functions.shape_text("H") == "H," and functions.shape_text("NTD") == "N, T, D"
    assert validate._grad_letters("rnn_forward", "dx") == "N, T, D"
    assert validate._grad_letters("rnn_step_forward", "dx") == "N, D"


def test_the_tables_read_elsewhere_are_the_derived_ones():
    assert layer_ops.PAIRS is functions.PAIRS and layer_ops.ARG_NAMES is functions.ARG_NAMES
    assert served.LAYER_FUNCTIONS == tuple(f.name for f in DESCRIBED
                                           if f.module in ("rnn_layers", "lstm_layers"))
    assert served.PARAMETERS is functions.PARAMETERS
    assert classifier_ops.PARAM_NAMES == tuple(functions.PARAMS)
    assert serve.SERVED is functions.SERVED and serve.SHAPES is functions.SHAPES
    assert validate.LETTERS is functions.LETTERS
    assert selfcheck.NOTEBOOK_SECTIONS is functions.NOTEBOOK_SECTIONS
    modules = tuple(f"{m}.py" for m in functions.MODULES)
    assert submission.REQUIRED == modules
    assert config.Config().student_modules == submission.REQUIRED + submission.OPTIONAL
    assert set(modules) == {f.module + ".py" for f in DESCRIBED if not f.extension}
    # an extension's module is read when it is there, never required
    assert set(functions.ALL_MODULES) - set(functions.MODULES) == {"lstm_layers"}
    assert submission.OPTIONAL == tuple(f"{m}.py" for m in functions.ALL_MODULES
                                        if m not in functions.MODULES)
    assert integrity.functions is functions


def test_what_the_grader_answers_is_described():
    for target, names in functions.SERVED.items():
        f = functions.FUNCTIONS[target]
        assert set(f.callees) <= set(names) <= set(functions.FUNCTIONS)
        assert f.backward not in names  # a forward's own backward is never called by it
    rnn_forwards = tuple(n for n in functions.FORWARDS if functions.FUNCTIONS[n].module == "rnn_layers")
    assert functions.SERVED["rnn_backward"] == ("rnn_step_backward",) + rnn_forwards
    # the LSTM is served like the RNN (its step forward has two outputs), and nothing of
    # it is served to the base functions (lstm_layers.py may be absent)
    assert functions.SERVED["lstm_backward"] == ("lstm_step_backward", "lstm_step_forward",
                                                 "lstm_forward")
    assert functions.SERVED["lstm_forward"] == ("lstm_step_forward",)
    extension = {f.name for f in DESCRIBED if f.extension}
    assert not extension & {n for t, names in functions.SERVED.items() for n in names
                            if not functions.FUNCTIONS[t].extension}
    assert "RNNClassifier.predict" not in functions.SERVED  # provided code
    assert functions.METHODS == functions.FUNCTIONS["RNNClassifier.train"].callees
    for name, shapes in functions.SHAPES.items():
        assert len(shapes) == len(functions.ARG_NAMES[name]) == len(serve.ARG_NAMES[name])


def test_sections_in_the_order_of_the_checks():
    graded = list(dict.fromkeys(c.target for c in ALL_CHECKS if c.points > 0))
    assert list(functions.NOTEBOOK_SECTIONS) == graded


def test_judges_rules_and_kinds_have_the_same_keys():
    assert set(judges.JUDGES) == set(validate.RULES) == set(functions.KINDS)
    assert {c.kind for c in ALL_CHECKS} | {case.kind for c in ALL_CHECKS for case in c.cases
                                           if case.kind} <= set(functions.KINDS)
    explaining = set(functions.OPERATIONS) - set(functions.KINDS.values())
    assert explaining == set(validate.EXPLAINING) == {"numeric"}


def test_one_table_of_operations():
    """The worker, the engine and the sandbox read functions.OPERATIONS."""
    import worker  # the student process's module (autograder/sandbox/child on sys.path)
    assert set(worker.OPERATIONS) == set(functions.OPERATIONS) | {"import"}
    for op, described in functions.OPERATIONS.items():
        run = functions.operation(op)
        assert worker.OPERATIONS[op] is run
        assert run.__module__ == described.child and callable(run)
        assert functions.student_module(op, {}) == described.module in functions.MODULES
    assert set(functions.KINDS.values()) <= set(functions.OPERATIONS)
    for f in DESCRIBED:  # a layer operation imports the module of the function it runs
        assert functions.student_module("forward", {"function": f.name}) == f.module


@pytest.mark.parametrize("key", sorted(functions.INTEGER_ARGS))
def test_an_index_argument_is_refused_past_the_axis_it_indexes(key):
    """The grader answers a forward call only with indices in [0, size of their axis)."""
    name, arg = key
    f, bound = functions.FUNCTIONS[name], functions.INTEGER_ARGS[key]
    sizes = {letter: 3 + i for i, letter in enumerate("NTDHVK")}
    args = [np.zeros([sizes[x] for x in f.letters[a]],
                     dtype=np.int64 if a == arg else np.float64) for a in f.args]
    assert serve._arguments(name, list(args)) is not None
    args[f.args.index(arg)][...] = sizes[bound]
    with pytest.raises(serve.Refused, match=rf"indices outside \[0, {bound}\)"):
        serve._arguments(name, args)


def test_each_extension_is_described_checked_and_set():
    """An extension's name is its settings table (made from the descriptions: no Config
    field of its own) and its checks' key; its functions are described as such, each with
    a check, none in CHECKS; off by default, worth its checks' points when on."""
    from autograder import settings
    from autograder.config import DEFAULT
    assert set(functions.EXTENSIONS) == set(EXTENSION_CHECKS) == {"lstm"}
    for name, checks in EXTENSION_CHECKS.items():
        described = {f.name for f in DESCRIBED if f.extension == name}
        assert {c.target for c in checks} == described
        assert not described & {c.target for c in CHECKS}
        assert settings.BY_KEY[f"{name}.enabled"].value(DEFAULT) is False
        assert settings.BY_KEY[f"{name}.points"].value(DEFAULT) == sum(c.points for c in checks)
        assert f"{functions.EXTENSIONS[name]}.py" in settings.BY_KEY[f"{name}.enabled"].help


def test_the_child_modules_are_imported_by_their_one_name():
    """The student process imports child/'s modules by flat name, and so does the grader
    (child/__init__.py): `from autograder.sandbox.child.wire import X` would load a second copy,
    whose tables and classes are not the ones the rest uses (an isinstance that fails)."""
    import re
    from conftest import ROOT
    dotted = re.compile(r"^\s*(from|import) autograder[\w.]*\.child\.\w", re.M)
    offenders = [str(p.relative_to(ROOT)) for folder in ("autograder", "tests", "bench")
                 for p in (ROOT / folder).rglob("*.py")
                 if dotted.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders, offenders
