"""A character-level language model around your RNN layers: the parts written for you.
字符级语言模型中已经写好的部分（无需修改）。

The notebook's section 5 trains embedding -> RNN -> an output at every step. Your
word_embedding_*, rnn_* functions and your temporal_softmax_loss (a notebook cell) do
the learning; this module provides the rest, which is not graded:

    load_quatrains, Vocabulary      the poems, characters <-> indices, one stream of them
    stream_rows                     a stream cut into B rows read side by side (d2l)
    temporal_affine_forward/backward the scores of every character at every step
    adam_update                     the optimiser
    clip_by_norm                    one global gradient norm at most max_norm
    generate                        text one character at a time, with your sampler
    has_quatrain_shape              5 characters，5 characters。 twice
    Bigram                          the baseline: next character from the previous one

Shape letters: N poems (or rows), T steps, H hidden, V vocabulary; B rows, L steps a row.
"""
import re
from collections import Counter
from pathlib import Path

import numpy as np

BOUNDARY = "\n"  # starts every input sequence and ends every target sequence
UNKNOWN = "□"    # a character not in the vocabulary
QUATRAIN = re.compile(r"([^，。\n]{5}，[^，。\n]{5}。){2}")


def load_quatrains(path) -> list[str]:
    """The poems of a `title<TAB>author<TAB>poem` file with a header line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[2] for line in lines if line.strip()]


class Vocabulary:
    """Characters <-> indices: index 0 is BOUNDARY, 1 is UNKNOWN, then the characters
    seen at least `min_count` times in `texts`, most frequent first."""

    def __init__(self, texts, min_count=1):
        counts = Counter("".join(texts))
        kept = sorted((c for c, n in counts.items() if n >= min_count and c not in
                       (BOUNDARY, UNKNOWN)), key=lambda c: (-counts[c], c))
        self.chars = [BOUNDARY, UNKNOWN] + kept
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) integer indices; unknown characters map to UNKNOWN."""
        return np.array([self.index.get(c, 1) for c in text], dtype=np.int64)

    def decode(self, indices) -> str:
        return "".join(self.chars[i] for i in indices)

    def sequences(self, poems) -> tuple[np.ndarray, np.ndarray]:
        """Inputs x (N, T) = BOUNDARY + poem and targets y (N, T) = poem + BOUNDARY."""
        encoded = np.stack([self.encode(p) for p in poems])  # (N, T - 1)
        boundary = np.zeros((len(poems), 1), dtype=np.int64)
        return np.hstack([boundary, encoded]), np.hstack([encoded, boundary])

    def stream(self, poems) -> np.ndarray:
        """(L,) indices of one text: BOUNDARY, poem, BOUNDARY, poem, ..., BOUNDARY. Its
        (character, next character) pairs are those of sequences(poems), in order."""
        return self.encode(BOUNDARY + BOUNDARY.join(poems) + BOUNDARY)


def stream_rows(stream, num_rows) -> tuple[np.ndarray, np.ndarray]:
    """Sequential partitioning (d2l): inputs x (B, L) and targets y (B, L), B = num_rows.

    Row r is the r-th of B equal consecutive pieces of the stream, y the stream one step
    ahead; the last few characters that do not fill a row are left out. Reading x[:, s:s+k]
    for s = 0, k, 2k, ..., row r of each chunk continues row r of the chunk before it, so
    the hidden state at the end of one chunk is the right start for the next.
    """
    L = (len(stream) - 1) // num_rows
    if L < 1:
        raise ValueError(f"stream_rows: a stream of {len(stream)} indices cannot fill "
                         f"{num_rows} rows of at least 1 step (it needs {num_rows + 1})")
    return (stream[:num_rows * L].reshape(num_rows, L),
            stream[1:num_rows * L + 1].reshape(num_rows, L))


def temporal_affine_forward(h, W, b):
    """scores (N, T, V) = h W + b for every step; h (N, T, H), W (H, V), b (V,)."""
    return h @ W + b, (h, W)


