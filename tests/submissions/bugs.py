"""Realistic student bugs, each one small edit of the reference solution (data, not code).

A Bug replaces the snippet `old` (which must occur exactly once in `file` of
solutions/rnn) by `new`. `targets` are the functions or methods (as they begin test
names) whose tests must lose points. `apply_bug` builds the buggy submission folder.
"""
import shutil
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions" / "rnn"
LAYERS, CLASSIFIER = "rnn_layers.py", "rnn_classifier.py"
LSTM = "lstm_layers.py"  # the optional extension: graded with [lstm] enabled = true


@dataclass(frozen=True)
class Bug:
    name: str
    file: str  # rnn_layers.py, rnn_classifier.py or lstm_layers.py
    old: str  # exact snippet of the reference, occurring once
    new: str  # the buggy replacement
    targets: tuple[str, ...]  # functions whose tests must lose points


def apply_bug(bug: Bug, folder: Path) -> Path:
    """Copy the reference .py files into `folder` and patch bug.file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    target = folder / bug.file
    text = target.read_text()
    assert text.count(bug.old) == 1, f"{bug.name}: snippet occurs {text.count(bug.old)} times"
    target.write_text(text.replace(bug.old, bug.new))
    return folder


STEP_F, STEP_B = ("rnn_step_forward",), ("rnn_step_backward",)
SEQ_F, SEQ_B = ("rnn_forward",), ("rnn_backward",)
EMB_F, EMB_B = ("word_embedding_forward",), ("word_embedding_backward",)
INIT, LOSS = ("RNNClassifier.__init__",), ("RNNClassifier.loss",)
PREDICT, TRAIN = ("RNNClassifier.predict",), ("RNNClassifier.train",)
LSTM_STEP_F, LSTM_STEP_B = ("lstm_step_forward",), ("lstm_step_backward",)
LSTM_F, LSTM_B = ("lstm_forward",), ("lstm_backward",)

BUGS: tuple[Bug, ...] = (
    # ---- rnn_step_forward -------------------------------------------------------------
    Bug("step_forward_Wh_transposed", LAYERS,
        "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
        "next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)", STEP_F),
    Bug("step_forward_no_bias", LAYERS,
        "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
        "next_h = np.tanh(x @ Wx + prev_h @ Wh)", STEP_F),
    Bug("step_forward_prev_h_ignored", LAYERS,
        "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
        "next_h = np.tanh(x @ Wx + b)", STEP_F),
    # ---- rnn_step_backward ------------------------------------------------------------
    Bug("step_backward_tanh_prime_from_preactivation", LAYERS,
        "da = dnext_h * (1 - next_h**2)",
        "da = dnext_h * (1 - np.arctanh(next_h) ** 2)  # a = x Wx + prev_h Wh + b", STEP_B),
    Bug("step_backward_db_mean_not_sum", LAYERS,
        "db = da.sum(axis=0)  # (H,)\n    ### END SOLUTION\n    return dx, dprev_h",
        "db = da.mean(axis=0)  # (H,)\n    ### END SOLUTION\n    return dx, dprev_h", STEP_B),
    Bug("step_backward_dWh_transposed", LAYERS,
        "dWh = prev_h.T @ da  # (H, H)",
        "dWh = da.T @ prev_h  # (H, H)", STEP_B),
    Bug("step_backward_dprev_h_no_transpose", LAYERS,
        "dprev_h = da @ Wh.T  # (N, H)",
        "dprev_h = da @ Wh  # (N, H)", STEP_B),
    Bug("step_backward_dWx_transposed", LAYERS,
        "dWx = x.T @ da  # (D, H)",
        "dWx = da.T @ x  # (D, H)", STEP_B),
    # ---- rnn_forward ------------------------------------------------------------------
    Bug("forward_h0_ignored", LAYERS,
        "    prev_h = h0\n",
        "    prev_h = np.zeros_like(h0)\n", SEQ_F),
    Bug("forward_stores_h_before_update", LAYERS,
        "        hs[t] += hWh  # the pre-activation a_t\n"
        "        prev_h = np.tanh(hs[t], out=hs[t])  # h_t replaces a_t in place  (N, H)\n",
        "        a = hs[t] + hWh  # the pre-activation a_t\n"
        "        hs[t] = prev_h\n"
        "        prev_h = np.tanh(a)  # (N, H)\n",
        SEQ_F),
    Bug("forward_loop_misses_last_step", LAYERS,
        "    for t in range(T):\n        np.matmul(prev_h, Wh, out=hWh)\n",
        "    for t in range(T - 1):\n        np.matmul(prev_h, Wh, out=hWh)\n",
        SEQ_F),
    Bug("forward_loop_misses_first_step", LAYERS,
        "    for t in range(T):\n        np.matmul(prev_h, Wh, out=hWh)\n",
        "    for t in range(1, T):\n        np.matmul(prev_h, Wh, out=hWh)\n",
        SEQ_F),
    Bug("forward_float32_not_preserved", LAYERS,  # only the float32 case shows it
        "hs = np.empty((T, N, H), dtype=x.dtype)",
        "hs = np.empty((T, N, H))", SEQ_F),
    Bug("forward_no_bias", LAYERS,
        "    hs += b  # hs[t] = x_t Wx + b\n",
        "", SEQ_F),
    Bug("forward_Wh_transposed", LAYERS,
        "np.matmul(prev_h, Wh, out=hWh)",
        "np.matmul(prev_h, Wh.T, out=hWh)", SEQ_F),
    # ---- rnn_backward -----------------------------------------------------------------
    Bug("backward_dWx_last_step_only", LAYERS,  # '=' instead of '+=' over time
        "dWx = x_tm.reshape(T * N, D).T @ da_flat  # (D, H)",
        "dWx = x_tm[0].T @ da[0]  # (D, H)", SEQ_B),
    Bug("backward_dWh_last_step_only", LAYERS,
        "    dWh = h0.T @ da[0]  # (H, H)\n"
        "    dWh += hs[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)\n",
        "    dWh = h0.T @ da[0]  # (H, H)\n", SEQ_B),
    Bug("backward_db_last_step_only", LAYERS,
        "db = da_flat.sum(axis=0)  # (H,)",
        "db = da[0].sum(axis=0)  # (H,)", SEQ_B),
    Bug("backward_dprev_h_not_carried", LAYERS,
        "np.add(dh[:, t], dprev_h, out=da[t])",
        "da[t] = dh[:, t]", SEQ_B),
    Bug("backward_dh_only_at_last_step", LAYERS,
        "np.add(dh[:, t], dprev_h, out=da[t])",
        "np.add(dh[:, t] if t == T - 1 else 0, dprev_h, out=da[t])", SEQ_B),
    Bug("backward_dh0_zero", LAYERS,
        "dh0 = dprev_h",
        "dh0 = np.zeros_like(h0)", SEQ_B),
    Bug("backward_tanh_prime_of_previous_state", LAYERS,
        "da[t] *= 1 - hs[t] ** 2",
        "da[t] *= 1 - hs[t - 1] ** 2", SEQ_B),
    Bug("backward_dWh_uses_current_state", LAYERS,
        "    dWh = h0.T @ da[0]  # (H, H)\n"
        "    dWh += hs[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)\n",
        "    dWh = hs.reshape(T * N, H).T @ da_flat  # (H, H)\n", SEQ_B),
    Bug("backward_dprev_h_no_transpose", LAYERS,
        "dprev_h = da[t] @ Wh.T",
        "dprev_h = da[t] @ Wh", SEQ_B),
    Bug("backward_loop_misses_step_0", LAYERS,
        "    da = np.empty_like(hs)  # (T, N, H) gradient of every pre-activation\n"
        "    dprev_h = np.zeros_like(h0)  # (N, H)\n    for t in reversed(range(T)):",
        "    da = np.zeros_like(hs)  # (T, N, H) gradient of every pre-activation\n"
        "    dprev_h = np.zeros_like(h0)  # (N, H)\n    for t in reversed(range(1, T)):", SEQ_B),
    # ---- word embedding ---------------------------------------------------------------
    Bug("embedding_backward_loses_repeats", LAYERS,  # only repeated indices show it
        "np.add.at(dW, x, dout)",
        "dW[x] += dout", EMB_B),
    Bug("embedding_backward_float64", LAYERS,  # only float32 shows it
        "dW = np.zeros(W_shape, dtype=W_dtype)",
        "dW = np.zeros(W_shape)", EMB_B),
    Bug("embedding_forward_squeezes_indices", LAYERS,  # only N = T = 1 shows it
        "out = W[x]  # (N, T, D)",
        "out = W[np.squeeze(x)]  # (N, T, D)", EMB_F),
    Bug("embedding_forward_indexes_transpose", LAYERS,
        "out = W[x]  # (N, T, D)",
        "out = W[x.T]  # (N, T, D)", EMB_F),
    # ---- RNNClassifier.__init__ -------------------------------------------------------
    Bug("init_W_hq_scaled_by_fan_out", CLASSIFIER,
        '"W_hq": self.rng.standard_normal((H, K)) / np.sqrt(H)',
        '"W_hq": self.rng.standard_normal((H, K)) / np.sqrt(K)', INIT),
    # Caught only when the drawn H > 1.38 D (about 95% of secrets): see the report.
    Bug("init_W_xh_scaled_by_fan_out", CLASSIFIER,
        '"W_xh": self.rng.standard_normal((D, H)) / np.sqrt(D)',
        '"W_xh": self.rng.standard_normal((D, H)) / np.sqrt(H)', INIT),
    Bug("init_times_0.01", CLASSIFIER,
        '"W_hh": self.rng.standard_normal((H, H)) / np.sqrt(H)',
        '"W_hh": 0.01 * self.rng.standard_normal((H, H))', INIT),
    Bug("init_random_bias", CLASSIFIER,
        '"b_h": np.zeros(H)',
        '"b_h": self.rng.standard_normal(H)', INIT),
    Bug("init_dtype_ignored", CLASSIFIER,  # only float32 shows it
        "self.params[name] = value.astype(dtype)",
        "self.params[name] = value", INIT),
    # ---- RNNClassifier.loss -----------------------------------------------------------
    Bug("loss_scores_from_first_state", CLASSIFIER,
        "h_last = h[:, -1]  # (N, H)",
        "h_last = h[:, 0]  # (N, H)", LOSS),
    Bug("loss_squeeze_breaks_N1", CLASSIFIER,  # only N = 1 shows it
        "h_last = h[:, -1]  # (N, H)",
        "h_last = h[:, -1, :].squeeze()  # (N, H)", LOSS),
    Bug("loss_summed_not_mean", CLASSIFIER,
        "loss = -log_probs[np.arange(N), y].mean()",
        "loss = -log_probs[np.arange(N), y].sum()", LOSS),
    Bug("loss_no_max_subtraction", CLASSIFIER,  # only large scores show it
        "        shifted = scores - scores.max(axis=1, keepdims=True)\n"
        "        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
        "        log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))\n",
        LOSS),
    Bug("loss_reg_without_half", CLASSIFIER,
        "loss += 0.5 * self.reg * sum(",
        "loss += self.reg * sum(", LOSS),
    Bug("loss_biases_regularised", CLASSIFIER,
        'WEIGHTS = ("W_xh", "W_hh", "W_hq")',
        'WEIGHTS = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")', LOSS),
    Bug("loss_reg_gradient_missing", CLASSIFIER,
        "        for w in WEIGHTS:\n            grads[w] += self.reg * p[w]\n",
        "", LOSS),
    Bug("loss_reg_gradient_halved", CLASSIFIER,
        "grads[w] += self.reg * p[w]",
        "grads[w] += 0.5 * self.reg * p[w]", LOSS),
    Bug("loss_clip_before_reg", CLASSIFIER,
        "        for w in WEIGHTS:\n            grads[w] += self.reg * p[w]\n"
        "        if self.clip is not None:\n            for g in grads.values():\n"
        "                np.clip(g, -self.clip, self.clip, out=g)\n",
        "        if self.clip is not None:\n            for g in grads.values():\n"
        "                np.clip(g, -self.clip, self.clip, out=g)\n"
        "        for w in WEIGHTS:\n            grads[w] += self.reg * p[w]\n", LOSS),
    Bug("loss_clip_result_discarded", CLASSIFIER,  # only active clipping shows it
        "np.clip(g, -self.clip, self.clip, out=g)",
        "g = np.clip(g, -self.clip, self.clip)", LOSS),
    Bug("loss_clip_only_weights", CLASSIFIER,
        "for g in grads.values():",
        "for g in (grads[w] for w in WEIGHTS):", LOSS),
    Bug("loss_clip_by_norm", CLASSIFIER,
        "np.clip(g, -self.clip, self.clip, out=g)",
        "g *= min(1.0, self.clip / (np.linalg.norm(g) + 1e-12))", LOSS),
    Bug("loss_dh_at_every_step", CLASSIFIER,
        'dh[:, -1] = dscores @ p["W_hq"].T',
        'dh[:] = (dscores @ p["W_hq"].T)[:, None, :]', LOSS),
    Bug("loss_dscores_not_divided_by_N", CLASSIFIER,
        "        dscores /= N\n", "", LOSS),
    Bug("loss_dscores_wrong_fancy_index", CLASSIFIER,
        "dscores[np.arange(N), y] -= 1",
        "dscores[:, y] -= 1", LOSS),
    Bug("loss_db_q_mean", CLASSIFIER,
        '"b_q": dscores.sum(axis=0)',
        '"b_q": dscores.mean(axis=0)', LOSS),
    # ---- RNNClassifier.predict --------------------------------------------------------
    Bug("predict_squeeze_breaks_N1", CLASSIFIER,  # only N = 1 shows it
        "return np.concatenate(chunks) if chunks",
        "return np.concatenate(chunks).squeeze() if chunks", PREDICT),
    # ---- RNNClassifier.train ----------------------------------------------------------
    Bug("train_no_shuffle", CLASSIFIER,
        "order = self.rng.permutation(N)",
        "order = np.arange(N)", TRAIN),
    Bug("train_same_permutation_every_epoch", CLASSIFIER,
        "order = self.rng.permutation(N)",
        "order = np.random.default_rng(0).permutation(N)", TRAIN),
    Bug("train_labels_not_shuffled", CLASSIFIER,
        "loss, grads = self.loss(X[batch], y[batch])",
        "loss, grads = self.loss(X[batch], y[first:first + batch_size])", TRAIN),
    Bug("train_drops_last_partial_batch", CLASSIFIER,
        "for first in range(0, N, batch_size):",
        "for first in range(0, N - batch_size + 1, batch_size):", TRAIN),
    Bug("train_lr_decay_per_iteration", CLASSIFIER,
        "                    self.params[name] -= lr * grad\n",
        "                    self.params[name] -= lr * grad\n                lr *= lr_decay\n",
        TRAIN),
    Bug("train_no_lr_decay", CLASSIFIER,
        "lr = learning_rate * lr_decay**epoch",
        "lr = learning_rate", TRAIN),
    Bug("train_lr_decay_off_by_one", CLASSIFIER,
        "lr = learning_rate * lr_decay**epoch",
        "lr = learning_rate * lr_decay ** (epoch + 1)", TRAIN),
    Bug("train_gradient_ascent", CLASSIFIER,
        "self.params[name] -= lr * grad",
        "self.params[name] += lr * grad", TRAIN),
    Bug("train_biases_never_updated", CLASSIFIER,
        "                for name, grad in grads.items():\n"
        "                    self.params[name] -= lr * grad\n",
        "                for name in WEIGHTS:\n"
        "                    self.params[name] -= lr * grads[name]\n", TRAIN),
    Bug("train_history_loss_once_per_epoch", CLASSIFIER,
        '                history["loss"].append(loss)\n',
        '                if first + batch_size >= N:\n'
        '                    history["loss"].append(loss)\n', TRAIN),
    Bug("train_early_stop_ties_improve", CLASSIFIER,
        "if val_acc > best_val_acc:",
        "if val_acc >= best_val_acc:", TRAIN),
    Bug("train_best_params_shallow_copy", CLASSIFIER,
        "best_params = {k: v.copy() for k, v in self.params.items()}",
        "best_params = self.params.copy()", TRAIN),
    Bug("train_best_params_by_reference", CLASSIFIER,
        "best_params = {k: v.copy() for k, v in self.params.items()}",
        "best_params = self.params", TRAIN),
    Bug("train_patience_off_by_one", CLASSIFIER,
        "if epochs_without_improvement >= patience:",
        "if epochs_without_improvement > patience:", TRAIN),
    Bug("train_no_improvement_count_never_reset", CLASSIFIER,
        "                epochs_without_improvement = 0\n",
        "", TRAIN),
    Bug("train_best_params_not_restored", CLASSIFIER,
        "            self.params.update(best_params)",
        "            pass", TRAIN),
    # ---- boundaries (issue 21): axes equal, index dtypes, clip 0, chunk sizes ----------
    Bug("step_backward_dWx_transposed_fixed_by_shape", LAYERS,  # only D = H shows it
        "dWx = x.T @ da  # (D, H)",
        "dWx = da.T @ x  # (H, D)\n    if dWx.shape != Wx.shape:\n        dWx = dWx.T  # (D, H)",
        STEP_B),
    Bug("backward_dWx_transposed_fixed_by_shape", LAYERS,  # only D = H shows it
        "dWx = x_tm.reshape(T * N, D).T @ da_flat  # (D, H)",
        "dWx = da_flat.T @ x_tm.reshape(T * N, D)  # (H, D)\n"
        "    if dWx.shape != Wx.shape:\n        dWx = dWx.T  # (D, H)", SEQ_B),
    Bug("embedding_forward_flat_index_in_index_dtype", LAYERS,  # wraps for 8 / 16 bits
        "out = W[x]  # (N, T, D)",
        "out = W.ravel()[x[..., None] * W.shape[1] + np.arange(W.shape[1])]  # (N, T, D)",
        EMB_F),
    Bug("embedding_backward_bincount_in_index_dtype", LAYERS,  # wraps for 8 / 16 bits
        "np.add.at(dW, x, dout)",
        "flat = (x[..., None] * W_shape[1] + np.arange(W_shape[1])).ravel()\n"
        "    dW += np.bincount(flat, weights=dout.ravel(), minlength=dW.size).reshape(W_shape)",
        EMB_B),
    Bug("loss_clip_zero_means_off", CLASSIFIER,  # only clip = 0 shows it
        "        if self.clip is not None:\n",
        "        if self.clip:\n", LOSS),
    Bug("loss_clip_hard_coded_5", CLASSIFIER,
        "np.clip(g, -self.clip, self.clip, out=g)",
        "np.clip(g, -5.0, 5.0, out=g)", LOSS),
    Bug("loss_reg_added_twice", CLASSIFIER,
        "        loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)\n",
        "        loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)\n"
        "        loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)\n", LOSS),
    Bug("predict_chunk_drops_its_last_sample", CLASSIFIER,  # only N > 1000 shows it
        "self.loss(X[i:i + batch_size])",
        "self.loss(X[i:i + batch_size - 1])", PREDICT),
    # ---- the LSTM extension (lstm_layers.py) ------------------------------------------
    Bug("lstm_gates_order_i_f_g_o", LSTM,  # Keras's order, not the contract's
        "sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])",
        "sigmoid(a[:, 3 * H:])\n    g = np.tanh(a[:, 2 * H:3 * H])", LSTM_STEP_F),
    Bug("lstm_gates_forget_first", LSTM,
        "i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])",
        "f, i, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])", LSTM_STEP_F),
    Bug("lstm_next_h_without_tanh", LSTM,
        "next_h = o * tanh_c  # (N, H)", "next_h = o * next_c  # (N, H)", LSTM_STEP_F),
    Bug("lstm_sigmoid_naive_exp", LSTM,  # right values, but exp overflows for large -a
        "return 0.5 * (1 + np.tanh(0.5 * a))", "return 1 / (1 + np.exp(-a))", LSTM_STEP_F),
    Bug("lstm_step_backward_dnext_c_dropped", LSTM,
        "dc = dnext_c + dnext_h * o * (1 - tanh_c**2)",
        "dc = dnext_h * o * (1 - tanh_c**2)", LSTM_STEP_B),
    Bug("lstm_step_backward_tanh_prime_of_c_missing", LSTM,
        "dc = dnext_c + dnext_h * o * (1 - tanh_c**2)",
        "dc = dnext_c + dnext_h * o", LSTM_STEP_B),
    Bug("lstm_step_backward_forget_gate_derivative_missing", LSTM,
        "dc * prev_c * f * (1 - f)", "dc * prev_c", LSTM_STEP_B),
    Bug("lstm_forward_c0_is_h0", LSTM,
        "prev_h, prev_c = h0, np.zeros_like(h0)", "prev_h, prev_c = h0, h0", LSTM_F),
    Bug("lstm_backward_dprev_c_not_carried", LSTM,
        "dh[:, t] + dprev_h, dprev_c, caches[t])",
        "dh[:, t] + dprev_h, np.zeros_like(dprev_c), caches[t])", LSTM_B),
    Bug("lstm_backward_dWx_not_summed_over_time", LSTM,
        "dWx += dWx_t", "dWx = dWx_t", LSTM_B),
    Bug("lstm_backward_dh0_zero", LSTM,
        "dh0 = dprev_h\n    ### END SOLUTION\n    return dx, dh0, dWx, dWh, db",
        "dh0 = np.zeros_like(dprev_h)\n    ### END SOLUTION\n    return dx, dh0, dWx, dWh, db",
        LSTM_B),
)
