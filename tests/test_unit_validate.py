"""Unit tests of autograder/judging/validate.py: a reply that fits the contract comes back
(restricted to the keys the grader knows); one that does not raises InvalidReply naming
the function, the output, what was expected (with the contract's letters) and what came.

Every row starts from the reference's own reply to a seeded case (the operations of
child/layer_ops.py and child/classifier_ops.py, run here on the reference) and changes
one thing in it."""
import copy
from functools import partial

import numpy as np
import pytest

from autograder.judging import cases, engine
from autograder.judging.checks import ALL_CHECKS
from autograder.sandbox.child import classifier_ops, layer_ops
from autograder.judging.reference import load_reference
from autograder.judging.validate import OPTIONAL, RULES, InvalidReply, validate
from conftest import SOLUTIONS

REFERENCE = load_reference(SOLUTIONS)
N, T, D, H, K = 2, 3, 4, 5, 3  # D != H != N: a swapped axis shows in the shape

PAYLOADS = {  # op -> (graded function, payload maker, operation run on the reference)
    "step forward": ("rnn_step_forward", partial(cases.rnn_step, N=N, D=D, H=H), "forward"),
    "step backward": ("rnn_step_backward", partial(cases.rnn_step, N=N, D=D, H=H), "backward"),
    "forward": ("rnn_forward", partial(cases.rnn_sequence, N=N, T=T, D=D, H=H), "forward"),
    "backward": ("rnn_backward", partial(cases.rnn_sequence, N=N, T=T, D=D, H=H), "backward"),
    "embedding backward": ("word_embedding_backward", partial(cases.embedding, N=N, T=T, D=D),
                           "backward"),
    "init": ("RNNClassifier.__init__", partial(cases.classifier_init, D=D, H=H, K=K), "init"),
    "loss": ("RNNClassifier.loss", partial(cases.classifier, N=N + 1, T=T, D=D, H=H), "loss"),
    "scores": ("RNNClassifier.loss", partial(cases.classifier, N=N + 1, T=T, D=D, H=H),
               "scores"),
    "predict": ("RNNClassifier.predict", partial(cases.classifier, N=N + 1, T=T, D=D, H=H),
                "predict"),
    "predict_each": ("RNNClassifier.predict", partial(cases.classifier, N=N + 1, T=T, D=D,
                                                      H=H), "predict_each"),
    "lstm step forward": ("lstm_step_forward", partial(cases.lstm_step, N=N, D=D, H=H),
                          "forward"),
    "lstm step backward": ("lstm_step_backward", partial(cases.lstm_step, N=N, D=D, H=H),
                           "backward"),
}
RUN = {"forward": layer_ops.forward, "backward": layer_ops.backward,
       "init": classifier_ops.init, "loss": classifier_ops.loss,
       "scores": classifier_ops.scores, "predict": classifier_ops.predict,
       "predict_each": classifier_ops.predict_each}


def situation(name):
    """(target, op, payload, the reference's reply) for one row of PAYLOADS."""
    target, make, op = PAYLOADS[name]
    payload = make(np.random.default_rng(7))
    return target, op, payload, RUN[op](REFERENCE, payload)


def setitem(path, value):
    """A change of the reply: the value at path (keys and indices) replaced."""
    def change(reply):
        inner = reply
        for key in path[:-1]:
            inner = inner[key]
        inner[path[-1]] = value(inner[path[-1]]) if callable(value) else value
        return reply
    return change


def dropped(key):
    def change(reply):
        del reply[key]
        return reply
    return change


def ident(reply):
    return reply


