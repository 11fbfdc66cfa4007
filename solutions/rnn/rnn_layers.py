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

Arrays keep the dtype they come in with: float32 in, float32 out (and float64 in,
float64 out). No function modifies an array it is given (inputs, upstream gradients,
the cache), so a backward may be called twice on the same cache with the same result.
输入数组的 dtype 保持不变；任何函数都不能修改传入的数组（包括 cache）。
"""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with tanh: next_h = tanh(x Wx + prev_h Wh + b).
    RNN 单个时间步的前向传播。

    Inputs:
        x       (N, D)  input of this step
        prev_h  (N, H)  hidden state of the previous step
        Wx      (D, H)  input-to-hidden weights
        Wh      (H, H)  hidden-to-hidden weights
        b       (H,)    bias

    Returns (next_h, cache):
        next_h  (N, H)  new hidden state
        cache           what rnn_step_backward needs
    """
    # TODO: rnn_step_forward (2 lines)
    # 1. Pre-activation a = x Wx + prev_h Wh + b               a: (N, H)
    # 2. next_h = tanh(a); store in cache what the backward pass needs.
    #    Hint: tanh'(a) = 1 - tanh(a)^2 can be computed from next_h alone.
    # 先计算 a = x Wx + prev_h Wh + b，再取 tanh；把反向传播需要的量存入 cache。
    ### BEGIN SOLUTION
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)
    cache = (x, prev_h, Wx, Wh, next_h)
    ### END SOLUTION
    return next_h, cache


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
    """Run a vanilla RNN over a whole sequence (unrolled in time).
    在整个序列上展开 RNN 的前向传播。

    Inputs:
        x   (N, T, D)  the input sequence
        h0  (N, H)     initial hidden state
        Wx  (D, H), Wh (H, H), b (H,)  parameters shared by every step

    Returns (h, cache):
        h   (N, T, H)  the hidden state of every step, h[:, t] = h_{t+1}
        cache          what rnn_backward needs
    """
    # TODO: rnn_forward (about 6 lines)
    # 1. Create h, an array of shape (N, T, H) with the dtype of x.
    # 2. For t = 0 .. T-1: h[:, t] = tanh(x[:, t] Wx + h_prev Wh + b), where h_prev
    #    is h0 at t = 0 and h[:, t-1] after (you may call rnn_step_forward).
    # 3. Keep in cache what rnn_backward needs.
    # 按时间步循环，每一步都使用同一组参数；上一步的隐藏状态是下一步的输入。
    ### BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    # Time-major inside: the state of step t, hs[t] (N, H), is one contiguous block, so
    # the sequential product of every step reads and writes memory in order.
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D), a copy: x is untouched
    hs = np.empty((T, N, H), dtype=x.dtype)
    # The input projection of every step in one product; only h_prev Wh is sequential.
    np.matmul(x_tm.reshape(T * N, D), Wx, out=hs.reshape(T * N, H))
    hs += b  # hs[t] = x_t Wx + b
    hWh = np.empty((N, H), dtype=hs.dtype)  # one buffer for every step's h_prev Wh
    prev_h = h0
    for t in range(T):
        np.matmul(prev_h, Wh, out=hWh)
        hs[t] += hWh  # the pre-activation a_t
        prev_h = np.tanh(hs[t], out=hs[t])  # h_t replaces a_t in place  (N, H)
    h = hs.transpose(1, 0, 2)  # (N, T, H), the contract's layout: a view, no copy
    cache = (x_tm, h0, Wx, Wh, hs)
    ### END SOLUTION
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time (BPTT) for a whole sequence.
    整个序列的随时间反向传播（BPTT）。

    Inputs:
        dh     (N, T, H)  upstream gradient of every hidden state h[:, t]
        cache             from rnn_forward

    Returns (dx, dh0, dWx, dWh, db):
        dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)
    The parameters are shared by every step, so their gradients are summed over time.
    """
    # TODO: rnn_backward (about 10 lines)
    # 1. Walk t = T-1 .. 0. The gradient reaching h[:, t] is dh[:, t] plus dprev_h
    #    coming back from step t+1 (zero at the last step).            (N, H)
    # 2. Backpropagate one step (you may call rnn_step_backward): this gives dx[:, t]
    #    (N, D) and the dprev_h passed on to step t-1 (N, H).
    # 3. Add up dWx, dWh, db over all steps; dh0 is the dprev_h left after step 0.
    #    Start every sum and dx with np.zeros_like(...) of the matching input, so that
    #    float32 in gives float32 out.
    # 参数在各时间步共享，所以梯度要对所有时间步求和；dh0 是最后传回的 dprev_h。
    # 用 np.zeros_like 初始化各梯度，保持输入的 dtype（float32 进，float32 出）。
    ### BEGIN SOLUTION
    x_tm, h0, Wx, Wh, hs = cache  # x_tm (T, N, D), hs (T, N, H): time-major
    T, N, H = hs.shape
    D = x_tm.shape[2]
    da = np.empty_like(hs)  # (T, N, H) gradient of every pre-activation
    dprev_h = np.zeros_like(h0)  # (N, H)
    for t in reversed(range(T)):
        np.add(dh[:, t], dprev_h, out=da[t])  # what reaches h_t: its own dh and step t+1's
        da[t] *= 1 - hs[t] ** 2  # through tanh: tanh'(a_t) = 1 - h_t^2
        dprev_h = da[t] @ Wh.T  # (N, H)
    dh0 = dprev_h
    # Parameter gradients of all steps at once, one product each after the loop.
    da_flat = da.reshape(T * N, H)
    dx = (da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2)  # (N, T, D), a view
    dWx = x_tm.reshape(T * N, D).T @ da_flat  # (D, H)
    # The state before step t is h0 for t = 0 and hs[t - 1] after: two products, so
    # that no shifted copy of hs is made.
    dWh = h0.T @ da[0]  # (H, H)
    dWh += hs[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)
    db = da_flat.sum(axis=0)  # (H,)
    ### END SOLUTION
    return dx, dh0, dWx, dWh, db


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
