"""Speed of the reference RNN, side by side with a per-step loop and with PyTorch.
参考实现的速度：与逐时间步的朴素实现、以及 PyTorch 的 nn.RNN 并排比较。

    make bench                                   # .venv/bin/python bench/bench_rnn.py
    .venv/bin/python bench/bench_rnn.py --threads 1 --layers-only   # 1 thread, no epoch
    /tmp/torch-venv/bin/python bench/bench_rnn.py   # the same, all in the torch venv
    .venv/bin/python bench/bench_rnn.py --train --lr 2e-2   # a full training run

It prints, for rnn_forward + rnn_backward at N=128, T=32, D=96, H=256 (float64 and
float32), the time of the reference against
  (a) naive_rnn.py, a per-step loop like the course's (always), and
  (b) PyTorch's CPU nn.RNN(tanh, batch_first), forward + backward on the same arrays and
      the same number of threads.
then the time of one training epoch of RNNClassifier on the real CIFAR-10 subset (when
present), and of the same epoch in torch.

PyTorch is not a dependency of the project. When `import torch` fails here, the torch
rows are measured by this same script run in a throwaway venv that has it: the
interpreter named by $TORCH_PYTHON, else /tmp/torch-venv/bin/python, made with

    python3.11 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install numpy torch==2.13.0

(it is given the same thread count; without it those rows are skipped, saying so).
Ours and the baseline are timed in ONE process, interleaved: rounds of a few calls of
each, in turn, so that a machine shared with other work slows both alike. Times are the
median of all timed calls and the best in brackets (warm-up first, garbage collector
off); ratios are baseline / ours (> 1: ours is faster) on the medians and, in brackets,
on the bests. It is a benchmark, not a test: nothing fails on a slow machine.
"""
import argparse
import ctypes
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _threads_from_argv() -> int | None:
    """--threads N, read before NumPy loads its BLAS (which reads the variables once)."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return None


if _threads_from_argv() is not None:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(_threads_from_argv())

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "rnn"))  # the flat reference modules

import naive_rnn  # noqa: E402  (bench/, next to this file)
from rnn_classifier import RNNClassifier  # noqa: E402
from rnn_layers import rnn_backward, rnn_forward  # noqa: E402

N, T, D, H, K = 128, 32, 96, 256, 10
DTYPES = (np.float64, np.float32)
LAYER_ROUNDS, LAYER_CALLS = 6, 4   # timed calls per case: rounds x calls, interleaved
EPOCH_ROUNDS = 5        # timed epochs per case, interleaved one by one
WARMUP = 2              # untimed calls of each before the first round
TORCH_PYTHON = os.environ.get("TORCH_PYTHON", "/tmp/torch-venv/bin/python")
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


def measure_side_by_side(fns: dict, rounds: int, calls: int,
                         warmup: int = WARMUP) -> dict[str, tuple[float, float]]:
    """{name: (median, best)} wall time in seconds of every fn() in `fns`, timed in turn:
    `rounds` rounds, each timing `calls` calls of every function after one untimed call
    (which lets the other library's threads settle and warms this one's caches). The
    order rotates from round to round, so no function always follows the same one."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    gc.collect()
    gc_was_on = gc.isenabled()
    gc.disable()
    names = list(fns)
    times = {name: [] for name in names}
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                if calls > 1:
                    fns[name]()
                for _ in range(calls):
                    start = time.perf_counter()
                    fns[name]()
                    times[name].append(time.perf_counter() - start)
    finally:
        if gc_was_on:
            gc.enable()
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def ms(t: tuple[float, float]) -> str:
    return f"{t[0] * 1e3:8.1f} ({t[1] * 1e3:.1f})"


def row(case: str, ours, baseline) -> str:
    """One table line; ratio = baseline / ours on the medians (on the bests in brackets)."""
    ratio = f"{baseline[0] / ours[0]:.2f}x ({baseline[1] / ours[1]:.2f}x)"
    return f"{case:<30} {ms(ours):>18} {ms(baseline):>18} {ratio:>16}"


def header(first: str) -> str:
    return (f"{first:<30} {'ours ms':>18} {'baseline ms':>18} {'ratio':>16}\n"
            + "-" * 85)


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

def _ours(x, h0, Wx, Wh, b, dh):
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    return (h, *rnn_backward(dh, cache))


def _naive(x, h0, Wx, Wh, b, dh):
    h, cache = naive_rnn.rnn_forward(x, h0, Wx, Wh, b)
    return (h, *naive_rnn.rnn_backward(dh, cache))


def layer_heading() -> None:
    print(f"rnn_forward + rnn_backward, N={N} T={T} D={D} H={H}; ms: median of "
          f"{LAYER_ROUNDS * LAYER_CALLS} (best), timed side by side in one process; "
          "ratio = baseline / ours, > 1: ours faster")
    print(header("case"))


