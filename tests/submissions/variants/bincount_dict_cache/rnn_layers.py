"""Dict caches, a vectorised tanh' mask, and np.bincount for the embedding gradient."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    stacked_in = np.concatenate([x, prev_h], axis=1)  # (N, D + H)
    stacked_W = np.concatenate([Wx, Wh], axis=0)  # (D + H, H)
    next_h = np.tanh(stacked_in @ stacked_W + b)
    return next_h, {"inputs": stacked_in, "W": stacked_W, "D": x.shape[1], "out": next_h}


def rnn_step_backward(dnext_h, cache):
    D = cache["D"]
    da = dnext_h * (1 - cache["out"] ** 2)
    d_in = da @ cache["W"].T  # (N, D + H)
    dW = cache["inputs"].T @ da  # (D + H, H)
    return d_in[:, :D], d_in[:, D:], dW[:D], dW[D:], da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    hs = np.zeros((N, T + 1, h0.shape[1]), dtype=x.dtype)  # hs[:, 0] = h0
    hs[:, 0] = h0
    for t in range(1, T + 1):
        hs[:, t] = np.tanh(x[:, t - 1] @ Wx + hs[:, t - 1] @ Wh + b)
    return hs[:, 1:].copy(), {"x": x, "hs": hs, "Wx": Wx, "Wh": Wh}


def rnn_backward(dh, cache):
    x, hs, Wx, Wh = cache["x"], cache["hs"], cache["Wx"], cache["Wh"]
    N, T, D = x.shape
    mask = 1 - hs[:, 1:] ** 2  # tanh' of every step, (N, T, H)
    dx = np.empty_like(x)
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[0], dtype=Wh.dtype)
    dnext = np.zeros_like(hs[:, 0])
    for t in range(T - 1, -1, -1):
        da = (dh[:, t] + dnext) * mask[:, t]
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += hs[:, t].T @ da
        db += da.sum(axis=0)
        dnext = da @ Wh.T
    return dx, dnext, dWx, dWh, db


def word_embedding_forward(x, W):
    return np.take(W, x, axis=0), {"x": x, "V": W.shape[0], "dtype": W.dtype}


def word_embedding_backward(dout, cache):
    x, V = cache["x"], cache["V"]
    D = dout.shape[-1]
    # Row x[n, t], column d lands in bin x[n, t] * D + d; bincount adds up repeats.
    bins = (x.reshape(-1, 1).astype(np.int64) * D + np.arange(D)).ravel()  # x: any int dtype
    dW = np.bincount(bins, weights=dout.reshape(-1).astype(np.float64), minlength=V * D)
    return dW.reshape(V, D).astype(cache["dtype"])
