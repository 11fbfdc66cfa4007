"""Seeded input factories: each returns the payload of one operation for one case.

Every factory takes a NumPy Generator (seeded by the grader from its secret and the
submission) and keyword parameters from the check table; shapes inside the ranges are
drawn at random, so a student cannot tune code to the cases. Edge cases pin the
dimensions where bugs hide: N=1, T=1, D != H, float32, repeated indices.
"""
import numpy as np


def _dims(rng, N=None, T=None, D=None, H=None, dh=None, long=False, n_is_t=False):
    """Random small dimensions. dh: "<", "=" or ">" sets D against H (None: D != H, so
    that a transposed weight cannot fit by luck); long: T >= 3; n_is_t: T = N."""
    N = N or int(rng.integers(3, 5) if n_is_t else rng.integers(2, 5))
    T = N if n_is_t else T or int(rng.integers(3, 8) if long else rng.integers(2, 6))
    if dh == ">":
        D = D or int(rng.integers(3, 8))
        H = H or int(rng.integers(2, D))
    D = D or int(rng.integers(2, 7))
    if H is None:
        above, other = range(D + 1, D + 5), [h for h in range(2, 8) if h != D]
        H = {"=": D, "<": int(rng.choice(above))}.get(dh) or int(rng.choice(other))
    return N, T, D, H


def _saturating_bias(rng, H, dtype):
    """A bias that puts half the hidden units far beyond exp's overflow (|a| > 710 in
    float64, > 89 in float32): np.tanh saturates there, tanh built from np.exp gives NaN.
    The other half stay ordinary, so the gradients are not all zero."""
    large = rng.uniform(750, 900, H) if dtype == "float64" else rng.uniform(100, 200, H)
    units = rng.permutation(H)[:max(2, H // 2)]  # both signs, always: code may fail on one
    signs = rng.permutation(np.resize([1.0, -1.0], len(units)))
    b = 0.5 * rng.standard_normal(H)
    b[units] = signs * large[units]
    return b


def _layer_payload(function, args, dout, dtype, layout, shapes):
    """dout: the upstream gradient, or a list of them (one per output: an LSTM step)."""
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
    dout = [d.astype(dtype) for d in dout] if isinstance(dout, list) else dout.astype(dtype)
    return {"function": function, "args": args, "dout": dout,
            "layout": layout, "shapes": shapes}


def rnn_step(rng, dtype="float64", saturate=False, layout="C", **dims):
    """x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) and dnext_h (N, H)."""
    N, _, D, H = _dims(rng, **dims)
    b = _saturating_bias(rng, H, dtype) if saturate else 0.5 * rng.standard_normal(H)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)), b]
    return _layer_payload("rnn_step_forward", args, rng.standard_normal((N, H)), dtype,
                          layout, f"N={N} D={D} H={H}")


def rnn_sequence(rng, dtype="float64", saturate=False, layout="C", **dims):
    """x (N, T, D), h0 (N, H) nonzero, Wx (D, H), Wh (H, H), b (H,), dh (N, T, H)."""
    N, T, D, H = _dims(rng, **dims)
    b = _saturating_bias(rng, H, dtype) if saturate else 0.5 * rng.standard_normal(H)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)), b]
    return _layer_payload("rnn_forward", args, rng.standard_normal((N, T, H)), dtype,
                          layout, f"N={N} T={T} D={D} H={H}")


def _lstm_weights(rng, D, H, dtype, saturate):
    """Wx (D, 4H), Wh (H, 4H), b (4H,); saturate: every gate's block gets units far
    beyond exp's overflow (1 / (1 + exp(-a)) overflows there, a stable sigmoid does not)."""
    b = (np.concatenate([_saturating_bias(rng, H, dtype) for _ in range(4)]) if saturate
         else 0.5 * rng.standard_normal(4 * H))
    return [0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)), b]


def lstm_step(rng, dtype="float64", saturate=False, layout="C", **dims):
    """x (N, D), prev_h, prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) and the upstream
    [dnext_h, dnext_c] (N, H) each."""
    N, _, D, H = _dims(rng, **dims)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((N, H)), *_lstm_weights(rng, D, H, dtype, saturate)]
    dout = [rng.standard_normal((N, H)), rng.standard_normal((N, H))]
    return _layer_payload("lstm_step_forward", args, dout, dtype, layout, f"N={N} D={D} H={H}")


def lstm_sequence(rng, dtype="float64", saturate=False, layout="C", **dims):
    """x (N, T, D), h0 (N, H) nonzero, Wx (D, 4H), Wh (H, 4H), b (4H,), dh (N, T, H)."""
    N, T, D, H = _dims(rng, **dims)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            *_lstm_weights(rng, D, H, dtype, saturate)]
    return _layer_payload("lstm_forward", args, rng.standard_normal((N, T, H)), dtype,
                          layout, f"N={N} T={T} D={D} H={H}")


