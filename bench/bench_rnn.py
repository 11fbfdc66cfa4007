"""Speed of the reference RNN, side by side with a per-step loop and with PyTorch.
参考实现的速度：与逐时间步的朴素实现、以及 PyTorch 的 nn.RNN 并排比较。

    make bench                                   # .venv/bin/python bench/bench_rnn.py
    /tmp/torch-venv/bin/python bench/bench_rnn.py   # the same, with PyTorch (see torch_rnn.py)
    .venv/bin/python bench/bench_rnn.py --train --lr 2e-2   # a full training run

It prints, for rnn_forward + rnn_backward at N=128, T=32, D=96, H=256 (float64 and
float32), the time of the reference against
  (a) naive_rnn.py, a per-step loop like the course's (always), and
  (b) PyTorch's CPU nn.RNN(tanh, batch_first), forward + backward on the same arrays and
      the same number of threads (only when `import torch` works: PyTorch is not a
      dependency of the project);
then the time of one training epoch of RNNClassifier on the real CIFAR-10 subset (when
present), and of the same epoch in torch. Times are the median of several repeats (the
best in brackets), taken timeit-style (warm-up first, garbage collector off).
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import argparse
import ctypes
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "rnn"))  # the flat reference modules

import naive_rnn  # noqa: E402  (bench/, next to this file)
from rnn_classifier import RNNClassifier  # noqa: E402
from rnn_layers import rnn_backward, rnn_forward  # noqa: E402

N, T, D, H, K = 128, 32, 96, 256, 10
DTYPES = (np.float64, np.float32)
LAYER_REPEATS = 20      # timed calls per case (after WARMUP untimed ones)
EPOCH_REPEATS = 5       # timed epochs per case
WARMUP = 2
CIFAR_DIR = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"
RECIPE = dict(hidden_dim=256, reg=1e-4, clip=5.0)   # the course's classifier
BATCH_SIZE, LR_DECAY = 128, 0.95


# ---------------------------------------------------------------- helpers

def blas_threads() -> int:
    """Threads NumPy's BLAS uses: asked of the OpenBLAS library NumPy loaded, if it
    can be found, else the CPUs this process may run on."""
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
        for lib in libs:
            handle = ctypes.CDLL(lib)
            for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                         "openblas_get_num_threads"):
                if hasattr(handle, name):
                    return int(getattr(handle, name)())
    except OSError:
        pass
    return len(os.sched_getaffinity(0))


def measure(fn, repeats: int, warmup: int = WARMUP) -> tuple[float, float]:
    """(median, best) wall time of fn() in seconds, over `repeats` calls after `warmup`."""
    for _ in range(warmup):
        fn()
    gc.collect()
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        if gc_was_on:
            gc.enable()
    return statistics.median(times), min(times)


def ms(t: tuple[float, float]) -> str:
    return f"{t[0] * 1e3:8.1f} ({t[1] * 1e3:.1f})"


def row(case: str, ours, baseline) -> str:
    """One table line; ratio = baseline / ours on the medians (> 1: ours is faster)."""
    return f"{case:<30} {ms(ours):>18} {ms(baseline):>18} {baseline[0] / ours[0]:7.2f}x"


def header(first: str) -> str:
    return (f"{first:<30} {'ours ms':>18} {'baseline ms':>18} {'ratio':>8}\n"
            + "-" * 77)


def import_torch():
    """The torch module, or None when it is not installed (it is not a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def layer_inputs(dtype, seed=0):
    """x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), dh (N, T, H) of `dtype`."""
    rng = np.random.default_rng(seed)
    arrays = (rng.standard_normal((N, T, D)), 0.1 * rng.standard_normal((N, H)),
              rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
              0.1 * rng.standard_normal(H), rng.standard_normal((N, T, H)))
    return [a.astype(dtype) for a in arrays]


def max_difference(a, b) -> float:
    """Largest |a - b| over matching arrays, relative to the largest |a|."""
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(x))) for x, y in zip(a, b))


def load_subset(dtype):
    """The real CIFAR-10 subset as sequences, or None with a printed reason."""
    if not CIFAR_DIR.is_dir():
        print(f"training epoch: skipped, the CIFAR-10 subset is not at {CIFAR_DIR}")
        return None
    try:
        from data_utils import get_cifar10_sequences
    except ImportError as err:
        print(f"training epoch: skipped, solutions/rnn/data_utils.py not importable ({err})")
        return None
    return get_cifar10_sequences(CIFAR_DIR, num_validation=1000, dtype=dtype)


# ---------------------------------------------------------------- the bench

def bench_layers(torch) -> None:
    """The table: reference rnn_forward + rnn_backward against the baselines."""
    def ours(x, h0, Wx, Wh, b, dh):
        h, cache = rnn_forward(x, h0, Wx, Wh, b)
        return (h, *rnn_backward(dh, cache))

    def naive(x, h0, Wx, Wh, b, dh):
        h, cache = naive_rnn.rnn_forward(x, h0, Wx, Wh, b)
        return (h, *naive_rnn.rnn_backward(dh, cache))

    print(f"rnn_forward + rnn_backward, N={N} T={T} D={D} H={H}; "
          f"ms: median of {LAYER_REPEATS} (best); ratio = baseline / ours, > 1: ours faster")
    print(header("case"))
    agreement = []
    # All NumPy timings first, then all torch ones: the two thread pools never overlap.
    timings = {}
    for dtype in DTYPES:
        args = layer_inputs(dtype)
        timings[dtype] = (measure(lambda: ours(*args), LAYER_REPEATS),
                          measure(lambda: naive(*args), LAYER_REPEATS))
        agreement.append(f"naive {np.dtype(dtype).name} "
                         f"{max_difference(ours(*args), naive(*args)):.0e}")
    for dtype in DTYPES:
        print(row(f"{np.dtype(dtype).name} vs per-step loop", *timings[dtype]))
    if torch is None:
        print("PyTorch not installed: skipped (it is not a project dependency)")
    else:
        import torch_rnn
        for dtype in DTYPES:
            args = layer_inputs(dtype)
            step, results = torch_rnn.layer_step(*args)
            t_torch = measure(step, LAYER_REPEATS)
            print(row(f"{np.dtype(dtype).name} vs torch nn.RNN", timings[dtype][0], t_torch))
            agreement.append(f"torch {np.dtype(dtype).name} "
                             f"{max_difference(ours(*args), results()):.0e}")
    print("agreement with ours (max |diff| / max |value| over h and all gradients): "
          + ", ".join(agreement))


