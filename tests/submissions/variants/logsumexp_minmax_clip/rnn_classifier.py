"""RNNClassifier: log-sum-exp cross-entropy, clipping with np.minimum / np.maximum,
weights drawn directly with their scale, the generator kept under another name."""
import numpy as np

import rnn_layers

REGULARISED = ("W_xh", "W_hh", "W_hq")


class RNNClassifier:
    def __init__(self, input_dim=96, hidden_dim=256, num_classes=10, reg=0.0,
                 clip=5.0, seed=None, dtype=np.float64):
        self.reg = reg
        self.clip = clip
        self.dtype = np.dtype(dtype)
        self._gen = np.random.default_rng(seed)
        g, D, H, K = self._gen, input_dim, hidden_dim, num_classes
        self.params = dict(
            W_xh=g.normal(0.0, 1.0 / np.sqrt(D), size=(D, H)).astype(self.dtype),
            W_hh=g.normal(0.0, 1.0 / np.sqrt(H), size=(H, H)).astype(self.dtype),
            b_h=np.zeros(H, self.dtype),
            W_hq=g.normal(0.0, 1.0 / np.sqrt(H), size=(H, K)).astype(self.dtype),
            b_q=np.zeros(K, self.dtype),
        )

    def _forward(self, X):
        p = self.params
        X = np.asarray(X, dtype=self.dtype)
        h0 = np.zeros((X.shape[0], p["W_hh"].shape[1]), dtype=self.dtype)
        hs, cache = rnn_layers.rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
        return hs, cache

    def loss(self, X, y=None):
        p = self.params
        hs, cache = self._forward(X)
        hT = hs[:, hs.shape[1] - 1, :]
        scores = hT @ p["W_hq"] + p["b_q"]
        if y is None:
            return scores
        y = np.asarray(y)
        n = len(y)
        rows = np.arange(n)

        top = scores.max(axis=1)
        lse = top + np.log(np.sum(np.exp(scores - top[:, None]), axis=1))  # (N,)
        data_loss = np.mean(lse - scores[rows, y])
        l2 = 0.0
        for name in REGULARISED:
            l2 += float(np.vdot(p[name], p[name]))
        total = data_loss + self.reg * l2 / 2

        dscores = np.exp(scores - lse[:, None])
        dscores[rows, y] -= 1.0
        dscores *= 1.0 / n
        dhT = dscores @ p["W_hq"].T
        dhs = np.zeros_like(hs)
        dhs[:, -1, :] = dhT
        _, _, dW_xh, dW_hh, db_h = rnn_layers.rnn_backward(dhs, cache)
        grads = {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h,
                 "W_hq": hT.T @ dscores, "b_q": dscores.sum(axis=0)}
        grads = {k: (g + self.reg * p[k] if k in REGULARISED else g) for k, g in grads.items()}
        if self.clip is not None:
            c = self.clip
            grads = {k: np.minimum(np.maximum(g, -c), c) for k, g in grads.items()}
        return float(total), grads

    def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
              num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
        N = X.shape[0]
        history = {"loss": [], "train_acc": [], "val_acc": []}
        best_val, best_params, bad_epochs = -1.0, None, 0
        for epoch in range(num_epochs):
            lr = learning_rate * lr_decay ** epoch
            order = self._gen.permutation(N)
            for first in range(0, N, batch_size):
                batch = order[first:first + batch_size]
                value, grads = self.loss(X[batch], y[batch])
                history["loss"].append(value)
                for k, g in grads.items():
                    self.params[k] -= lr * g
            history["train_acc"].append(float((self.predict(X) == y).mean()))
            val_acc = float((self.predict(X_val) == y_val).mean())
            history["val_acc"].append(val_acc)
            if val_acc > best_val:
                best_val, bad_epochs = val_acc, 0
                best_params = {k: v.copy() for k, v in self.params.items()}
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    if verbose:
                        print(f"early stop at epoch {epoch + 1}")
                    break
        if best_params is not None:
            self.params = best_params
        return history

    def predict(self, X):
        return self.loss(X).argmax(axis=1)
