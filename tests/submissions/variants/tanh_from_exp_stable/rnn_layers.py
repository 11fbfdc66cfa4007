"""Layers of a vanilla recurrent network, as forward / backward pairs.
普通循环神经网络（RNN）的各层：前向 / 反向函数成对出现。

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient and that cache and returns the gradient of every input.
Shape letters used throughout:

    N  batch size                  批大小
    T  sequence length (steps)     序列长度（时间步数）
    D  input dimension             输入维度
    H  hidden dimension            隐藏层维度
    V  vocabulary size             词表大小

Arrays keep the dtype they come in with: float32 in, float32 out.
"""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """tanh(a) = 1 - 2 / (exp(2a) + 1): exact at both ends (exp overflows to inf,
    2 / inf = 0), no inf / inf."""
    a = x @ Wx + prev_h @ Wh + b
    with np.errstate(over="ignore"):
        next_h = 1 - 2 / (np.exp(2 * a) + 1)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one RNN time step.
    RNN 单个时间步的反向传播。

    Inputs:
        dnext_h (N, H)  upstream gradient of next_h
        cache           from rnn_step_forward

    Returns (dx, dprev_h, dWx, dWh, db) with the shapes of x (N, D), prev_h (N, H),
    Wx (D, H), Wh (H, H) and b (H,).
    """
    # TODO: rnn_step_backward (6 lines)
    # 1. Through tanh: da = dnext_h * (1 - next_h^2)            da: (N, H)
    # 2. Inputs:  dx = da Wx^T (N, D),   dprev_h = da Wh^T (N, H)
    # 3. Weights: dWx = x^T da (D, H),   dWh = prev_h^T da (H, H),   db = sum of da over N (H,)
    # 先穿过 tanh 求 da，再用链式法则求各输入和参数的梯度；db 要对批维求和。
    ### BEGIN SOLUTION
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)  # (N, H)
    dx = da @ Wx.T  # (N, D)
    dprev_h = da @ Wh.T  # (N, H)
    dWx = x.T @ da  # (D, H)
    dWh = prev_h.T @ da  # (H, H)
    db = da.sum(axis=0)  # (H,)
    ### END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    caches, prev_h = [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = 0, 0, 0
    dprev = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev, dWx, dWh, db


def word_embedding_forward(x, W):
    """Look up the vector of every word index.
    词嵌入的前向传播：按索引取出词向量。

    Inputs:
        x  (N, T)  integer word indices, each in [0, V)
        W  (V, D)  one D-dimensional vector per word

    Returns (out, cache):
        out (N, T, D)  out[n, t] = W[x[n, t]]
        cache          what word_embedding_backward needs
    """
    # TODO: word_embedding_forward (2 lines)
    # 1. Index W with the whole array x at once: no loop needed.     out: (N, T, D)
    # 2. Keep in cache what the backward pass needs (x and the shape / dtype of W).
    # 用整个索引数组 x 直接索引 W，不需要循环。
    ### BEGIN SOLUTION
    out = W[x]  # (N, T, D)
    cache = (x, W.shape, W.dtype)
    ### END SOLUTION
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of the word embedding.
    词嵌入的反向传播。

    Inputs:
        dout (N, T, D)  upstream gradient of out
        cache           from word_embedding_forward

    Returns:
        dW (V, D)  gradient of W. A word that appears several times in x receives
                   the sum of the gradients of all its appearances.
    """
    # TODO: word_embedding_backward (2 lines)
    # 1. Start from dW = zeros of the shape and dtype of W.                 (V, D)
    # 2. Add dout[n, t] into row x[n, t] for every n, t. Repeated indices must add
    #    up: dW[x] += dout keeps only one of them. Hint: np.add.at.
    # 重复出现的词的梯度要累加：dW[x] += dout 只会保留其中一个，请用 np.add.at。
    ### BEGIN SOLUTION
    x, W_shape, W_dtype = cache
    dW = np.zeros(W_shape, dtype=W_dtype)  # (V, D)
    np.add.at(dW, x, dout)
    ### END SOLUTION
    return dW