# (situation, change of the reference's reply, words of the InvalidReply or None: it fits)
ROWS = [
    ("step forward", ident, None),
    ("step forward", setitem(["out"], lambda a: a.astype(np.float32)), None),  # judges' job
    ("step forward", setitem(["out"], lambda a: a.T.copy()),
     ["rnn_step_forward returned next_h of shape (5, 2); expected (N, H) = (2, 5)",
      "axes swapped"]),
    ("step forward", setitem(["out"], lambda a: a[None]),
     ["next_h of shape (1, 2, 5)", "extra leading axis of length 1"]),
    ("step forward", setitem(["out"], None),
     ["rnn_step_forward returned next_h as None; expected an array of shape (N, H) = (2, 5)"]),
    ("step forward", setitem(["out"], lambda a: a.astype(np.int64)),
     ["next_h of dtype int64; expected a float array"]),
    ("step forward", setitem(["out"], lambda a: a > 0), ["dtype bool; expected a float array"]),
    ("step forward", dropped("out"), ["rnn_step_forward: the student process's reply has no 'out'"]),
    ("step forward", lambda reply: [reply], ["the student process sent a list instead"]),
    ("step forward", setitem(["modified"], ["rnn_step_forward:x", "rnn_step_backward:dnext_h"]),
     None),
    ("step forward", setitem(["modified"], ["os.system:x"]), ["arguments the grader does not know"]),
    ("step forward", setitem(["modified"], ["rnn_step_forward:x"] * 100), ["expected at most"]),
    ("forward", setitem(["out"], lambda a: a[:, :-1]),
     ["rnn_forward returned h of shape (2, 2, 5); expected (N, T, H) = (2, 3, 5)"]),
    ("step backward", ident, None),
    ("step backward", setitem(["grads"], lambda g: g[:4]),
     ["rnn_step_backward returned 4 gradients; expected 5 (dx, dprev_h, dWx, dWh, db)"]),
    ("step backward", setitem(["grads"], lambda g: g * 200), ["with 1000 entries; expected at most 5"]),
    ("step backward", setitem(["grads", 2], lambda a: a.T.copy()),
     ["rnn_step_backward returned dWx of shape (5, 4); expected (D, H) = (4, 5)"]),
    ("step backward", setitem(["grads", 0], lambda a: a[:, :1]),
     ["returned dx of shape (2, 1); expected (N, D) = (2, 4)"]),
    ("step backward", setitem(["grads", 4], lambda a: a[:, None]),
     ["returned db of shape (5, 1); expected (H,) = (5,)"]),
    ("step backward", setitem(["repeat_differs"], ["dWx"]), None),
    ("step backward", setitem(["repeat_differs"], ["dW_evil"]), ["named unknown gradients"]),
    ("step backward", setitem(["shared_state"], 1), ["shared_state", "expected True or False"]),
    ("backward", setitem(["grads", 0], lambda a: a[:, 0]),
     ["rnn_backward returned dx of shape (2, 4); expected (N, T, D) = (2, 3, 4)"]),
    ("backward", setitem(["grads", 1], lambda a: a[None]), ["dh0 of shape (1, 2, 5)",
                                                            "expected (N, H) = (2, 5)"]),
    ("embedding backward", ident, None),
    ("embedding backward", setitem(["grads", 0], lambda a: a.T.copy()),
     ["word_embedding_backward returned dW of shape", "expected (V, D)"]),
    ("init", ident, None),
    ("init", setitem(["params", "b_q"], lambda a: np.zeros((20, K))),
     ["RNNClassifier.__init__ returned params['b_q'] of shape (20, 3); expected (K,) = (3,)"]),
    ("init", setitem(["params", "W_xh"], lambda a: a.astype(np.float32)),
     ["params['W_xh'] of dtype float32; expected float64"]),
    ("init", setitem(["params"], lambda p: {k: v for k, v in p.items() if k != "W_hh"}),
     ["returned params without 'W_hh'; expected the keys W_xh, W_hh, b_h, W_hq, b_q"]),
    ("init", setitem(["params"], None), ["returned params as None; expected a dict"]),
    ("init", setitem(["keys"], [1, 2]), ["the keys of params are not all strings"]),
    ("init", setitem(["keys"], ["k"] * 33), ["with 33 entries; expected at most 32"]),
    ("loss", ident, None),
    ("loss", setitem(["loss"], float("nan")), None),  # a value: the judges say it is wrong
    ("loss", setitem(["loss"], np.array(2.5)), None),
    ("loss", setitem(["loss"], "2.5"), ["RNNClassifier.loss returned the loss as a str; "
                                        "expected a number"]),
    ("loss", setitem(["loss"], np.zeros(2)), ["the loss as an array of shape (2,)"]),
    ("loss", setitem(["grads"], lambda g: {k: v for k, v in g.items() if k != "W_hq"}),
     ["RNNClassifier.loss returned grads without 'W_hq'"]),
    ("loss", setitem(["grads", "b_q"], lambda a: a[:, None]),
     ["returned grads['b_q'] of shape (", ", 1); expected (K,) = ("]),
    ("loss", setitem(["grads", "W_hh"], lambda a: a.astype(np.float32)), None),  # judges' job
    ("scores", setitem(["scores"], lambda a: a[:, :-1]),
     ["RNNClassifier.loss returned scores of shape (3, ", "expected (N, K) = (3, "]),
    ("predict", setitem(["labels"], lambda a: a.astype(np.float64)),
     ["RNNClassifier.predict returned labels of dtype float64; expected an integer array"]),
    ("predict", setitem(["labels"], lambda a: a.astype(np.uint8)), None),
    ("predict_each", setitem(["labels"], lambda a: a[:2]),
     ["RNNClassifier.predict made 2 single-sample predictions; expected 3"]),
    ("predict_each", setitem(["labels", 0], lambda a: a[0]),
     ["returned predict(X[0:1]) as ", "expected an array of shape (1,) = (1,)"]),
    # the LSTM: a second output (next_c), two upstream gradients, the overflow flag
    ("lstm step forward", ident, None),
    ("lstm step forward", setitem(["more", 0], lambda a: a[:, :2].copy()),
     ["lstm_step_forward returned next_c of shape (2, 2); expected (N, H) = (2, 5)"]),
    ("lstm step forward", setitem(["more"], []),
     ["lstm_step_forward returned 1 outputs besides the cache; expected 2"]),
    ("lstm step forward", setitem(["overflow"], 1), ["overflow in the student process's reply"]),
    ("lstm step backward", ident, None),
    ("lstm step backward", setitem(["grads", 4], lambda a: a[:, :5].copy()),
     ["lstm_step_backward returned dWh of shape (5, 5); expected (H, 4H) = (5, 20)"]),
    ("lstm step backward", dropped("overflow"), ["reply has no 'overflow'"]),
]


