"""Explicit loops over the batch and over time, with a small class as the cache."""
import numpy as np


class StepCache:
    def __init__(self, x, prev_h, Wx, Wh, next_h):
        self.x, self.prev_h, self.Wx, self.Wh, self.next_h = x, prev_h, Wx, Wh, next_h


class SequenceCache:
    def __init__(self):
        self.steps = []

    def add(self, step):
        self.steps.append(step)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.empty((x.shape[0], Wx.shape[1]), dtype=np.result_type(x, Wx))
    for n in range(x.shape[0]):  # one sample at a time
        next_h[n] = np.tanh(x[n] @ Wx + prev_h[n] @ Wh + b)
    return next_h, StepCache(x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    c = cache
    dx, dprev_h = np.zeros_like(c.x), np.zeros_like(c.prev_h)
    dWx, dWh = np.zeros_like(c.Wx), np.zeros_like(c.Wh)
    db = np.zeros(c.Wx.shape[1], dtype=dWx.dtype)
    for n in range(c.x.shape[0]):
        da = dnext_h[n] * (1 - c.next_h[n] ** 2)  # (H,)
        dx[n] = c.Wx @ da
        dprev_h[n] = c.Wh @ da
        dWx += np.outer(c.x[n], da)
        dWh += np.outer(c.prev_h[n], da)
        db += da
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    cache = SequenceCache()
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    state = h0
    for t in range(T):
        state, step = rnn_step_forward(x[:, t], state, Wx, Wh, b)
        cache.add(step)
        h[:, t] = state
    return h, cache


def rnn_backward(dh, cache):
    steps = cache.steps
    N, T, H = dh.shape
    dx = np.zeros((N, T, steps[0].x.shape[1]), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(steps[0].Wx), np.zeros_like(steps[0].Wh)
    db = np.zeros(H, dtype=dWx.dtype)
    grad_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        grad_h = grad_h + dh[:, t]
        dx[:, t], grad_h, gWx, gWh, gb = rnn_step_backward(grad_h, steps[t])
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, grad_h, dWx, dWh, db


def word_embedding_forward(x, W):
    N, T = x.shape
    out = np.empty((N, T, W.shape[1]), dtype=W.dtype)
    for n in range(N):
        for t in range(T):
            out[n, t] = W[x[n, t]]
    return out, (x, W.shape[0], W.dtype)


def word_embedding_backward(dout, cache):
    x, V, dtype = cache
    N, T, D = dout.shape
    dW = np.zeros((V, D), dtype=dtype)
    for n in range(N):
        for t in range(T):
            dW[x[n, t]] += dout[n, t]
    return dW
