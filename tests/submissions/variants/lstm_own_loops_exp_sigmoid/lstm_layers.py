"""A correct LSTM written another way: a sigmoid from exp of -|a| only, the gates as an
(N, 4, H) view, sequence functions that do every step themselves (no call of the step
functions) with one dict per step in the cache, gradients built in preallocated arrays."""
import numpy as np


def sigmoid(a):
    e = np.exp(-np.abs(a))  # never more than 1: no overflow
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _gates(a, H):
    blocks = a.reshape(a.shape[0], 4, H)
    return sigmoid(blocks[:, 0]), sigmoid(blocks[:, 1]), sigmoid(blocks[:, 2]), np.tanh(blocks[:, 3])


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    i, f, o, g = _gates(np.dot(x, Wx) + np.dot(prev_h, Wh) + b, prev_h.shape[1])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, {"x": x, "h": prev_h, "c": prev_c, "Wx": Wx, "Wh": Wh,
                            "gates": (i, f, o, g), "next_c": next_c}


def _step_back(dnext_h, dnext_c, s):
    i, f, o, g = s["gates"]
    tc = np.tanh(s["next_c"])
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    da = np.empty((dc.shape[0], 4, dc.shape[1]), dtype=dc.dtype)
    da[:, 0] = dc * g * i * (1 - i)
    da[:, 1] = dc * s["c"] * f * (1 - f)
    da[:, 2] = dnext_h * tc * o * (1 - o)
    da[:, 3] = dc * i * (1 - g * g)
    return da.reshape(dc.shape[0], -1), dc * f


def lstm_step_backward(dnext_h, dnext_c, cache):
    da, dprev_c = _step_back(dnext_h, dnext_c, cache)
    return (np.dot(da, cache["Wx"].T), np.dot(da, cache["Wh"].T), dprev_c,
            np.dot(cache["x"].T, da), np.dot(cache["h"].T, da), np.sum(da, axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    steps, prev_h, prev_c = [], h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        steps.append(step)
    return h, steps


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    Wx, Wh = cache[0]["Wx"], cache[0]["Wh"]
    dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)
    dWx, dWh = np.zeros(Wx.shape, dtype=Wx.dtype), np.zeros(Wh.shape, dtype=Wh.dtype)
    db = np.zeros(Wx.shape[1], dtype=Wx.dtype)
    carry_h, carry_c = np.zeros((N, H), dtype=dh.dtype), np.zeros((N, H), dtype=dh.dtype)
    for t in range(T - 1, -1, -1):
        s = cache[t]
        da, carry_c = _step_back(dh[:, t, :] + carry_h, carry_c, s)
        dx[:, t, :] = np.dot(da, Wx.T)
        carry_h = np.dot(da, Wh.T)
        dWx = dWx + np.dot(s["x"].T, da)
        dWh = dWh + np.dot(s["h"].T, da)
        db = db + da.sum(axis=0)
    return dx, carry_h, dWx, dWh, db
