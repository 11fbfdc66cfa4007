"""Realistic student bugs written as whole functions, as a student writes them.

A Rewrite replaces whole functions (or methods of RNNClassifier) of the reference by a
student's version holding one mistake; the rest of the submission is the reference. It
does not depend on the reference's wording, only on its function names, so the catalog
survives any rewrite of the reference. `targets` are the functions whose tests must
lose points; `hint` (if any) is the start of the hint the feedback must give for it.
"""
import ast
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions" / "rnn"
LAYERS, CLASSIFIER = "rnn_layers.py", "rnn_classifier.py"


@dataclass(frozen=True)
class Rewrite:
    name: str
    file: str
    functions: str  # the student's source of one or more functions (methods: indented 4)
    targets: tuple[str, ...]
    hint: str = ""  # a phrase of the hint it must get ("" = none asserted)
    note: str = ""  # what the feedback must say otherwise (a phrase)


def apply_rewrite(bug: Rewrite, folder: Path) -> Path:
    """Copy the reference .py files into `folder`, then replace bug.file's functions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    target = folder / bug.file
    target.write_text(replace_functions(target.read_text(), textwrap.dedent(bug.functions)))
    return folder


def replace_functions(source: str, functions: str) -> str:
    """source with each function defined in `functions` put in place of its namesake
    (a top-level function, or a method of a class when `functions` indents it)."""
    new_defs = _definitions(functions)
    lines = source.splitlines(keepends=True)
    spans = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name in new_defs:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans[node.name] = (first - 1, node.end_lineno, node.col_offset)
    missing = set(new_defs) - set(spans)
    assert not missing, f"no function {missing} in the reference"
    for name, (start, end, indent) in sorted(spans.items(), key=lambda kv: -kv[1][0]):
        text = textwrap.indent(new_defs[name], " " * indent)
        lines[start:end] = [text if text.endswith("\n") else text + "\n"]
    return "".join(lines)


def _definitions(functions: str) -> dict[str, str]:
    """name -> dedented source of every top-level def in `functions`."""
    text = textwrap.dedent(functions)
    lines = text.splitlines(keepends=True)
    return {node.name: textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
            for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


STEP_F, STEP_B = ("rnn_step_forward",), ("rnn_step_backward",)
SEQ_F, SEQ_B = ("rnn_forward",), ("rnn_backward",)
EMB_F, EMB_B = ("word_embedding_forward",), ("word_embedding_backward",)
LOSS, TRAIN = ("RNNClassifier.loss",), ("RNNClassifier.train",)
PREDICT = ("RNNClassifier.predict",)
_PREDICT_HINT = "Wrong labels only where scores are large"

_TANH_HINT = "tanh (or its derivative) built from np.exp"
_ROW_MAX_HINT = "subtract each row's own max"
_SQUARED_HINT = "(squared)"
_BEST_HINT = "the last epoch's"

# A student's rnn_forward and rnn_backward with a batch-major cache (x, h0, Wx, Wh, h):
# rewrites of one of the two bring the other, so that they never depend on the
# reference's own cache.
_FORWARD = '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    prev_h = h0
    for t in range(T):
        prev_h = np.tanh(x[:, t] @ Wx + prev_h @ Wh + b)
        h[:, t] = prev_h
    return h, (x, h0, Wx, Wh, h)
'''
_BACKWARD = '''
def rnn_backward(dh, cache):
    x, h0, Wx, Wh, h = cache
    N, T, H = h.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)
        prev = h0 if t == 0 else h[:, t - 1]
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += prev.T @ da
        db += da.sum(axis=0)
        dprev_h = da @ Wh.T
    return dx, dprev_h, dWx, dWh, db
'''


def _with(functions: str, other: str) -> str:
    return textwrap.dedent(functions) + "\n" + other


REWRITES: tuple[Rewrite, ...] = (
    # ---- numerically fragile code, right on ordinary values --------------------------
    Rewrite("step_forward_tanh_from_exp", LAYERS, '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            a = x @ Wx + prev_h @ Wh + b
            next_h = (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))
            return next_h, (x, prev_h, Wx, Wh, next_h)
        ''', STEP_F, _TANH_HINT),
    Rewrite("forward_tanh_from_exp", LAYERS, _with('''
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, _ = x.shape
            h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
            prev_h = h0
            for t in range(T):
                a = x[:, t] @ Wx + prev_h @ Wh + b
                e = np.exp(2 * a)
                prev_h = (e - 1) / (e + 1)
                h[:, t] = prev_h
            return h, (x, h0, Wx, Wh, h)
        ''', _BACKWARD), SEQ_F, _TANH_HINT),
    Rewrite("loss_global_max_shift", CLASSIFIER, '''
        def loss(self, X, y=None):
            p = self.params
            X = np.asarray(X, dtype=self.dtype)
            N = X.shape[0]
            h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
            h, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
            scores = h[:, -1] @ p["W_hq"] + p["b_q"]
            if y is None:
                return scores
            shifted = scores - np.max(scores)  # one max for the whole batch
            exp = np.exp(shifted)
            probs = exp / exp.sum(axis=1, keepdims=True)
            log_probs = shifted - np.log(exp.sum(axis=1, keepdims=True))
            loss = -np.mean(log_probs[np.arange(N), y])
            loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)
            dscores = probs.copy()
            dscores[np.arange(N), y] -= 1
            dscores /= N
            grads = {"W_hq": h[:, -1].T @ dscores, "b_q": dscores.sum(axis=0)}
            dh = np.zeros_like(h)
            dh[:, -1] = dscores @ p["W_hq"].T
            _, _, grads["W_xh"], grads["W_hh"], grads["b_h"] = rnn_backward(dh, cache)
            for w in WEIGHTS:
                grads[w] += self.reg * p[w]
            if self.clip is not None:
                grads = {k: np.clip(g, -self.clip, self.clip) for k, g in grads.items()}
            return float(loss), grads
        ''', LOSS, _ROW_MAX_HINT),
    Rewrite("loss_log_of_softmax_probabilities", CLASSIFIER, '''
        def loss(self, X, y=None):
            p = self.params
            X = np.asarray(X, dtype=self.dtype)
            N = X.shape[0]
            h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
            hs, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
            last = hs[:, -1]
            scores = last @ p["W_hq"] + p["b_q"]
            if y is None:
                return scores
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
            data_loss = -np.log(probs[np.arange(N), y]).sum() / N  # log(0) when it underflows
            reg_loss = 0.5 * self.reg * (np.sum(p["W_xh"] ** 2) + np.sum(p["W_hh"] ** 2)
                                         + np.sum(p["W_hq"] ** 2))
            d = probs.copy()
            d[np.arange(N), y] -= 1
            d /= N
            grads = {"W_hq": last.T @ d + self.reg * p["W_hq"], "b_q": d.sum(axis=0)}
            dh = np.zeros_like(hs)
            dh[:, -1] = d @ p["W_hq"].T
            _, _, dWx, dWh, db = rnn_backward(dh, cache)
            grads.update(W_xh=dWx + self.reg * p["W_xh"], W_hh=dWh + self.reg * p["W_hh"],
                         b_h=db)
            if self.clip is not None:
                grads = {k: np.clip(v, -self.clip, self.clip) for k, v in grads.items()}
            return float(data_loss + reg_loss), grads
        ''', LOSS, "its softmax probability underflows"),
    Rewrite("loss_dscores_aliases_probs", CLASSIFIER, '''
        def loss(self, X, y=None):
            p = self.params
            X = np.asarray(X, dtype=self.dtype)
            N = X.shape[0]
            h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
            h, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
            scores = h[:, -1] @ p["W_hq"] + p["b_q"]
            if y is None:
                return scores
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs = exp / exp.sum(axis=1, keepdims=True)
            dscores = probs  # not a copy: the next line changes probs too
            dscores[np.arange(N), y] -= 1
            loss = -np.mean(np.log(probs[np.arange(N), y]))
            loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)
            dscores /= N
            grads = {"W_hq": h[:, -1].T @ dscores, "b_q": dscores.sum(axis=0)}
            dh = np.zeros_like(h)
            dh[:, -1] = dscores @ p["W_hq"].T
            _, _, grads["W_xh"], grads["W_hh"], grads["b_h"] = rnn_backward(dh, cache)
            for w in WEIGHTS:
                grads[w] += self.reg * p[w]
            if self.clip is not None:
                grads = {k: np.clip(g, -self.clip, self.clip) for k, g in grads.items()}
            return float(loss), grads
        ''', LOSS),
    # ---- tanh' -------------------------------------------------------------------------
    Rewrite("step_backward_tanh_prime_not_squared", LAYERS, '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h * (1 - next_h)
            return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
        ''', STEP_B, _SQUARED_HINT),
    Rewrite("backward_tanh_prime_not_squared", LAYERS, _with('''
        def rnn_backward(dh, cache):
            x, h0, Wx, Wh, h = cache
            N, T, H = h.shape
            dx = np.zeros_like(x)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
            dprev_h = np.zeros_like(h0)
            for t in reversed(range(T)):
                da = (dh[:, t] + dprev_h) * (1 - h[:, t])
                prev = h0 if t == 0 else h[:, t - 1]
                dx[:, t] = da @ Wx.T
                dWx += x[:, t].T @ da
                dWh += prev.T @ da
                db += da.sum(axis=0)
                dprev_h = da @ Wh.T
            return dx, dprev_h, dWx, dWh, db
        ''', _FORWARD), SEQ_B, _SQUARED_HINT),
    # ---- changing what the caller gave ------------------------------------------------
    Rewrite("step_backward_modifies_dnext_h", LAYERS, '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            dnext_h *= 1 - next_h ** 2  # in place: the caller's array changes
            da = dnext_h
            return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
        ''', STEP_B, note="rnn_step_backward changed dnext_h"),
    Rewrite("backward_modifies_dh", LAYERS, _with('''
        def rnn_backward(dh, cache):
            x, h0, Wx, Wh, h = cache
            N, T, H = h.shape
            dx = np.zeros_like(x)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
            dprev_h = np.zeros_like(h0)
            for t in reversed(range(T)):
                dcur = dh[:, t]
                dcur += dprev_h  # a view: this writes into the caller's dh
                da = dcur * (1 - h[:, t] ** 2)
                prev = h0 if t == 0 else h[:, t - 1]
                dx[:, t] = da @ Wx.T
                dWx += x[:, t].T @ da
                dWh += prev.T @ da
                db += da.sum(axis=0)
                dprev_h = da @ Wh.T
            return dx, dprev_h, dWx, dWh, db
        ''', _FORWARD), SEQ_B, note="rnn_backward changed dh"),
    Rewrite("backward_squares_cached_h_in_place", LAYERS, _with('''
        def rnn_backward(dh, cache):
            x, h0, Wx, Wh, h = cache
            N, T, H = h.shape
            dx = np.zeros_like(x)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
            dprev_h = np.zeros_like(h0)
            h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
            h **= 2  # reuses the cache's array: a second call sees h**4
            for t in reversed(range(T)):
                da = (dh[:, t] + dprev_h) * (1 - h[:, t])
                dx[:, t] = da @ Wx.T
                dWx += x[:, t].T @ da
                dWh += h_prev[:, t].T @ da
                db += da.sum(axis=0)
                dprev_h = da @ Wh.T
            return dx, dprev_h, dWx, dWh, db
        ''', _FORWARD), SEQ_B, note="twice on the same cache"),
    Rewrite("forward_updates_h0_in_place", LAYERS, _with('''
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, _ = x.shape
            h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
            prev_h = h0
            for t in range(T):
                prev_h[:] = np.tanh(x[:, t] @ Wx + prev_h @ Wh + b)  # writes into h0
                h[:, t] = prev_h
            return h, (x, h0, Wx, Wh, h)
        ''', _BACKWARD), SEQ_F, note="rnn_forward changed h0"),
    Rewrite("forward_step_caches_share_the_state", LAYERS, '''
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, _ = x.shape
            h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
            prev_h = h0.copy()
            caches = []
            for t in range(T):
                next_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
                prev_h[:] = next_h  # every step's cache holds this one array
                h[:, t] = prev_h
                caches.append(step_cache)
            return h, caches

        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            x0, _, Wx, Wh, _ = cache[0]
            dx = np.zeros((N, T, x0.shape[1]), dtype=dh.dtype)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H, dtype=dh.dtype)
            dprev_h = np.zeros((N, H), dtype=dh.dtype)
            for t in reversed(range(T)):
                dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(
                    dh[:, t] + dprev_h, cache[t])
                dWx += dWx_t
                dWh += dWh_t
                db += db_t
            return dx, dprev_h, dWx, dWh, db
        ''', SEQ_B, note="fix rnn_forward first"),
    # ---- dtype ---------------------------------------------------------------------------
    Rewrite("step_backward_float32_weights_gradient", LAYERS, '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h * (1 - next_h ** 2)
            dWx = np.zeros(Wx.shape, dtype=np.float32)
            dWx[...] = x.T @ da
            return da @ Wx.T, da @ Wh.T, dWx, prev_h.T @ da, da.sum(axis=0)
        ''', STEP_B, note="float64 inputs must give float64"),
    Rewrite("embedding_forward_float64_output", LAYERS, '''
        def word_embedding_forward(x, W):
            out = np.zeros(x.shape + (W.shape[1],))
            out[...] = W[x]
            return out, (x, W.shape, W.dtype)
        ''', EMB_F, note="float32 inputs must give float32"),
    Rewrite("step_forward_float64_for_float32", LAYERS, '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            a = np.zeros((x.shape[0], Wx.shape[1]))  # float64, whatever comes in
            a += x @ Wx + prev_h @ Wh + b
            next_h = np.tanh(a)
            return next_h, (x, prev_h, Wx, Wh, next_h)
        ''', STEP_F, note="float32 inputs must give float32"),
    Rewrite("embedding_backward_loop_assigns", LAYERS, '''
        def word_embedding_backward(dout, cache):
            x, W_shape, W_dtype = cache
            dW = np.zeros(W_shape, dtype=W_dtype)
            N, T = x.shape
            for n in range(N):
                for t in range(T):
                    dW[x[n, t]] = dout[n, t]  # = instead of +=
            return dW
        ''', EMB_B, "Repeated indices lose their gradients"),
    Rewrite("loss_without_labels_returns_probabilities", CLASSIFIER, '''
        def loss(self, X, y=None):
            p = self.params
            X = np.asarray(X, dtype=self.dtype)
            N = X.shape[0]
            h0 = np.zeros((N, p["W_hh"].shape[0]), dtype=self.dtype)
            h, cache = rnn_forward(X, h0, p["W_xh"], p["W_hh"], p["b_h"])
            scores = h[:, -1] @ p["W_hq"] + p["b_q"]
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs = exp / exp.sum(axis=1, keepdims=True)
            if y is None:
                return probs
            log_probs = scores - scores.max(axis=1, keepdims=True) - np.log(exp.sum(axis=1, keepdims=True))
            loss = -np.mean(log_probs[np.arange(N), y])
            loss += 0.5 * self.reg * sum(np.sum(p[w] ** 2) for w in WEIGHTS)
            dscores = probs.copy()
            dscores[np.arange(N), y] -= 1
            dscores /= N
            grads = {"W_hq": h[:, -1].T @ dscores, "b_q": dscores.sum(axis=0)}
            dh = np.zeros_like(h)
            dh[:, -1] = dscores @ p["W_hq"].T
            _, _, grads["W_xh"], grads["W_hh"], grads["b_h"] = rnn_backward(dh, cache)
            for w in WEIGHTS:
                grads[w] += self.reg * p[w]
            if self.clip is not None:
                grads = {k: np.clip(g, -self.clip, self.clip) for k, g in grads.items()}
            return float(loss), grads
        ''', LOSS),
    Rewrite("predict_argmax_over_the_batch", CLASSIFIER, '''
        def predict(self, X, batch_size=1000):
            return np.argmax(self.loss(X), axis=0)
        ''', ("RNNClassifier.predict",)),
    # ---- time steps ----------------------------------------------------------------------
    Rewrite("backward_doubles_weight_gradients", LAYERS, _with('''
        def rnn_backward(dh, cache):
            x, h0, Wx, Wh, h = cache
            N, T, H = h.shape
            dx = np.zeros_like(x)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
            dprev_h = np.zeros_like(h0)
            for t in reversed(range(T)):
                da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)
                prev = h0 if t == 0 else h[:, t - 1]
                dx[:, t] = da @ Wx.T
                dWx += 2 * x[:, t].T @ da
                dWh += 2 * prev.T @ da
                db += 2 * da.sum(axis=0)
                dprev_h = da @ Wh.T
            return dx, dprev_h, dWx, dWh, db
        ''', _FORWARD), SEQ_B),
    Rewrite("backward_plus_equals_but_skips_t0", LAYERS, _with('''
        def rnn_backward(dh, cache):
            x, h0, Wx, Wh, h = cache
            N, T, H = h.shape
            dx = np.zeros_like(x)
            dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wh[0])
            dprev_h = np.zeros_like(h0)
            for t in range(T - 1, 0, -1):
                da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)
                dx[:, t] = da @ Wx.T
                dWx += x[:, t].T @ da
                dWh += h[:, t - 1].T @ da
                db += da.sum(axis=0)
                dprev_h = da @ Wh.T
            return dx, dprev_h, dWx, dWh, db
        ''', _FORWARD), SEQ_B, "Step t = 0 is skipped"),
    # ---- train: the rules of revision 2 ----------------------------------------------
    Rewrite("train_best_restored_only_when_stopping_early", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = -1.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for first in range(0, N, batch_size):
                    batch = order[first:first + batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                history["train_acc"].append(float(np.mean(self.predict(X) == y)))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    waited += 1
                    if waited >= patience:
                        self.params.update(best_params)
                        break
            return history
        ''', TRAIN, _BEST_HINT),
    Rewrite("train_accuracy_on_last_batch", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = -1.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for first in range(0, N, batch_size):
                    batch = order[first:first + batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                train_acc = np.mean(self.predict(X[batch]) == y[batch])  # the last batch only
                history["train_acc"].append(float(train_acc))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    waited += 1
                    if waited >= patience:
                        break
            self.params.update(best_params)
            return history
        ''', TRAIN),
    Rewrite("train_extra_empty_batch_when_size_divides", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = -1.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for i in range(N // batch_size + 1):
                    batch = order[i * batch_size:(i + 1) * batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                history["train_acc"].append(float(np.mean(self.predict(X) == y)))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    waited += 1
                    if waited >= patience:
                        break
            self.params.update(best_params)
            return history
        ''', TRAIN),
    Rewrite("train_best_starts_at_zero", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = 0.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for first in range(0, N, batch_size):
                    batch = order[first:first + batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                history["train_acc"].append(float(np.mean(self.predict(X) == y)))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    waited += 1
                    if waited >= patience:
                        break
            if best_params is not None:
                self.params.update(best_params)
            return history
        ''', TRAIN),
    Rewrite("train_accuracy_before_the_epochs_updates", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = len(X)
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best, best_params, bad_epochs = -1.0, None, 0
            for epoch in range(num_epochs):
                train_acc = np.mean(self.predict(X) == y)  # before this epoch's steps
                val_acc = np.mean(self.predict(X_val) == y_val)
                history["train_acc"].append(float(train_acc))
                history["val_acc"].append(float(val_acc))
                if val_acc > best:
                    best, bad_epochs = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    bad_epochs += 1
                    if bad_epochs >= patience:
                        break
                lr = learning_rate * lr_decay ** epoch
                perm = self.rng.permutation(N)
                for start in range(0, N, batch_size):
                    idx = perm[start:start + batch_size]
                    loss, grads = self.loss(X[idx], y[idx])
                    history["loss"].append(loss)
                    for k, g in grads.items():
                        self.params[k] -= lr * g
            self.params = best_params
            return history
        ''', TRAIN, note="measured before the epoch's first update"),
    Rewrite("train_drops_the_last_short_batch", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = -1.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for b in range(N // batch_size):  # the last, shorter batch is never used
                    batch = order[b * batch_size:(b + 1) * batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                history["train_acc"].append(float(np.mean(self.predict(X) == y)))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    waited += 1
                    if waited >= patience:
                        break
            self.params.update(best_params)
            return history
        ''', TRAIN),
    Rewrite("train_best_params_dict_of_same_arrays", CLASSIFIER, '''
        def train(self, X, y, X_val, y_val, learning_rate=2e-3, batch_size=128,
                  num_epochs=200, patience=40, lr_decay=0.95, verbose=True):
            N = X.shape[0]
            history = {"loss": [], "train_acc": [], "val_acc": []}
            best_val_acc, best_params, waited = -1.0, None, 0
            for epoch in range(num_epochs):
                lr = learning_rate * lr_decay ** epoch
                order = self.rng.permutation(N)
                for first in range(0, N, batch_size):
                    batch = order[first:first + batch_size]
                    loss, grads = self.loss(X[batch], y[batch])
                    history["loss"].append(loss)
                    for k in self.params:
                        self.params[k] -= lr * grads[k]  # in place: best_params follows
                history["train_acc"].append(float(np.mean(self.predict(X) == y)))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                history["val_acc"].append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc, waited = val_acc, 0
                    best_params = dict(self.params)  # new dict, same arrays
                else:
                    waited += 1
                    if waited >= patience:
                        break
            self.params.update(best_params)
            return history
        ''', TRAIN, _BEST_HINT),
    # ---- boundaries (issue 21): chunk sizes, large scores, allocated shapes ------------
    Rewrite("predict_chunks_of_1024_lose_the_tail", CLASSIFIER, '''
        def predict(self, X, batch_size=1024):
            N = X.shape[0]
            if N <= batch_size:
                return np.argmax(self.loss(X), axis=1)
            return np.concatenate([np.argmax(self.loss(X[i:i + batch_size]), axis=1)
                                   for i in range(0, N - batch_size + 1, batch_size)])
        ''', PREDICT),
    Rewrite("predict_through_an_unshifted_softmax", CLASSIFIER, '''
        def predict(self, X, batch_size=1000):
            scores = self.loss(X)
            probs = np.exp(scores)
            probs /= probs.sum(axis=1, keepdims=True)
            return np.argmax(probs, axis=1)
        ''', PREDICT, _PREDICT_HINT),
    Rewrite("predict_softmax_shifted_by_the_batch_max", CLASSIFIER, '''
        def predict(self, X, batch_size=1000):
            scores = self.loss(X)
            probs = np.exp(scores - scores.max())
            probs = probs / probs.sum(axis=1, keepdims=True)
            return probs.argmax(axis=1)
        ''', PREDICT, _PREDICT_HINT),
    Rewrite("embedding_backward_dW_allocated_D_by_V", LAYERS, '''
        def word_embedding_backward(dout, cache):
            x, W_shape, W_dtype = cache
            V, D = W_shape
            dW = np.zeros((D, V), dtype=W_dtype)
            np.add.at(dW.T, x, dout)
            return dW
        ''', EMB_B, note="its axes swapped"),
)
