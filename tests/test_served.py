"""The grader answers the graded functions a graded function calls (serve.py), and every
run of train() is answered and recorded by the grader (train_serve.py): the parts
that need no student process."""
import numpy as np
import pytest

from autograder.judging import cases, serve, train_rules, train_serve
from autograder.judging.checks import CHECKS
from autograder.sandbox.child import served
from autograder.judging.engine import _request, answering
from autograder.judging.reference import load_reference
from conftest import SOLUTIONS

REFERENCE = load_reference(SOLUTIONS)
TRAIN_CASES = [case for check in CHECKS if check.kind == "train" for case in check.cases]


@pytest.mark.parametrize("case", TRAIN_CASES, ids=[c.label for c in TRAIN_CASES])
@pytest.mark.parametrize("seed", range(4))
def test_the_reference_keeps_every_train_rule_through_the_answers(case, seed):
    payload = case.make(np.random.default_rng([seed, 5]))
    reply, record = train_serve.reference_run(payload, REFERENCE, _request(payload, None))
    broken = [rule for rule, ok, _ in train_rules.rules(payload, {**reply, **record}) if not ok]
    assert broken == []


@pytest.mark.parametrize("seed", range(6))
def test_the_reference_overfit_run_is_sgd_and_learns_the_batch(seed):
    payload = cases.overfit_batch(np.random.default_rng([seed, 9]))
    reply, record = train_serve.reference_run(payload, REFERENCE, _request(payload, None))
    rules = train_rules.rules(payload, {**reply, **record}, record["val_acc"],
                              only=train_rules.SGD_RULES)
    assert [r for r, ok, _ in rules if not ok] == [] and record["accuracy"] >= 0.95


def test_scripted_and_overfit_runs_send_the_student_the_same_request():
    """Same operation, same keys: the script stays with the grader."""
    scripted = TRAIN_CASES[0].make(np.random.default_rng(1))
    overfit = cases.overfit_batch(np.random.default_rng(1))
    checks = {c.kind: c for c in CHECKS}
    asked = [_request(p, None, answering(checks[k], checks[k].cases[0], p, REFERENCE).names)
             for k, p in (("train", scripted), ("overfit", overfit))]
    assert set(asked[0]) == set(asked[1]) and "grader" not in asked[0]
    assert asked[0]["served"] == asked[1]["served"] == list(served.METHODS)
    from autograder.sandbox.child import functions
    KINDS = functions.KINDS
    assert KINDS["train"] == KINDS["overfit"]


def _layer_server(target="RNNClassifier.loss"):
    payload = cases.classifier(np.random.default_rng(3), N=4, T=3, D=5, H=6)
    return serve.Server(REFERENCE, target, payload, count_forwards=True), payload


def test_the_server_answers_forward_and_backward_with_the_reference():
    server, payload = _layer_server()
    p, X = payload["params"], payload["X"]
    h0 = np.zeros((4, 6))
    answer = server({"name": "rnn_forward", "args": [X, h0, p["W_xh"], p["W_hh"], p["b_h"]]})
    h, cache = REFERENCE.rnn_layers.rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
    assert np.array_equal(answer["answer"]["out"], h)
    dh = np.ones_like(h)
    back = server({"name": "rnn_backward", "dout": dh, "cache": answer["answer"]["cache"]})
    for got, want in zip(back["answer"]["grads"], REFERENCE.rnn_layers.rnn_backward(dh, cache)):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("call,says", [
    ({"name": "rnn_forward", "args": [np.zeros((4, 3, 5)), np.zeros((4, 7)), np.zeros((5, 6)),
                                      np.zeros((6, 6)), np.zeros(6)]}, "its H = 6 differs from 7"),
    ({"name": "rnn_forward", "args": "x"}, "expected (x, h0, Wx, Wh, b)"),
    ({"name": "rnn_backward", "dout": np.zeros((4, 3, 6)), "cache": 99}, "did not make"),
    ({"name": "os.system", "args": []}, "does not answer here"),
    ({"name": "word_embedding_forward", "args": [np.array([[0, 9]]), np.zeros((3, 2))]},
     "outside [0, V)"),
])
def test_the_server_refuses_calls_outside_the_contract(call, says):
    server, _ = _layer_server()
    reply = server(call)
    assert set(reply) == {"error"} and says in reply["error"], reply


def test_forward_calls_are_counted_by_the_grader_and_refused_past_the_limit():
    server, payload = _layer_server("rnn_step_backward")
    server.limit = serve.forward_call_limit("rnn_step_forward", {"args": [np.zeros((2, 3))]})
    args = [np.ones((2, 3)), np.ones((2, 4)), np.ones((3, 4)), np.ones((4, 4)), np.ones(4)]
    replies = [server({"name": "rnn_step_forward", "args": args}) for _ in range(server.limit + 3)]
    assert all("answer" in r for r in replies[:server.limit])
    assert all("numeric differentiation" in r["error"] for r in replies[server.limit:])
    assert server.forward_calls == server.limit + 3


