"""The optional LSTM extension: an LSTM layer as forward / backward pairs.
可选扩展：LSTM 层，前向 / 反向函数成对出现。

The lecture's LSTM (its section 8) with CS231n's conventions. The four gates come from
one pre-activation a = x Wx + prev_h Wh + b of shape (N, 4H), cut into four (N, H)
blocks in the order i, f, o, g:

    i = sigmoid(a_i)   input gate         输入门
    f = sigmoid(a_f)   forget gate        遗忘门
    o = sigmoid(a_o)   output gate        输出门
    g = tanh(a_g)      candidate values   候选值
    next_c = f * prev_c + i * g           the cell state: an additive path through time
    next_h = o * tanh(next_c)

Shape letters: N batch, T steps, D input, H hidden (4H: the four gates side by side).
The same rules as rnn_layers.py: float32 in, float32 out; no function modifies an array
it is given; right for any values (|a| in the hundreds included).
与 rnn_layers.py 相同的规则：保持 dtype，不修改输入，对任意大小的 a 都正确。
"""
import numpy as np


def sigmoid(a):
    """sigmoid(a) = 1 / (1 + exp(-a)), right for any |a| (no overflow, no NaN) and in
    the dtype of a. 数值稳定的 sigmoid。"""
    # TODO: sigmoid (1 line)
    # 1 / (1 + np.exp(-a)) overflows for a below about -89 (float32) or -710 (float64).
    # Use the identity sigmoid(a) = (1 + tanh(a / 2)) / 2, or exp of -|a| only.
    # 直接写 1 / (1 + np.exp(-a)) 会在 a 很负时溢出：请用 tanh 恒等式或只对 -|a| 取 exp。
    raise NotImplementedError("sigmoid: not implemented yet (see the TODO above)")


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.
    LSTM 单个时间步的前向传播。

    Inputs:
        x       (N, D)   input of this step
        prev_h  (N, H)   hidden state of the previous step
        prev_c  (N, H)   cell state of the previous step
        Wx      (D, 4H)  input-to-gates weights (blocks i, f, o, g)
        Wh      (H, 4H)  hidden-to-gates weights
        b       (4H,)    bias

    Returns (next_h, next_c, cache):
        next_h  (N, H)  new hidden state
        next_c  (N, H)  new cell state
        cache           what lstm_step_backward needs
    """
    # TODO: lstm_step_forward (about 8 lines)
    # 1. a = x Wx + prev_h Wh + b                                     a: (N, 4H)
    # 2. Cut a into four (N, H) blocks IN THIS ORDER: i, f, o, g (a[:, :H] is i).
    #    i, f, o = sigmoid(...) (the stable one above), g = tanh(...).
    # 3. next_c = f * prev_c + i * g;  next_h = o * tanh(next_c).
    # 按 i, f, o, g 的顺序把 a 切成四块；细胞状态 c 是加法更新的。
    raise NotImplementedError("lstm_step_forward: not implemented yet (see the TODO above)")
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM time step.
    LSTM 单个时间步的反向传播。

    Inputs:
        dnext_h (N, H)  upstream gradient of next_h
        dnext_c (N, H)  upstream gradient of next_c (from the next step's cell state)
        cache           from lstm_step_forward

    Returns (dx, dprev_h, dprev_c, dWx, dWh, db) with the shapes of x (N, D),
    prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H) and b (4H,).
    """
    # TODO: lstm_step_backward (about 12 lines)
    # 1. The cell state gets gradient from two paths: dnext_c itself, and next_h through
    #    tanh: dc = dnext_c + dnext_h * o * (1 - tanh(next_c)^2)        (N, H)
    # 2. Gates: do = dnext_h * tanh(next_c), di = dc * g, df = dc * prev_c, dg = dc * i;
    #    dprev_c = dc * f (the additive path: no squashing on the way back).
    # 3. Through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - g^2; put the four
    #    blocks side by side in the order i, f, o, g: da (N, 4H).
    # 4. As in the RNN: dx = da Wx^T, dprev_h = da Wh^T, dWx = x^T da, dWh = prev_h^T da,
    #    db = sum of da over N.
    # 细胞状态的梯度有两条来路：dnext_c 本身，以及经过 tanh 从 next_h 传来的部分。
    raise NotImplementedError("lstm_step_backward: not implemented yet (see the TODO above)")
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over a whole sequence; the first cell state is 0.
    在整个序列上展开 LSTM 的前向传播（初始细胞状态为 0）。

    Inputs:
        x   (N, T, D)  the input sequence
        h0  (N, H)     initial hidden state
        Wx  (D, 4H), Wh (H, 4H), b (4H,)  parameters shared by every step

    Returns (h, cache):
        h   (N, T, H)  the hidden state of every step
        cache          what lstm_backward needs
    """
    # TODO: lstm_forward (about 8 lines)
    # 1. h = an (N, T, H) array with the dtype of x; the cell state starts at zeros (N, H).
    # 2. For t = 0 .. T-1 call lstm_step_forward (by that name) and keep every step's cache.
    # 初始细胞状态为 0；每一步调用 lstm_step_forward 并保存它的 cache。
    raise NotImplementedError("lstm_forward: not implemented yet (see the TODO above)")
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for an LSTM.
    LSTM 的随时间反向传播。

    Inputs:
        dh     (N, T, H)  upstream gradient of every hidden state
        cache             from lstm_forward

    Returns (dx, dh0, dWx, dWh, db):
        dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    """
    # TODO: lstm_backward (about 12 lines)
    # 1. Walk t = T-1 .. 0 with two running gradients, dprev_h and dprev_c (zeros at
    #    the last step). Step t gets dh[:, t] + dprev_h and dprev_c: call
    #    lstm_step_backward (by that name).
    # 2. Add dWx, dWh, db over all steps (+=, start from np.zeros_like of the weights);
    #    dh0 is the dprev_h left after step 0 (the cell state's h0 has no gradient: c0 = 0).
    # 两个梯度 dprev_h 和 dprev_c 随时间反向传递；参数梯度要对所有时间步累加。
    raise NotImplementedError("lstm_backward: not implemented yet (see the TODO above)")
    return dx, dh0, dWx, dWh, db
