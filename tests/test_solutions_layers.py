"""The reference layers agree with centred-difference numeric gradients and keep dtypes."""
import numpy as np
import pytest

from gradient_check import eval_numerical_gradient_array, rel_error
from rnn_layers import (rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward,
                        word_embedding_backward, word_embedding_forward)

GRAD_TOL = 1e-7

# (N, T, D, H): N=1, T=1 and D != H are where transposes and sums go wrong.
SEQ_SHAPES = [(2, 3, 4, 5), (1, 1, 3, 2), (1, 4, 2, 6), (3, 1, 5, 5), (4, 5, 6, 3)]


def _rnn_inputs(rng, N, T, D, H, dtype=np.float64):
    """x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,): nonzero h0 and bias."""
    arrays = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
              0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)),
              rng.standard_normal(H))
    return [a.astype(dtype) for a in arrays]


def _numeric_grads(forward, inputs, dout):
    """Numeric gradient of sum(forward(*inputs) * dout) w.r.t. every input."""
    return [eval_numerical_gradient_array(lambda _: forward(*inputs)[0], a, dout)
            for a in inputs]


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_step_backward_matches_numeric_gradients(rng, N, T, D, H):
    x, h0, Wx, Wh, b = _rnn_inputs(rng, N, T, D, H)
    inputs = [x[:, 0], h0, Wx, Wh, b]
    next_h, cache = rnn_step_forward(*inputs)
    dnext_h = rng.standard_normal(next_h.shape)
    analytic = rnn_step_backward(dnext_h, cache)
    for name, num, ana in zip("dx dprev_h dWx dWh db".split(),
                              _numeric_grads(rnn_step_forward, inputs, dnext_h), analytic):
        assert ana.shape == num.shape, name
        assert rel_error(num, ana) < GRAD_TOL, name


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_step_forward_is_tanh_of_affine(rng, N, T, D, H):
    x, h0, Wx, Wh, b = _rnn_inputs(rng, N, T, D, H)
    next_h, _ = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    assert rel_error(next_h, np.tanh(x[:, 0] @ Wx + h0 @ Wh + b)) < 1e-12


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_rnn_forward_equals_repeated_steps(rng, N, T, D, H):
    x, h0, Wx, Wh, b = _rnn_inputs(rng, N, T, D, H)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    prev_h = h0
    for t in range(T):
        prev_h, _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        assert rel_error(h[:, t], prev_h) < 1e-12


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_rnn_backward_matches_numeric_gradients(rng, N, T, D, H):
    inputs = _rnn_inputs(rng, N, T, D, H)
    h, cache = rnn_forward(*inputs)
    dh = rng.standard_normal(h.shape)
    analytic = rnn_backward(dh, cache)
    for name, num, ana in zip("dx dh0 dWx dWh db".split(),
                              _numeric_grads(rnn_forward, inputs, dh), analytic):
        assert ana.shape == num.shape, name
        assert rel_error(num, ana) < GRAD_TOL, name


@pytest.mark.parametrize("x", [
    np.array([[0, 3, 1], [3, 3, 0]]),  # repeated indices, row 2 and 4 never used
    np.array([[2]]),  # N = 1, T = 1
    np.array([[1, 1, 1, 1]]),  # one word everywhere
])
def test_word_embedding_forward_and_backward(rng, x):
    V, D = 5, 3
    W = rng.standard_normal((V, D))
    out, cache = word_embedding_forward(x, W)
    assert out.shape == (*x.shape, D)
    np.testing.assert_array_equal(out, W[x])
    dout = rng.standard_normal(out.shape)
    dW = word_embedding_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda _: word_embedding_forward(x, W)[0], W, dout)
    assert rel_error(num, dW) < GRAD_TOL
    unused = np.setdiff1d(np.arange(V), x)
    assert np.all(dW[unused] == 0)


def test_word_embedding_backward_adds_repeated_indices():
    x = np.array([[1, 1, 1]])
    dW = word_embedding_backward(np.ones((1, 3, 2)), word_embedding_forward(x, np.zeros((3, 2)))[1])
    np.testing.assert_array_equal(dW, [[0, 0], [3, 3], [0, 0]])


def test_float32_in_float32_out(rng):
    x, h0, Wx, Wh, b = _rnn_inputs(rng, 2, 3, 4, 5, dtype=np.float32)
    next_h, cache = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    assert next_h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_step_backward(next_h, cache))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_backward(h, cache))
    W = rng.standard_normal((6, 4)).astype(np.float32)
    out, cache = word_embedding_forward(np.array([[0, 5]]), W)
    assert out.dtype == np.float32
    assert word_embedding_backward(out, cache).dtype == np.float32


def test_inputs_are_not_modified(rng):
    inputs = _rnn_inputs(rng, 2, 3, 4, 5)
    copies = [a.copy() for a in inputs]
    h, cache = rnn_forward(*inputs)
    dh = rng.standard_normal(h.shape)
    dh_copy = dh.copy()
    rnn_backward(dh, cache)
    for a, c in zip(inputs + [dh], copies + [dh_copy]):
        np.testing.assert_array_equal(a, c)