def temporal_affine_backward(dscores, cache):
    """(dh (N, T, H), dW (H, V), db (V,)) from dscores (N, T, V)."""
    h, W = cache
    N, T, H = h.shape
    flat = dscores.reshape(N * T, -1)  # (N T, V)
    return dscores @ W.T, h.reshape(N * T, H).T @ flat, flat.sum(axis=0)


def adam_update(params, grads, state, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on every entry of params, in place; `state` (a dict) keeps the moments."""
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    step = learning_rate * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    for key in grads:
        m = state.setdefault(("m", key), np.zeros_like(grads[key]))  # first moment
        v = state.setdefault(("v", key), np.zeros_like(grads[key]))  # second moment
        m *= beta1
        m += (1 - beta1) * grads[key]
        v *= beta2
        v += (1 - beta2) * np.square(grads[key])
        params[key] -= (step * m / (np.sqrt(v) + eps)).astype(params[key].dtype, copy=False)


def clip_by_norm(grads, max_norm):
    """Scale every gradient by one factor so that their joint norm is at most max_norm
    (section 6.2: the direction is kept). A new dict; the arrays given are not changed."""
    total = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return {key: (g * scale).astype(g.dtype, copy=False) for key, g in grads.items()}


def generate(step, draw, h0, num_steps, prefix=None):
    """Generate one sequence per row of h0, one character at a time.

    step(prev (N,), h (N, H)) -> (scores (N, V), next h): one step of the model.
    draw(scores (N, V)) -> (N,) indices: the next characters (your sample_next).
    prefix (N, P) indices or None: characters fed in after BOUNDARY before anything is
        drawn (e.g. a first line), as in training: the input at each step is the true
        previous character (teacher forcing), not a drawn one.
    Every sequence starts from BOUNDARY (index 0). Returns (N, P + num_steps): the prefix,
    then the drawn characters; a sequence is over at its first BOUNDARY after the
    prefix (the rest is still drawn, and to be ignored).
    """
    N = h0.shape[0]
    prefix = np.zeros((N, 0), dtype=np.int64) if prefix is None else np.asarray(prefix)
    prev, h = np.zeros(N, dtype=np.int64), h0
    for t in range(prefix.shape[1]):  # read the prefix; its scores are not needed
        _, h = step(prev, h)
        prev = prefix[:, t]
    out = np.empty((N, num_steps), dtype=np.int64)
    for t in range(num_steps):
        scores, h = step(prev, h)
        prev = np.asarray(draw(scores), dtype=np.int64)  # (N,)
        out[:, t] = prev
    return np.hstack([prefix.astype(np.int64), out])


def texts_of(indices, vocabulary) -> list[str]:
    """Decode each row of (N, num_steps) samples up to its first BOUNDARY."""
    texts = []
    for row in indices:
        stops = np.flatnonzero(row == 0)
        texts.append(vocabulary.decode(row[:stops[0]] if len(stops) else row))
    return texts


def has_quatrain_shape(text: str) -> bool:
    """True for exactly 5 characters，5 characters。 twice (24 characters in all)."""
    return QUATRAIN.fullmatch(text) is not None


class Bigram:
    """P(next | previous) counted on training sequences, interpolated with the unigram
    distribution (so an unseen pair keeps some probability):

        P(c | p) = lam * count(p, c) / count(p) + (1 - lam) * P_unigram(c)
    """

    def __init__(self, x, y, V, lam=0.9):
        pairs = np.zeros((V, V))
        np.add.at(pairs, (x.ravel(), y.ravel()), 1)  # every (previous, next) in the data
        unigram = (np.bincount(y.ravel(), minlength=V) + 1.0) / (y.size + V)
        seen = pairs.sum(axis=1, keepdims=True)
        conditional = np.divide(pairs, seen, out=np.tile(unigram, (V, 1)), where=seen > 0)
        self.log_probs = np.log(lam * conditional + (1 - lam) * unigram)  # (V, V)

    def perplexity(self, x, y) -> float:
        """exp of the mean negative log-probability of every target in y given x."""
        return float(np.exp(-self.log_probs[x.ravel(), y.ravel()].mean()))