@pytest.mark.parametrize("name, change, words", ROWS, ids=range(len(ROWS)))
def test_validate(name, change, words):
    target, op, payload, expected = situation(name)
    got = change(copy.deepcopy(expected))
    if words is None:
        checked = validate(target, op, payload, expected, got)
        assert set(checked) == set(expected)
        return
    with pytest.raises(InvalidReply) as raised:
        validate(target, op, payload, expected, got)
    message = str(raised.value)
    assert message.startswith(target.split(".")[0]), message
    for word in words:
        assert word in message, message
    assert "\n" not in message


@pytest.mark.parametrize("extra", [{"evil": np.zeros(10**6)}, {"__class__": "x"}])
def test_only_keys_the_grader_knows_come_back(extra):
    target, op, payload, expected = situation("step forward")
    checked = validate(target, op, payload, expected, {**copy.deepcopy(expected), **extra})
    assert set(checked) == set(expected)


def test_long_key_names_are_cut():
    target, op, payload, expected = situation("init")
    got = copy.deepcopy(expected)
    got["keys"] = ["W" * 10_000]
    assert validate(target, op, payload, expected, got)["keys"] == ["W" * 64]


# numeric: the child's centred differences, one per argument (None for integer indices)
NUMERIC = [
    ("step forward", lambda args: [a.astype(np.float64) for a in args], None),
    ("step forward", lambda args: [None] * len(args), None),
    ("step forward", lambda args: [a.astype(np.float64) for a in args] * 2, ["expected at most 5"]),
    ("step forward", lambda args: [args[0].T.astype(np.float64)], ["a numeric gradient of shape"]),
    ("embedding backward", lambda args: [None, args[1].astype(np.float64)], None),
    ("embedding backward", lambda args: [args[0].astype(np.float64), None],
     ["a numeric gradient for integer indices"]),
]


@pytest.mark.parametrize("name, numeric, words", NUMERIC, ids=range(len(NUMERIC)))
def test_numeric_gradients(name, numeric, words):
    target, _, payload, _ = situation(name)
    got = {"numeric": numeric(payload["args"])}
    if words is None:
        checked = validate(target, "numeric", payload, {"numeric": None}, got)["numeric"]
        assert len(checked) == len(got["numeric"])
        return
    with pytest.raises(InvalidReply) as raised:
        validate(target, "numeric", payload, {"numeric": None}, got)
    for word in words:
        assert word in str(raised.value)


def test_expected_must_be_a_dict():
    """The grader's own invariant, not a verdict on the student: a TypeError."""
    with pytest.raises(TypeError):
        validate("rnn_step_forward", "forward", {}, [1], {})


def _reply_keys_by_kind() -> dict[str, set[str]]:
    """kind -> the keys of the reference's replies to the checks of that kind (one small
    case per check and kind; validate applies a rule only to a key of that reply)."""
    keys: dict[str, set[str]] = {}
    for i, check in enumerate(ALL_CHECKS):  # an extension's too
        small = {engine.kind_of(check, case): (j, case) for j, case in enumerate(check.cases)
                 if not case.large}
        for kind, (j, case) in small.items():
            payload = case.make(np.random.default_rng([7, i, j]))
            reply = engine.expected_output(check, payload, REFERENCE, case)
            keys.setdefault(kind, set()).update(reply)
    return keys


def test_every_rule_is_reached_by_a_key_of_the_reference_reply():
    """A rule whose key no reply of its kind carries is never run (validate reads the
    reference's keys, then OPTIONAL's): there is none."""
    keys = _reply_keys_by_kind()
    assert set(keys) == set(RULES)
    unreached = {kind: sorted(set(rules) - keys[kind]) for kind, rules in RULES.items()}
    assert not any(unreached.values()), unreached
    assert not OPTIONAL
