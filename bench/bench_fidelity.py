"""Fidelity to a real framework: the reference classifier vs PyTorch nn.RNN, same recipe.
与真实框架对照：参考实现与 PyTorch nn.RNN 用同一套训练方案，比较测试准确率和每个 epoch 的时间。

    /tmp/torch-venv/bin/python bench/bench_fidelity.py            # needs torch (see torch_rnn.py)
    /tmp/torch-venv/bin/python bench/bench_fidelity.py --epochs 60 --threads 1

Both models start from the SAME Xavier weights (RNNClassifier's, copied into nn.RNN +
nn.Linear) and see the SAME batches (one NumPy generator, drawn as RNNClassifier.train
draws it); both use the course's recipe: SGD, batch 128, reg 1e-4, elementwise clipping
at 5, learning rate decay 0.95 per epoch, early stopping on validation accuracy (the best
parameters are kept). Data: the real CIFAR-10 subset read row by row, float32.
PyTorch is NOT a project dependency: without it the script says so and exits 0.
It is a benchmark, not a test: it prints figures, nothing fails.
"""
import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _threads_from_argv(default: int = 1) -> int:
    """--threads must be known before NumPy loads its BLAS."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return default


THREADS = _threads_from_argv()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, str(ROOT / "solutions" / "rnn"))  # the flat reference modules
sys.path.insert(0, str(ROOT / "bench"))

from data_utils import get_cifar10_sequences  # noqa: E402
from rnn_classifier import RNNClassifier  # noqa: E402

CIFAR_DIR = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"
RECIPE = dict(hidden_dim=256, reg=1e-4, clip=5.0)  # the course's classifier
BATCH_SIZE, LR_DECAY = 128, 0.95


def train_ours(model, data, lr, epochs, patience):
    """RNNClassifier.train itself; returns (history, seconds per epoch)."""
    start = time.perf_counter()
    history = model.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                          learning_rate=lr, batch_size=BATCH_SIZE, num_epochs=epochs,
                          patience=patience, lr_decay=LR_DECAY, verbose=False)
    return history, (time.perf_counter() - start) / len(history["val_acc"])


def train_torch(torch, start_params, rng, data, lr, epochs, patience):
    """The same loop in torch: same batches, same early stopping; returns
    (model with its best parameters, val accuracies, seconds per epoch)."""
    import torch_rnn

    model = torch_rnn.TorchClassifier(start_params, RECIPE["reg"], RECIPE["clip"])
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    X_val, y_val = torch.from_numpy(data["X_val"]), torch.from_numpy(data["y_val"])
    # RNNClassifier.train draws its train-accuracy sample first, then one permutation
    # per epoch: drawing the same from a copy of its generator gives the same batches.
    sample = torch.from_numpy(rng.choice(len(X), size=min(len(X), 1000), replace=False))
    best_acc, best_state, waited, val_accs = -1.0, None, 0, []
    start = time.perf_counter()
    for epoch in range(epochs):
        _, val_acc = model.train_epoch(X, y, X_val, y_val, lr * LR_DECAY**epoch,
                                       BATCH_SIZE, rng, sample)
        val_accs.append(val_acc)
        if val_acc > best_acc:
            best_acc, waited = val_acc, 0
            best_state = [p.detach().clone() for p in model.params]
        else:
            waited += 1
            if waited >= patience:
                break
    seconds = (time.perf_counter() - start) / len(val_accs)
    with torch.no_grad():
        for p, best in zip(model.params, best_state):
            p.copy_(best)
    return model, val_accs, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lr", type=float, default=2e-2, help="initial learning rate")
    parser.add_argument("--epochs", type=int, default=80, help="at most this many epochs")
    parser.add_argument("--patience", type=int, default=15, help="early stopping")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="weights, batches")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help="BLAS / torch threads for both (default 1: a fair, quiet run)")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: nothing to compare (it is not a project dependency; "
              "see bench/torch_rnn.py for a throwaway venv)")
        return 0
    torch.set_num_threads(args.threads)
    if not (CIFAR_DIR / "data_batch_1").exists():
        print(f"the real CIFAR-10 subset is not at {CIFAR_DIR}: nothing to compare")
        return 0
    data = get_cifar10_sequences(CIFAR_DIR, dtype=np.float32)  # 1000 images for validation
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s); "
          f"CIFAR-10 subset {len(data['y_train'])} / {len(data['y_val'])} / "
          f"{len(data['y_test'])} train / val / test, float32")
    print(f"recipe: hidden {RECIPE['hidden_dim']}, Xavier init, SGD lr {args.lr:g} x "
          f"{LR_DECAY}^epoch, batch {BATCH_SIZE}, reg {RECIPE['reg']}, clip {RECIPE['clip']}, "
          f"up to {args.epochs} epochs, patience {args.patience}")
    for seed in args.seeds:
        ours = RNNClassifier(input_dim=96, num_classes=10, seed=seed, dtype=np.float32, **RECIPE)
        start_params = {k: v.copy() for k, v in ours.params.items()}
        rng = copy.deepcopy(ours.rng)  # the generator train() is about to draw from
        history, t_ours = train_ours(ours, data, args.lr, args.epochs, args.patience)
        acc_ours = float(np.mean(ours.predict(data["X_test"]) == data["y_test"]))
        tmodel, val_torch, t_torch = train_torch(torch, start_params, rng, data, args.lr,
                                                 args.epochs, args.patience)
        pred = tmodel.predict(torch.from_numpy(data["X_test"])).numpy()
        acc_torch = float(np.mean(pred == data["y_test"]))
        print(f"seed {seed}: ours  {len(history['val_acc']):3d} epochs, best val "
              f"{max(history['val_acc']):.3f}, test {100 * acc_ours:.2f} %, "
              f"{t_ours:.2f} s/epoch")
        print(f"seed {seed}: torch {len(val_torch):3d} epochs, best val {max(val_torch):.3f}, "
              f"test {100 * acc_torch:.2f} %, {t_torch:.2f} s/epoch")
        print(f"seed {seed}: test accuracy difference {100 * abs(acc_ours - acc_torch):.2f} "
              f"points; epoch time ours / torch = {t_ours / t_torch:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