def bench_layers(torch, naive: bool = True) -> None:
    """Table rows: the reference rnn_forward + rnn_backward against the per-step loop
    (when `naive`) and nn.RNN (when `torch` is the module), each dtype in one run."""
    agreement, ours_over_torch = [], []
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        args = layer_inputs(dtype)
        fns = {"ours": lambda: _ours(*args)}
        if naive:
            fns["per-step loop"] = lambda: _naive(*args)
            agreement.append(f"naive {name} {max_difference(_ours(*args), _naive(*args)):.0e}")
        if torch is not None:
            import torch_rnn
            fns["torch nn.RNN"], torch_results = torch_rnn.layer_step(*args)
        times = measure_side_by_side(fns, LAYER_ROUNDS, LAYER_CALLS)
        for baseline in list(fns)[1:]:
            print(row(f"{name} vs {baseline}", times["ours"], times[baseline]), flush=True)
        if torch is not None:
            agreement.append(f"torch {name} {max_difference(_ours(*args), torch_results()):.0e}")
            ours_t, torch_t = times["ours"], times["torch nn.RNN"]
            ours_over_torch.append(f"{name} {ours_t[0] / torch_t[0]:.2f}x "
                                   f"({ours_t[1] / torch_t[1]:.2f}x)")
    print("agreement with ours (max |diff| / max |value| over h and all gradients): "
          + ", ".join(agreement))
    if ours_over_torch:
        print("ours' time / nn.RNN's, median (best); goal <= 1: " + ", ".join(ours_over_torch))


def torch_elsewhere(threads: int, layers_only: bool) -> bool:
    """Run the torch rows (layers, then the epoch) in the torch venv's interpreter, with
    the same thread count; False (and a note) when there is none or it fails."""
    if not Path(TORCH_PYTHON).exists():
        print(f"PyTorch: not importable here and no {TORCH_PYTHON} ($TORCH_PYTHON): torch rows "
              "skipped; make it with: python3.11 -m venv /tmp/torch-venv && "
              "/tmp/torch-venv/bin/pip install numpy torch==2.13.0")
        return False
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    sys.stdout.flush()
    command = [TORCH_PYTHON, __file__, "--torch-side", "--threads", str(threads)]
    done = subprocess.run(command + (["--layers-only"] if layers_only else []), env=env,
                          check=False)
    if done.returncode != 0:
        print(f"PyTorch: {TORCH_PYTHON} {Path(__file__).name} --torch-side exited with "
              f"{done.returncode}: torch rows incomplete")
    return done.returncode == 0


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
                  f"lr 2e-2; ms: median of {EPOCH_ROUNDS} epochs (best)"
                  + (", timed side by side" if torch is not None else ""))
            print(header("case"))
        fns = {"ours": lambda: model.train(X, y, X_val, y_val, learning_rate=2e-2,
                                           batch_size=BATCH_SIZE, num_epochs=1, verbose=False)}
        if torch is not None:
            import torch_rnn
            tmodel = torch_rnn.TorchClassifier(start_params, RECIPE["reg"], RECIPE["clip"])
            tX, ty = torch.from_numpy(X), torch.from_numpy(y)
            tX_val, ty_val = torch.from_numpy(X_val), torch.from_numpy(y_val)
            rng = np.random.default_rng(0)
            sample = torch.from_numpy(rng.choice(len(X), size=min(len(X), 1000), replace=False))
            fns["torch"] = lambda: tmodel.train_epoch(tX, ty, tX_val, ty_val, 2e-2, BATCH_SIZE,
                                                      rng, sample)
        times = measure_side_by_side(fns, EPOCH_ROUNDS, calls=1, warmup=1)
        if torch is None:
            print(f"{'epoch ' + np.dtype(dtype).name:<30} {ms(times['ours']):>18}")
        else:
            print(row(f"epoch {np.dtype(dtype).name} vs torch", times["ours"], times["torch"]))
    if torch is None:
        print("PyTorch not importable: torch epoch skipped (it is not a project dependency)")


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
    parser.add_argument("--threads", type=int,
                        help="BLAS and torch threads (default: NumPy's BLAS default)")
    parser.add_argument("--torch-side", action="store_true",
                        help="only the rows that need torch (what `make bench` runs in the "
                             "torch venv)")
    parser.add_argument("--layers-only", action="store_true",
                        help="only the rnn_forward + rnn_backward table, no training epoch")
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
        torch.set_num_threads(threads)  # the same thread count on both sides
        versions += f"; torch {torch.__version__}, {torch.get_num_threads()} threads"
    if args.torch_side:
        if torch is None:
            sys.exit(f"--torch-side: `import torch` fails in {sys.executable}")
        print(f"torch rows, measured in {sys.executable}: {versions}", flush=True)
        bench_layers(torch, naive=False)
        if not args.layers_only:
            bench_epoch(torch)
        return
    print(f"{versions}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    layer_heading()
    bench_layers(torch)
    if torch is None and torch_elsewhere(threads, args.layers_only):
        return  # the torch venv also ran the epoch, side by side with torch
    if not args.layers_only:
        bench_epoch(torch)


if __name__ == "__main__":
    main()
