"""RNNClassifier with its loss written with einsum and an explicit softmax."""
import numpy as np

from rnn_layers import rnn_backward, rnn_forward


class RNNClassifier:
    def __init__(self, input_dim=96, hidden_dim=256, num_classes=10, reg=0.0,
                 clip=5.0, seed=None, dtype=np.float64):
        D, H, K = input_dim, hidden_dim, num_classes
        self.reg, self.clip, self.dtype = reg, clip, dtype
        self.rng = np.random.default_rng(seed)
        self.params = {}
        for name, shape in (("W_xh", (D, H)), ("W_hh", (H, H)), ("W_hq", (H, K))):
            self.params[name] = (self.rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)
        self.params["b_h"] = np.zeros(H, dtype=dtype)
        self.params["b_q"] = np.zeros(K, dtype=dtype)

    def loss(self, X, y=None):
        p = self.params
        X = np.asarray(X, dtype=self.dtype)
        N = X.shape[0]
        h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
        h, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
        last = h[:, -1, :]
        scores = np.einsum("nh,hk->nk", last, p["W_hq"]) + p["b_q"]
        if y is None:
            return scores

        z = scores - np.max(scores, axis=1, keepdims=True)
        e = np.exp(z)
        probs = e / np.einsum("nk->n", e)[:, None]
        one_hot = np.eye(scores.shape[1], dtype=scores.dtype)[y]
        loss = -np.einsum("nk,nk->", one_hot, z - np.log(np.einsum("nk->n", e))[:, None]) / N
        reg_term = sum(np.einsum("ij,ij->", p[w], p[w]) for w in ("W_xh", "W_hh", "W_hq"))
        loss = loss + 0.5 * self.reg * reg_term

        dscores = (probs - one_hot) / N
        grads = {"W_hq": np.einsum("nh,nk->hk", last, dscores),
                 "b_q": np.einsum("nk->k", dscores)}
        dh = np.zeros_like(h)
        dh[:, -1, :] = np.einsum("nk,hk->nh", dscores, p["W_hq"])
        _, _, grads["W_xh"], grads["W_hh"], grads["b_h"] = rnn_backward(dh, cache)
        for w in ("W_xh", "W_hh", "W_hq"):
            grads[w] = grads[w] + self.reg * p[w]
        if self.clip is not None:
            grads = {k: np.clip(g, -self.clip, self.clip) for k, g in grads.items()}
        return float(loss), grads

    def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
              num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
        N = X.shape[0]
        history = {"loss": [], "train_acc": [], "val_acc": []}
        best_acc, best, waited = -np.inf, None, 0
        for epoch in range(num_epochs):
            lr = learning_rate * lr_decay ** epoch
            perm = self.rng.permutation(N)
            for start in range(0, N, batch_size):
                idx = perm[start:start + batch_size]
                loss, grads = self.loss(X[idx], y[idx])
                history["loss"].append(loss)
                for k in self.params:
                    self.params[k] -= lr * grads[k]
            history["train_acc"].append(float(np.mean(self.predict(X) == y)))
            val_acc = float(np.mean(self.predict(X_val) == y_val))
            history["val_acc"].append(val_acc)
            if verbose:
                print(f"epoch {epoch}: loss {loss:.4f} val acc {val_acc:.3f}")
            if val_acc > best_acc:
                best_acc, waited = val_acc, 0
                best = {k: np.array(v, copy=True) for k, v in self.params.items()}
            else:
                waited += 1
                if waited == patience:
                    break
        for k, v in best.items():
            self.params[k] = v
        return history

    def predict(self, X):
        return np.argmax(self.loss(X), axis=1)
