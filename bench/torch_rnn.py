"""The PyTorch side of the bench: the same RNN in torch, fed the same NumPy arrays.
基准测试中的 PyTorch 对照：同样的 RNN、同样的数据，用 torch 实现。

PyTorch is NOT a dependency of the project. This module is imported only after
`import torch` has succeeded (bench_rnn.py checks), e.g. in a throwaway venv:

    python3.11 -m venv /tmp/torch-venv
    /tmp/torch-venv/bin/pip install torch==2.13.0 numpy matplotlib   # the CPU wheel
    /tmp/torch-venv/bin/python bench/bench_rnn.py

Shape letters: N batch, T steps, D input, H hidden, K classes.
"""
import numpy as np
import torch
from torch import nn

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _rnn_like(Wx, Wh, b):
    """nn.RNN(tanh, batch_first) holding Wx (D, H), Wh (H, H), b (H,); bias_hh fixed at 0."""
    D, H = Wx.shape
    rnn = nn.RNN(D, H, nonlinearity="tanh", batch_first=True,
                 dtype=TORCH_DTYPES[Wx.dtype])
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T))  # torch keeps (H, D)
        rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T))  # (H, H)
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    rnn.bias_hh_l0.requires_grad_(False)  # the model has one bias, as ours does
    return rnn


def layer_step(x, h0, Wx, Wh, b, dh):
    """A callable running nn.RNN forward + backward on these arrays, like
    rnn_forward + rnn_backward (gradients of x, h0 and the parameters), and a
    function returning the last results as NumPy (h, dx, dh0, dWx, dWh, db)."""
    rnn = _rnn_like(Wx, Wh, b)
    x_t = torch.from_numpy(x).requires_grad_(True)  # (N, T, D)
    h0_t = torch.from_numpy(h0).requires_grad_(True)  # (N, H)
    dh_t = torch.from_numpy(dh)  # (N, T, H)
    last = {}

    def step():
        for tensor in (x_t, h0_t, *rnn.parameters()):
            tensor.grad = None
        h, _ = rnn(x_t, h0_t[None])  # h (N, T, H); torch wants h0 as (1, N, H)
        h.backward(dh_t)
        last["h"] = h

    def results():
        return (last["h"].detach().numpy(), x_t.grad.numpy(), h0_t.grad.numpy(),
                rnn.weight_ih_l0.grad.numpy().T, rnn.weight_hh_l0.grad.numpy().T,
                rnn.bias_ih_l0.grad.numpy())

    return step, results


class TorchClassifier:
    """nn.RNN + nn.Linear trained exactly like RNNClassifier.train for one epoch:
    same start parameters, same shuffling, softmax loss + reg / 2 * |weights|^2,
    elementwise clipping at +-clip, plain SGD, then train / val accuracy."""

    def __init__(self, params, reg, clip):
        W_xh, W_hh, b_h, W_hq, b_q = (params[k] for k in ("W_xh", "W_hh", "b_h", "W_hq", "b_q"))
        self.dtype = TORCH_DTYPES[W_xh.dtype]
        self.rnn = _rnn_like(W_xh, W_hh, b_h)
        H, K = W_hq.shape
        self.head = nn.Linear(H, K, dtype=self.dtype)
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(W_hq.T))  # (K, H)
            self.head.bias.copy_(torch.from_numpy(b_q))
        self.params = [p for p in (*self.rnn.parameters(), *self.head.parameters())
                       if p.requires_grad]
        self.weights = [self.rnn.weight_ih_l0, self.rnn.weight_hh_l0, self.head.weight]
        self.reg, self.clip = reg, clip

    def scores(self, X):
        h, _ = self.rnn(X)  # (N, T, H), h0 = 0
        return self.head(h[:, -1])  # (N, K)

    def predict(self, X, batch_size=1000):
        with torch.no_grad():
            return torch.cat([self.scores(X[i:i + batch_size]).argmax(dim=1)
                              for i in range(0, X.shape[0], batch_size)])

    def train_epoch(self, X, y, X_val, y_val, lr, batch_size, rng, train_sample):
        """One epoch on torch tensors X (N, T, D), y (N,); returns (train_acc, val_acc)."""
        order = torch.from_numpy(rng.permutation(X.shape[0]))
        for first in range(0, X.shape[0], batch_size):
            batch = order[first:first + batch_size]
            loss = nn.functional.cross_entropy(self.scores(X[batch]), y[batch])
            loss = loss + 0.5 * self.reg * sum((w * w).sum() for w in self.weights)
            for p in self.params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in self.params:
                    p -= lr * p.grad.clamp_(-self.clip, self.clip)
        train_acc = (self.predict(X[train_sample]) == y[train_sample]).double().mean()
        val_acc = (self.predict(X_val) == y_val).double().mean()
        return float(train_acc), float(val_acc)