NARROW_INDEX = ("int8", "uint8", "int16", "uint16")  # the index reaches the dtype's max


def embedding(rng, dtype="float64", repeats=True, large_vocabulary=False, layout="C",
              vocabulary=None, index_dtype="int64", v_is_d=False, **dims):
    """x (N, T) indices of index_dtype, W (V, D), dout (N, T, D).

    repeats: some indices repeated, some words unused; with large_vocabulary, V > N*T
    as well (most words unused); without repeats every index is distinct (V > N*T).
    A narrow index_dtype (8 or 16 bits) sets V and D so that a flat index x * D + d
    computed in the indices' own dtype wraps (x * D past the dtype's largest value), and
    uses the largest index V - 1; for 8 bits that is the dtype's largest value itself.
    v_is_d: D = V (a dW made (D, V) has the right shape)."""
    N, T, D, _ = _dims(rng, **dims)
    top = index_dtype in NARROW_INDEX
    if top:
        info = np.iinfo(index_dtype)
        D = 3 if info.bits == 8 else 2
        vocabulary = info.max + 1 if info.bits == 8 else (info.max + 1) // D + 1
    if not repeats:
        V = vocabulary or int(rng.integers(N * T + 2, N * T + 6))
        x = rng.choice(V, size=N * T, replace=False).reshape(N, T)
    else:
        V = int(rng.integers(N * T + 2, N * T + 8)) if large_vocabulary else int(rng.integers(3, 6))
        V = vocabulary or V
        used = rng.choice(V - 1, size=max(1, min(V - 1, (N * T + 1) // 2)), replace=False)
        x = rng.choice(used, size=(N, T))  # word V-1 is never used (unless top)
        x.flat[-1] = x.flat[0]  # at least one repeat, even for N = T = 1
    if top and V - 1 not in x:
        x.flat[min(1, x.size - 1) if repeats else 0] = V - 1
    D = V if v_is_d else D
    args = [x.astype(index_dtype), rng.standard_normal((V, D))]
    return _layer_payload("word_embedding_forward", args, rng.standard_normal((N, T, D)),
                          dtype, layout, f"N={N} T={T} V={V} D={D}, x {index_dtype}")


def _last_states(params, X):
    """h_T (N, H) of the RNN, in float64 (to shape a case, not to grade it)."""
    h = np.zeros((X.shape[0], params["W_hh"].shape[0]))
    for t in range(X.shape[1]):
        h = np.tanh(X[:, t] @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
    return h


def classifier(rng, dtype="float64", reg=0.0, clip=None, score_scale=1.0, score_offset=0.0,
               row_spread=0.0, label_gap=0.0, distinct_labels=False, layout="C",
               n_is_k=False, **dims):
    """A classifier (init kwargs), random nonzero params, X (N, T, D), y (N,).

    score_offset is added to every score: softmax ignores it, but exp() without the
    max subtracted first overflows. row_spread: the rows' scores are shifted so that they
    lie at least that far apart (a softmax shifted by the batch's max instead of each
    row's underflows to 0 / 0). label_gap: the class of sample 0's label scores that
    much below the others in every row (the log of a softmax probability that underflows
    to 0 is -inf; the log-softmax is finite). distinct_labels: redrawn until the predicted
    labels are not all the same (a constant answer cannot pass). n_is_k: K = N.
    clip="default": the model is made without a clip argument (the contract's 5.0)."""
    dims.setdefault("N", int(rng.integers(3, 6)))  # N >= 3: N times never looks like twice
    N, T, D, H = _dims(rng, **dims)
    K = N if n_is_k else int(rng.integers(3, 6))
    init = {"input_dim": D, "hidden_dim": H, "num_classes": K, "reg": reg, "clip": clip,
            "seed": 0, "dtype": dtype}
    if clip == "default":
        del init["clip"]
    for _attempt in range(200):
        params = {"W_xh": rng.standard_normal((D, H)) / np.sqrt(D),
                  "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
                  "b_h": 0.3 * rng.standard_normal(H),
                  "W_hq": score_scale * rng.standard_normal((H, K)),
                  "b_q": 0.3 * rng.standard_normal(K) + score_offset}
        X = rng.standard_normal((N, T, D))
        h_last = _last_states(params, X)
        if row_spread and N > 1:
            # one hidden unit, weighted the same for every class, shifts whole rows: the
            # rows' scores lie thousands apart while each row's own spread stays ordinary
            unit = int(np.argmax(np.ptp(h_last, axis=0)))
            if np.ptp(h_last[:, unit]) < 0.5:  # a moderate weight: float64 keeps every digit
                continue
            params["W_hq"][unit, :] = row_spread / np.ptp(h_last[:, unit])
        scores = h_last @ params["W_hq"] + params["b_q"]
        if not distinct_labels or len(set(np.argmax(scores, 1))) > 1:
            break
    y = rng.integers(K, size=N).astype(np.int64)
    if N == 1:  # label 0: a loss that tests `if not y:` must not pass by the draw
        y[:] = 0
    params["b_q"][y[0]] -= label_gap
    return {"init": init, "params": {k: v.astype(dtype) for k, v in params.items()},
            "X": X.astype(dtype), "y": y,
            "layout": layout,
            "shapes": f"N={N} T={T} D={D} H={H} K={K}, reg={reg}, clip={clip}"}


def classifier_init(rng, D=None, H=None, K=10, dtype="float64"):
    """Init kwargs for a model big enough to measure the init scale."""
    D = D or int(rng.integers(30, 50))  # fan_in far from fan_out: / sqrt(fan_out) shows
    H = H or int(rng.integers(120, 160))
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": int(rng.integers(1 << 30)),
                     "dtype": dtype},
            "shapes": f"D={D} H={H} K={K}"}


def _coprime_counts(rng, N, epochs):
    """Per epoch, how many training samples the scripted model gets right: coprime with
    N, so that no batch of fewer than N samples can show the same accuracy."""
    counts = [c for c in range(1, N) if np.gcd(c, N) == 1]
    return [int(c) for c in rng.choice(counts, size=epochs)]


def _xavier(rng, D, H, K, dtype="float64") -> dict:
    """Parameters as the contract initialises them (the run starts from these)."""
    return {"W_xh": (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype),
            "W_hh": (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype),
            "b_h": np.zeros(H, dtype=dtype),
            "W_hq": (rng.standard_normal((H, K)) / np.sqrt(H)).astype(dtype),
            "b_q": np.zeros(K, dtype=dtype)}


def train_script(rng, val_acc=(0.2, 0.4, 0.6, 0.8), patience=10, num_epochs=4,
                 lr_decay=0.5, divides=False, reg=0.0, grad_scale=1.0):
    """A controlled training run: the grader answers train's loss and predict calls
    with the values of payload["grader"] (never sent to the student process), telling
    samples apart by their rows. divides: batch_size divides N (no smaller last batch);
    reg: the model's own (the update must not add it again); grad_scale: the answered
    gradients' scale (10: entries far beyond 5, where a clip in the update shows)."""
    # small on purpose: every loss and predict call is a round trip to the grader, and
    # two to four batches an epoch show every batching rule
    batch_size = int(rng.integers(3, 5))
    N = int(rng.integers(7, 11))
    while (N % batch_size == 0) != divides:
        N += 1
    D, H, K = 2, 3, 3
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": 0,
                     "clip": None, "reg": reg},
            "params": _xavier(rng, D, H, K),
            "X": rng.standard_normal((N, 2, D)), "y": rng.integers(K, size=N).astype(np.int64),
            "X_val": rng.standard_normal((7, 2, D)),
            "y_val": rng.integers(K, size=7).astype(np.int64),
            "grader": {"val_acc": list(val_acc),
                       "train_correct": _coprime_counts(rng, N, num_epochs),
                       "seed": int(rng.integers(1 << 30)), "grad_scale": grad_scale},
            "train": {"learning_rate": float(rng.uniform(0.05, 0.5)), "batch_size": batch_size,
                      "num_epochs": num_epochs, "patience": patience, "lr_decay": lr_decay,
                      "verbose": False},
            "shapes": f"N={N} batch_size={batch_size} epochs={num_epochs} patience={patience}"
                      + (f" reg={reg}" if reg else "")
                      + (f", gradients scaled by {grad_scale:g}" if grad_scale != 1 else "")}


def overfit_batch(rng, N=20, T=4, D=6, H=48, K=4):
    """A small random batch the student's train must learn by heart (its own training
    and validation set); the grader answers its loss and predict with the reference."""
    X, y = rng.standard_normal((N, T, D)), rng.integers(K, size=N).astype(np.int64)
    return {"init": {"input_dim": D, "hidden_dim": H, "num_classes": K, "seed": 0},
            "params": _xavier(rng, D, H, K), "X": X, "y": y, "X_val": X.copy(),
            "y_val": y.copy(),
            # the reference reaches 0.95 within 4 epochs (200 seeds tried): 8 leave room
            "train": {"learning_rate": 0.5, "batch_size": 10, "num_epochs": 8,
                      "patience": 8, "lr_decay": 1.0, "verbose": False},
            "shapes": f"N={N} T={T} D={D} H={H} K={K}"}
