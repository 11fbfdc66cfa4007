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
