"""Every product written with np.einsum; the embedding backward through a one-hot tensor."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b)
    return next_h, {"x": x, "prev_h": prev_h, "Wx": Wx, "Wh": Wh, "next_h": next_h}


def rnn_step_backward(dnext_h, cache):
    da = dnext_h * (1.0 - np.square(cache["next_h"]))
    dx = np.einsum("nh,dh->nd", da, cache["Wx"])
    dprev_h = np.einsum("nh,kh->nk", da, cache["Wh"])
    dWx = np.einsum("nd,nh->dh", cache["x"], da)
    dWh = np.einsum("nk,nh->kh", cache["prev_h"], da)
    db = np.einsum("nh->h", da)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    proj = np.einsum("ntd,dh->nth", x, Wx) + b
    states = [h0]
    for t in range(T):
        states.append(np.tanh(proj[:, t] + np.einsum("nk,kh->nh", states[-1], Wh)))
    h = np.stack(states[1:], axis=1).astype(x.dtype, copy=False)
    return h, (x, np.stack(states[:-1], axis=1), Wx, Wh, h)


def rnn_backward(dh, cache):
    x, h_prev, Wx, Wh, h = cache
    T = h.shape[1]
    da = np.zeros_like(h)
    carry = np.zeros_like(h[:, 0])
    for t in range(T - 1, -1, -1):
        da[:, t] = (dh[:, t] + carry) * (1.0 - h[:, t] ** 2)
        carry = np.einsum("nh,kh->nk", da[:, t], Wh)
    dx = np.einsum("nth,dh->ntd", da, Wx)
    dWx = np.einsum("ntd,nth->dh", x, da)
    dWh = np.einsum("ntk,nth->kh", h_prev, da)
    db = np.einsum("nth->h", da)
    return dx, carry, dWx, dWh, db


def word_embedding_forward(x, W):
    V = W.shape[0]
    one_hot = (x[..., None] == np.arange(V)).astype(W.dtype)  # (N, T, V)
    return np.einsum("ntv,vd->ntd", one_hot, W), (one_hot, W.dtype)


def word_embedding_backward(dout, cache):
    one_hot, dtype = cache
    return np.einsum("ntv,ntd->vd", one_hot, dout).astype(dtype, copy=False)