# ---- the optional LSTM extension (lstm_layers.py) -------------------------------------

def _lstm_inputs(rng, N, T, D, H, dtype=np.float64):
    """x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,): nonzero h0 and bias."""
    arrays = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
              0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
              rng.standard_normal(4 * H))
    return [a.astype(dtype) for a in arrays]


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_lstm_step_backward_matches_numeric_gradients(rng, N, T, D, H):
    from lstm_layers import lstm_step_backward, lstm_step_forward
    x, h0, Wx, Wh, b = _lstm_inputs(rng, N, T, D, H)
    inputs = [x[:, 0], h0, rng.standard_normal((N, H)), Wx, Wh, b]
    next_h, next_c, cache = lstm_step_forward(*inputs)
    dnext_h, dnext_c = rng.standard_normal(next_h.shape), rng.standard_normal(next_c.shape)
    analytic = lstm_step_backward(dnext_h, dnext_c, cache)
    for name, position, ana in zip("dx dprev_h dprev_c dWx dWh db".split(), range(6), analytic):
        # d/d input of sum(next_h * dnext_h) + sum(next_c * dnext_c): both outputs count
        num = (eval_numerical_gradient_array(lambda _: lstm_step_forward(*inputs)[0],
                                             inputs[position], dnext_h)
               + eval_numerical_gradient_array(lambda _: lstm_step_forward(*inputs)[1],
                                               inputs[position], dnext_c))
        assert ana.shape == num.shape, name
        assert rel_error(num, ana) < GRAD_TOL, name


@pytest.mark.parametrize("N, T, D, H", SEQ_SHAPES)
def test_lstm_backward_matches_numeric_gradients(rng, N, T, D, H):
    from lstm_layers import lstm_backward, lstm_forward
    inputs = _lstm_inputs(rng, N, T, D, H)
    h, cache = lstm_forward(*inputs)
    dh = rng.standard_normal(h.shape)
    analytic = lstm_backward(dh, cache)
    for name, num, ana in zip("dx dh0 dWx dWh db".split(),
                              _numeric_grads(lstm_forward, inputs, dh), analytic):
        assert ana.shape == num.shape, name
        assert rel_error(num, ana) < GRAD_TOL, name


def test_lstm_gates_follow_the_contract_order(rng):
    """a = x Wx + prev_h Wh + b cut into i, f, o, g: written out here once, by hand."""
    from lstm_layers import lstm_step_forward
    N, D, H = 3, 4, 5
    x, prev_h, prev_c = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    a = x @ Wx + prev_h @ Wh + b
    s = 1 / (1 + np.exp(-a))  # ordinary values: the naive form is exact here
    c = s[:, H:2 * H] * prev_c + s[:, :H] * np.tanh(a[:, 3 * H:])
    next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    assert rel_error(next_c, c) < 1e-12
    assert rel_error(next_h, s[:, 2 * H:3 * H] * np.tanh(c)) < 1e-12


def test_lstm_first_cell_state_is_zero(rng):
    from lstm_layers import lstm_forward, lstm_step_forward
    x, h0, Wx, Wh, b = _lstm_inputs(rng, 2, 1, 3, 4)
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    expected, _, _ = lstm_step_forward(x[:, 0], h0, np.zeros_like(h0), Wx, Wh, b)
    assert np.array_equal(h[:, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_sigmoid_is_stable_and_keeps_dtype(dtype):
    from lstm_layers import sigmoid
    a = np.array([-1e4, -800.0, -100.0, 0.0, 100.0, 800.0, 1e4], dtype=dtype)
    with np.errstate(all="raise"):  # an overflow warning fails the test
        s = sigmoid(a)
    assert s.dtype == dtype and np.all(np.isfinite(s))
    assert s[0] == 0 and s[3] == 0.5 and s[-1] == 1


def test_lstm_float32_in_float32_out_and_inputs_untouched(rng):
    from lstm_layers import lstm_backward, lstm_forward
    inputs = _lstm_inputs(rng, 2, 3, 4, 5, dtype=np.float32)
    copies = [a.copy() for a in inputs]
    h, cache = lstm_forward(*inputs)
    dh = rng.standard_normal(h.shape).astype(np.float32)
    first = lstm_backward(dh, cache)
    again = lstm_backward(dh, cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(np.array_equal(a, b) for a, b in zip(inputs, copies))


def test_lstm_large_preactivations_stay_finite(rng):
    from lstm_layers import lstm_backward, lstm_forward
    x, h0, Wx, Wh, b = _lstm_inputs(rng, 2, 3, 4, 5)
    b = b + np.resize([900.0, -900.0], b.shape)  # far beyond exp's overflow, both signs
    with np.errstate(all="raise"):
        h, cache = lstm_forward(x, h0, Wx, Wh, b)
        grads = lstm_backward(np.ones_like(h), cache)
    assert np.all(np.isfinite(h)) and all(np.all(np.isfinite(g)) for g in grads)