def bench_epoch(torch) -> None:
    """One epoch of RNNClassifier on the real subset, and the same epoch in torch."""
    print()
    for dtype in DTYPES:
        data = load_subset(dtype)
        if data is None:
            return
        X, y, X_val, y_val = data["X_train"], data["y_train"], data["X_val"], data["y_val"]
        model = RNNClassifier(input_dim=D, num_classes=K, seed=0, dtype=dtype, **RECIPE)
        start_params = {k: v.copy() for k, v in model.params.items()}
        if dtype == DTYPES[0]:
            print(f"one training epoch on the CIFAR-10 subset: {len(X)} train / {len(X_val)} "
                  f"val sequences, hidden {RECIPE['hidden_dim']}, batch {BATCH_SIZE}, "
                  f"lr 2e-2; ms: median of {EPOCH_REPEATS} epochs (best)")
            print(header("case"))
        t_ours = measure(lambda: model.train(X, y, X_val, y_val, learning_rate=2e-2,
                                             batch_size=BATCH_SIZE, num_epochs=1,
                                             verbose=False), EPOCH_REPEATS, warmup=1)
        if torch is None:
            print(f"{'epoch ' + np.dtype(dtype).name:<30} {ms(t_ours):>18}")
            continue
        import torch_rnn
        tmodel = torch_rnn.TorchClassifier(start_params, RECIPE["reg"], RECIPE["clip"])
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)
        tX_val, ty_val = torch.from_numpy(X_val), torch.from_numpy(y_val)
        rng = np.random.default_rng(0)
        sample = torch.from_numpy(rng.choice(len(X), size=min(len(X), 1000), replace=False))
        t_torch = measure(lambda: tmodel.train_epoch(tX, ty, tX_val, ty_val, 2e-2,
                                                     BATCH_SIZE, rng, sample),
                          EPOCH_REPEATS, warmup=1)
        print(row(f"epoch {np.dtype(dtype).name} vs torch", t_ours, t_torch))
    if torch is None:
        print("PyTorch not installed: torch epoch skipped (it is not a project dependency)")


def train(lr: float, epochs: int, patience: int, dtype, seed: int) -> None:
    """A full training run with the course recipe; prints test accuracy and times."""
    data = load_subset(dtype)
    if data is None:
        return
    model = RNNClassifier(input_dim=D, num_classes=K, seed=seed, dtype=dtype, **RECIPE)
    print(f"training RNNClassifier(hidden {RECIPE['hidden_dim']}, reg {RECIPE['reg']}, "
          f"clip {RECIPE['clip']}, {np.dtype(dtype).name}, seed {seed}) on "
          f"{len(data['X_train'])} / {len(data['X_val'])} / {len(data['X_test'])} "
          f"train / val / test: lr {lr:g}, batch {BATCH_SIZE}, lr_decay {LR_DECAY}, "
          f"up to {epochs} epochs, patience {patience}")
    start = time.perf_counter()
    history = model.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                          learning_rate=lr, batch_size=BATCH_SIZE, num_epochs=epochs,
                          patience=patience, lr_decay=LR_DECAY, verbose=True)
    total = time.perf_counter() - start
    ran = len(history["val_acc"])
    best = int(np.argmax(history["val_acc"]))
    test_acc = float(np.mean(model.predict(data["X_test"]) == data["y_test"]))
    print(f"lr {lr:g}: {ran} epochs in {total:.1f} s ({total / ran:.2f} s/epoch); best val "
          f"acc {history['val_acc'][best]:.3f} at epoch {best + 1}; "
          f"test acc {test_acc:.3f} with the best parameters")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", action="store_true",
                        help="instead of the bench, train on the CIFAR-10 subset")
    parser.add_argument("--lr", type=float, default=2e-2, help="--train: learning rate")
    parser.add_argument("--epochs", type=int, default=30, help="--train: at most")
    parser.add_argument("--patience", type=int, default=10, help="--train: early stopping")
    parser.add_argument("--float64", action="store_true", help="--train: float64 data")
    parser.add_argument("--seed", type=int, default=0, help="--train: weights, shuffling")
    args = parser.parse_args(argv)
    if args.train:
        train(args.lr, args.epochs, args.patience,
              np.float64 if args.float64 else np.float32, args.seed)
        return

    threads = blas_threads()
    torch = import_torch()
    versions = f"numpy {np.__version__}, {threads} BLAS threads"
    if torch is not None:
        torch.set_num_threads(threads)
        versions += f"; torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(f"{versions}; {os.cpu_count()} CPUs")
    bench_layers(torch)
    bench_epoch(torch)


if __name__ == "__main__":
    main()
