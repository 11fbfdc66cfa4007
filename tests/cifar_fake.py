"""A tiny fake CIFAR-10 in the official python format, for tests that must not download.
一个很小的假 CIFAR-10 数据集（官方 python 格式），供测试使用。"""
import pickle
from pathlib import Path

import numpy as np

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]


def write_fake_cifar(folder, n_per_batch: int = 20, keys: str = "str", seed: int = 0) -> Path:
    """Write data_batch_1..5, test_batch and batches.meta into folder/cifar-10-batches-py.
    写出假的批次文件；返回 cifar-10-batches-py 目录。

    Each batch holds n_per_batch random images: 'data' uint8 (n, 3072), channel-major
    rows, and 'labels' a list of ints 0..9 (every class present once n >= 10).
    keys  "str" ('data', 'labels') or "bytes" (b'data', b'labels', as the official
          Python 2 pickles read with encoding='bytes').
    Returns the path of the cifar-10-batches-py folder.
    """
    if keys not in ("str", "bytes"):
        raise ValueError(f"write_fake_cifar: keys must be 'str' or 'bytes', got {keys!r}")
    key = (lambda k: k.encode()) if keys == "bytes" else (lambda k: k)
    rng = np.random.default_rng(seed)
    root = Path(folder) / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    for name in BATCH_NAMES:
        labels = rng.permutation(np.arange(n_per_batch) % 10)
        batch = {
            key("batch_label"): f"fake {name}",
            key("labels"): [int(v) for v in labels],
            key("data"): rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
        }
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    meta = {key("num_cases_per_batch"): n_per_batch, key("label_names"): LABEL_NAMES,
            key("num_vis"): 3072}
    with open(root / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return root
