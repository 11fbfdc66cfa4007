"""Seeded input factories: each returns the payload of one operation for one case.

Every factory takes a NumPy Generator (seeded by the grader from its secret and the
submission) and keyword parameters from the check table; shapes inside the ranges are
drawn at random, so a student cannot tune code to the cases. Edge cases pin the
dimensions where bugs hide: N=1, T=1, D != H, float32, repeated indices.
"""
import numpy as np


def _dims(rng, N=None, T=None, D=None, H=None):
    """Random small dimensions with D != H (a transposed weight cannot fit by luck)."""
    N = N or int(rng.integers(2, 5))
    T = T or int(rng.integers(2, 6))
    D = D or int(rng.integers(2, 7))
    H = H or int(rng.choice([h for h in range(2, 8) if h != D]))
    return N, T, D, H


def rnn_step(rng, dtype="float64", **dims):
    """x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) and dnext_h (N, H)."""
    N, _, D, H = _dims(rng, **dims)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)),
            0.5 * rng.standard_normal(H)]
    return {"function": "rnn_step_forward", "args": [a.astype(dtype) for a in args],
            "dout": rng.standard_normal((N, H)).astype(dtype), "shapes": f"N={N} D={D} H={H}"}


def rnn_sequence(rng, dtype="float64", **dims):
    """x (N, T, D), h0 (N, H) nonzero, Wx (D, H), Wh (H, H), b (H,), dh (N, T, H)."""
    N, T, D, H = _dims(rng, **dims)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)),
            0.5 * rng.standard_normal(H)]
    return {"function": "rnn_forward", "args": [a.astype(dtype) for a in args],
            "dout": rng.standard_normal((N, T, H)).astype(dtype),
            "shapes": f"N={N} T={T} D={D} H={H}"}


def embedding(rng, dtype="float64", repeats=True, **dims):
    """x (N, T) indices (some repeated, some words unused), W (V, D), dout (N, T, D)."""
    N, T, D, _ = _dims(rng, **dims)
    V = int(rng.integers(N * T + 2, N * T + 6)) if not repeats else int(rng.integers(3, 6))
    if repeats:
        x = rng.integers(0, V - 1, size=(N, T))  # word V-1 is never used
        x.flat[-1] = x.flat[0]  # at least one repeat, even for N = T = 1
    else:
        x = rng.permutation(V)[:N * T].reshape(N, T)
    W = rng.standard_normal((V, D)).astype(dtype)
    return {"function": "word_embedding_forward", "args": [x.astype(np.int64), W],
            "dout": rng.standard_normal((N, T, D)).astype(dtype),
            "shapes": f"N={N} T={T} V={V} D={D}"}


def classifier(rng, dtype="float64", reg=0.0, clip=None, score_scale=1.0, score_offset=0.0,
               **dims):
    """A classifier (init kwargs), random nonzero params, X (N, T, D), y (N,).

    score_offset is added to every score: softmax ignores it, but exp() without the
    max subtracted first overflows."""
    N, T, D, H = _dims(rng, **dims)
    K = int(rng.integers(3, 6))
    init = {"input_dim": D, "hidden_dim": H, "num_classes": K, "reg": reg, "clip": clip,
            "seed": 0, "dtype": dtype}
    params = {"W_xh": rng.standard_normal((D, H)) / np.sqrt(D),
              "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
              "b_h": 0.3 * rng.standard_normal(H),
              "W_hq": score_scale * rng.standard_normal((H, K)),
              "b_q": 0.3 * rng.standard_normal(K) + score_offset}
    return {"init": init, "params": {k: v.astype(dtype) for k, v in params.items()},
            "X": rng.standard_normal((N, T, D)).astype(dtype),
            "y": rng.integers(K, size=N).astype(np.int64),
            "shapes": f"N={N} T={T} D={D} H={H} K={K}, reg={reg}, clip={clip}"}


def classifier_init(rng, D=None, H=None, K=10, dtype="float64"):
    """Init kwargs for a model big enough to measure the init scale."""
    D = D or int(rng.integers(30, 50))  # fan_in far from fan_out: / sqrt(fan_out) shows
    H = H or int(rng.integers(120, 160))
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": int(rng.integers(1 << 30)),
                     "dtype": dtype},
            "shapes": f"D={D} H={H} K={K}"}


def train_script(rng, val_acc=(0.2, 0.4, 0.6, 0.8), patience=10, num_epochs=4,
                 lr_decay=0.5):
    """A controlled training run: sample i carries i in X[i, 0, 0]; val ones are negative."""
    N = int(rng.integers(9, 14))
    batch_size = int(rng.integers(3, 6))
    while N % batch_size == 0:  # make the last batch smaller
        N += 1
    D, H, K = 2, 3, 3
    X = rng.standard_normal((N, 2, D))
    X[:, 0, 0] = np.arange(N)
    X_val = rng.standard_normal((7, 2, D))
    X_val[:, 0, 0] = -1 - np.arange(7)
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": 0,
                     "clip": None},
            "X": X, "y": rng.integers(K, size=N).astype(np.int64),
            "X_val": X_val, "y_val": rng.integers(K, size=7).astype(np.int64),
            "val_acc": list(val_acc), "seed": int(rng.integers(1 << 30)),
            "train": {"learning_rate": float(rng.uniform(0.05, 0.5)), "batch_size": batch_size,
                      "num_epochs": num_epochs, "patience": patience, "lr_decay": lr_decay,
                      "verbose": False},
            "shapes": f"N={N} batch_size={batch_size} epochs={num_epochs} patience={patience}"}


def overfit_batch(rng, N=20, T=4, D=6, H=48, K=4):
    """A small random batch the student's train must learn by heart."""
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": 0},
            "X": rng.standard_normal((N, T, D)), "y": rng.integers(K, size=N).astype(np.int64),
            "train": {"learning_rate": 0.5, "batch_size": 10, "num_epochs": 80,
                      "patience": 80, "lr_decay": 1.0, "verbose": False},
            "shapes": f"N={N} T={T} D={D} H={H} K={K}"}
