"""A many-to-one vanilla RNN classifier: read a sequence, classify it from the last state.
多对一的 RNN 分类器：读入整个序列，用最后一个隐藏状态做分类。

For CIFAR-10 an image is read row by row: T = 32 rows of D = 32 * 3 = 96 values.
Shape letters: N batch, T steps, D input, H hidden, K classes.

    h_t    = tanh(x_t W_xh + h_{t-1} W_hh + b_h),   h_0 = 0
    scores = h_T W_hq + b_q                          (N, K)
    loss   = mean softmax cross-entropy + reg / 2 * (|W_xh|^2 + |W_hh|^2 + |W_hq|^2)
"""
import time

import numpy as np

from rnn_layers import rnn_backward, rnn_forward

WEIGHTS = ("W_xh", "W_hh", "W_hq")  # regularised; the biases b_h, b_q are not


class RNNClassifier:
    """Vanilla RNN + softmax classifier, trained with mini-batch SGD.

    params (float64 unless dtype=np.float32):
        W_xh (D, H), W_hh (H, H), b_h (H,), W_hq (H, K), b_q (K,)
    """

    def __init__(self, input_dim=96, hidden_dim=256, num_classes=10, reg=0.0,
                 clip=5.0, seed=None, dtype=np.float64):
        """Xavier-style init: weights ~ N(0, 1) / sqrt(fan_in), biases zero.
        Xavier 初始化：权重 ~ N(0, 1) / sqrt(输入维度)，偏置为 0。

        reg   L2 strength (weights only)
        clip  gradients are clipped elementwise to [-clip, clip]; None turns it off
        seed  seeds the weights and the shuffling of train()
        """
        D, H, K = input_dim, hidden_dim, num_classes
        self.reg, self.clip, self.dtype = reg, clip, dtype
        self.rng = np.random.default_rng(seed)
        self.params = {
            "W_xh": self.rng.standard_normal((D, H)) / np.sqrt(D),
            "W_hh": self.rng.standard_normal((H, H)) / np.sqrt(H),
            "b_h": np.zeros(H),
            "W_hq": self.rng.standard_normal((H, K)) / np.sqrt(H),
            "b_q": np.zeros(K),
        }
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and its clipped gradients.
        计算类别得分；给出标签时返回损失和（裁剪后的）梯度。

        Inputs:
            X  (N, T, D)  sequences
            y  (N,)       integer labels in [0, K), or None

        Returns:
            y is None:  scores (N, K)
            otherwise:  (loss, grads), loss a float, grads a dict with the keys of
                        params: the gradient of the loss (regularisation included),
                        clipped elementwise to [-clip, clip] unless clip is None.
        """
        p = self.params
        X = np.asarray(X, dtype=self.dtype)
        N = X.shape[0]
        h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
        # TODO: RNNClassifier.loss (about 20 lines)
        # 1. Forward: h = rnn_forward(X, h0, ...) (N, T, H); scores = h_T W_hq + b_q (N, K),
        #    where h_T = h[:, -1]. Return scores when y is None.
        # 2. Loss: mean softmax cross-entropy (subtract the row max first) plus
        #    reg / 2 * the sum of squares of W_xh, W_hh and W_hq.
        # 3. Backward: dscores (N, K) -> dW_hq, db_q and dh_T (N, H); dh (N, T, H) is
        #    zero except dh[:, -1] = dh_T; rnn_backward gives dW_xh, dW_hh, db_h.
        # 4. Add reg * W to each weight gradient, THEN clip every gradient to
        #    [-clip, clip] (np.clip) unless self.clip is None.
        # 先前向求得分和损失，再反向传播；先加正则项的梯度，再逐元素裁剪到 [-clip, clip]。
        ### BEGIN SOLUTION
        h, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])  # (N, T, H)
        h_last = h[:, -1]  # (N, H)
        scores = h_last @ p["W_hq"] + p["b_q"]  # (N, K)
        if y is None:
            return scores

        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(N), y].mean()
        loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)

        dscores = np.exp(log_probs)  # (N, K) softmax probabilities
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W_hq": h_last.T @ dscores, "b_q": dscores.sum(axis=0)}
        dh = np.zeros_like(h)
        dh[:, -1] = dscores @ p["W_hq"].T
        _, _, grads["W_xh"], grads["W_hh"], grads["b_h"] = rnn_backward(dh, cache)

        for w in WEIGHTS:
            grads[w] += self.reg * p[w]
        if self.clip is not None:
            for g in grads.values():
                np.clip(g, -self.clip, self.clip, out=g)
        ### END SOLUTION
        return float(loss), grads

    def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
              num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
        """Mini-batch SGD with learning-rate decay and early stopping.
        小批量随机梯度下降，带学习率衰减和早停。

        Inputs:
            X (N, T, D), y (N,)                   training data
            X_val (N_val, T, D), y_val (N_val,)   validation data
        Every epoch e shuffles the training set and walks it in ceil(N / batch_size)
        non-empty batches of at most batch_size; each parameter is updated as
        params[k] - lr * grads[k] (in place, or stored under the same key), lr =
        learning_rate * lr_decay ** e. Training stops after `patience` epochs without a
        strictly better validation accuracy (the first epoch always counts as better);
        params then holds a copy of the best parameters seen, early stop or not.

        Returns history: {"loss": one value per iteration,
                          "train_acc", "val_acc": one value per epoch}
        Both accuracies are measured on the whole set, after every epoch.
        """
        N = X.shape[0]
        history = {"loss": [], "train_acc": [], "val_acc": []}
        best_val_acc, best_params, epochs_without_improvement = -1.0, None, 0
        for epoch in range(num_epochs):
            start = time.perf_counter()
            lr = learning_rate * lr_decay**epoch
            order = self.rng.permutation(N)
            for first in range(0, N, batch_size):
                batch = order[first:first + batch_size]
                loss, grads = self.loss(X[batch], y[batch])
                history["loss"].append(loss)
                # TODO: RNNClassifier.train, the update (2 lines)
                # 1. Update every parameter in place: params[k] -= lr * grads[k].
                # 对每个参数做原地更新：params[k] -= lr * grads[k]。
                ### BEGIN SOLUTION
                for name, grad in grads.items():
                    self.params[name] -= lr * grad
                ### END SOLUTION

            train_acc = np.mean(self.predict(X) == y)
            val_acc = np.mean(self.predict(X_val) == y_val)
            history["train_acc"].append(float(train_acc))
            history["val_acc"].append(float(val_acc))
            if verbose:
                print(f"epoch {epoch + 1:3d}/{num_epochs}  loss {loss:.4f}  "
                      f"train acc {train_acc:.3f}  val acc {val_acc:.3f}  "
                      f"lr {lr:.2e}  {time.perf_counter() - start:.1f} s", flush=True)
            # TODO: RNNClassifier.train, early stopping (about 7 lines)
            # 1. If val_acc is strictly higher than best_val_acc: remember it, store a
            #    COPY of every parameter in best_params (a dict), reset
            #    epochs_without_improvement to 0.
            # 2. Otherwise add 1 to epochs_without_improvement; stop training (break)
            #    once it reaches patience.
            # 验证集准确率严格提高时保存参数的副本（不是引用）；连续 patience 个 epoch 没有提高就停止。
            ### BEGIN SOLUTION
            if val_acc > best_val_acc:
                best_val_acc = val_acc
                best_params = {k: v.copy() for k, v in self.params.items()}
                epochs_without_improvement = 0
            else:
                epochs_without_improvement += 1
                if epochs_without_improvement >= patience:
                    break
            ### END SOLUTION
        if best_params is not None:
            self.params.update(best_params)  # the same dict, now holding the best values
        return history

    def predict(self, X, batch_size=1024):
        """Labels (N,), computed in np.array_split chunks of at most batch_size samples."""
        N = X.shape[0]
        labels = []
        for part in np.array_split(np.arange(N), max(1, -(-N // batch_size))):
            scores = self.loss(X[part])
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            labels.append(log_probs.argmax(axis=1))
        return np.concatenate(labels).astype(np.int64)