def test_a_train_run_refuses_rows_and_params_it_did_not_give():
    payload = TRAIN_CASES[0].make(np.random.default_rng(2))
    run = train_serve.TrainRun(payload)
    params = {k: v.copy() for k, v in payload["params"].items()}
    other = run({"name": "RNNClassifier.predict", "X": payload["X"] + 1.0, "params": params})
    assert "not rows of X" in other["error"]
    bad = {**params, "W_hh": np.zeros((5, 5))}
    assert "params['W_hh']" in run({"name": "RNNClassifier.loss", "X": payload["X"][:2],
                                    "y": payload["y"][:2], "params": bad})["error"]
    ok = run({"name": "RNNClassifier.loss", "X": payload["X"][:2], "y": payload["y"][:2],
              "params": params})
    assert ok["answer"]["loss"] == 100.0 and run.record["batch_ids"][0].tolist() == [0, 1]


def test_an_update_that_is_not_the_answered_step_breaks_the_updates_rule():
    """Adding reg * W again, or clipping the answered gradients, in the update."""
    payload = cases.train_script(np.random.default_rng(4), reg=0.3, grad_scale=10.0)
    lr = payload["train"]["learning_rate"]
    for mistake in ("none", "reg", "clip"):
        run = train_serve.TrainRun(payload)
        params = {k: v.copy() for k, v in payload["params"].items()}
        for first in (0, 3):
            X, y = payload["X"][first:first + 3], payload["y"][first:first + 3]
            grads = run({"name": "RNNClassifier.loss", "X": X, "y": y,
                         "params": params})["answer"]["grads"]
            for k in params:
                g = grads[k] + (0.3 * params[k] if mistake == "reg" else 0)
                params[k] = params[k] - lr * (np.clip(g, -5, 5) if mistake == "clip" else g)
        run({"name": "RNNClassifier.predict", "X": payload["X_val"], "params": params})
        ok = train_rules._updates_ok(payload, {**run.record})
        assert ok == (mistake == "none"), mistake


def test_the_grader_answers_no_more_work_than_the_case_is_made_of():
    """An argument far larger than the case's arrays, or caches past what a derived
    computation keeps, are refused before the reference computes anything."""
    server, payload = _layer_server()
    p = payload["params"]
    huge = np.zeros((4, 5000, 5))
    reply = server({"name": "rnn_forward", "args": [huge, np.zeros((4, 6)), p["W_xh"],
                                                    p["W_hh"], p["b_h"]]})
    assert "expected a float array of shape (N, T, D)" in reply["error"]
    steps = serve.Server(REFERENCE, "rnn_forward", payload, count_forwards=False)
    args = [payload["X"][:, 0], np.zeros((4, 6)), p["W_xh"], p["W_hh"], p["b_h"]]
    replies = [steps({"name": "rnn_step_forward", "args": args})
               for _ in range(serve.MAX_CACHES + 1)]
    assert all("answer" in r for r in replies[:-1])
    assert "kept more caches" in replies[-1]["error"]
    run = train_serve.TrainRun(TRAIN_CASES[0].make(np.random.default_rng(2)))
    X = np.concatenate([run.payload["X"]] * 3)
    params = {k: v.copy() for k, v in run.payload["params"].items()}
    assert "more than X and X_val hold" in run({"name": "RNNClassifier.predict", "X": X,
                                                "params": params})["error"]


def test_the_server_answers_an_lstm_step_of_two_outputs():
    """lstm_step_forward returns next_h and next_c; lstm_step_backward takes dnext_h and
    dnext_c: both answered with the reference, the upstream gradients checked."""
    payload = cases.lstm_step(np.random.default_rng(4), N=3, D=4, H=5)
    server = serve.Server(REFERENCE, "lstm_backward", payload, count_forwards=True)
    answer = server({"name": "lstm_step_forward", "args": list(payload["args"])})["answer"]
    *outs, cache = REFERENCE.lstm_layers.lstm_step_forward(*payload["args"])
    assert len(answer["out"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(answer["out"], outs))
    dnext_h, dnext_c = payload["dout"]
    grads = server({"name": "lstm_step_backward", "dout": [dnext_h, dnext_c],
                    "cache": answer["cache"]})["answer"]["grads"]
    expected = REFERENCE.lstm_layers.lstm_step_backward(dnext_h, dnext_c, cache)
    assert len(grads) == 6 and all(np.array_equal(a, b) for a, b in zip(grads, expected))
    one = server({"name": "lstm_step_backward", "dout": dnext_h, "cache": answer["cache"]})
    assert "expected 2 upstream gradients" in one["error"]
    wrong = server({"name": "lstm_step_backward", "dout": [dnext_h, dnext_c[:, :2]],
                    "cache": answer["cache"]})
    assert "expected a float array of shape (3, 5)" in wrong["error"]
