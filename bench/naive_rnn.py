"""The baseline of the bench: a vanilla RNN written step by step, the way the course does.
基准对照：按课程写法逐个时间步实现的普通 RNN（不是参考答案）。

rnn_forward loops rnn_step_forward and keeps one cache per step; rnn_backward loops
rnn_step_backward and adds the parameter gradients of every step into running sums.
Nothing is batched over time. The dtype of the inputs is kept (float32 stays float32),
so the comparison with the reference is like for like.

Shape letters: N batch, T steps, D input, H hidden.
"""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h (N, H) = tanh(x Wx + prev_h Wh + b); x (N, D), prev_h (N, H)."""
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)  # (N, H)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """(dx, dprev_h, dWx, dWh, db) of one step, from dnext_h (N, H)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)  # (N, H)
    dx = da.dot(Wx.T)  # (N, D)
    dprev_h = da.dot(Wh.T)  # (N, H)
    dWx = x.T.dot(da)  # (D, H)
    dWh = prev_h.T.dot(da)  # (H, H)
    db = np.sum(da, axis=0)  # (H,)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """h (N, T, H) from x (N, T, D), h0 (N, H): one rnn_step_forward per step."""
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), dtype=x.dtype)
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(step_cache)
    return h, caches


def rnn_backward(dh, caches):
    """(dx, dh0, dWx, dWh, db) from dh (N, T, H): one rnn_step_backward per step."""
    N, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx = np.zeros((D, H), dtype=dh.dtype)
    dWh = np.zeros((H, H), dtype=dh.dtype)
    db = np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(
            dh[:, t, :] + dprev_h, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
