"""CIFAR-10 for the RNN classifier: loading, splitting, normalising, reading row by row.
CIFAR-10 数据：读取、划分、标准化，并把每张图片按行变成一个序列。

The data is the official python version of CIFAR-10 (`cifar-10-python.tar.gz`), a folder
`cifar-10-batches-py` holding `data_batch_1` ... `data_batch_5` (10000 training images
each) and `test_batch` (10000 test images). Smaller copies in the same format work too.

An RNN reads a sequence, so each 32 x 32 colour image is read one pixel row at a time:
step t sees row t, its 32 pixels with their 3 channels side by side (R, G, B, R, G, B, ...).

Shapes, letters used throughout:
    N  number of images
    T  number of time steps = image rows = 32
    D  features per step = 32 pixels * 3 channels = 96
"""
import os
import pickle
from pathlib import Path

import numpy as np

IMAGE_SHAPE = (32, 32, 3)          # (height, width, channels) of one image
ROW_LENGTH = 32 * 32 * 3           # 3072 values per image in a batch file
NUM_CLASSES = 10                   # labels 0..9: airplane ... truck
T, D = 32, 32 * 3                  # sequence length and features per step
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
HOW_TO_GET_DATA = (
    "in the assignment folder run `python download_cifar10.py` (it downloads the official "
    "python version, cifar-10-python.tar.gz, 163 MB, checks its MD5 and unpacks it to "
    "datasets/cifar-10-batches-py), or set the environment variable CIFAR10_DIR to a "
    "folder holding data_batch_1..5 and test_batch (README.md, \"Get the data\"). "
    "缺少数据：请在作业文件夹中运行 python download_cifar10.py"
)


class CifarDataError(Exception):
    """The CIFAR-10 files are missing, damaged, or cannot give what was asked for.
    CIFAR-10 数据文件缺失、损坏，或无法满足请求时抛出的错误。"""


def default_cifar_dir() -> Path:
    """Where CIFAR-10 is looked for when no folder is given.
    默认的数据目录：优先使用环境变量 CIFAR10_DIR。

    The environment variable CIFAR10_DIR if it is set, else
    `<folder of this file>/datasets/cifar-10-batches-py`.
    """
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent / "datasets" / "cifar-10-batches-py"


def _unpickle(path: Path) -> object:
    """The object stored in one pickle file; CifarDataError if it cannot be read.
    读取一个 pickle 文件；文件缺失或损坏时给出清楚的错误。"""
    if not path.is_file():
        raise CifarDataError(f"CIFAR-10 batch file {path} not found; check the path "
                             f"(the folder should hold data_batch_1..5 and test_batch)")
    try:
        with open(path, "rb") as f:
            # latin1 reads the official (Python 2) files: their str keys become str,
            # and the NumPy array inside comes back intact.
            return pickle.load(f, encoding="latin1")
    except Exception as err:  # noqa: BLE001  damaged files raise EOFError, ValueError, ...
        raise CifarDataError(
            f"cannot read CIFAR-10 batch file {path}: the file is truncated or is not a "
            f"pickle ({type(err).__name__}: {err}). To replace it, {HOW_TO_GET_DATA}"
        ) from None


def _batch_arrays(path: Path, batch: object) -> tuple[np.ndarray, np.ndarray]:
    """The 'data' and 'labels' entries of an unpickled batch, whatever its key type.
    取出批次中的 'data' 和 'labels'（键可以是 str 或 bytes）。"""
    if isinstance(batch, dict):
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v
                 for k, v in batch.items()}
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        found = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise CifarDataError(f"{path} is not a CIFAR-10 batch: expected keys 'data' and "
                             f"'labels', found {found}")
    try:
        return np.asarray(batch["data"]), np.asarray(batch["labels"])
    except ValueError as err:  # e.g. rows of different lengths
        raise CifarDataError(f"{path}: 'data' or 'labels' is not an array ({err})") from None


def _check_batch(path: Path, batch: object) -> tuple[np.ndarray, np.ndarray]:
    """The data (n, 3072) uint8 and labels (n,) int64 of an unpickled batch, checked.
    检查批次内容：每行长度、像素取值、标签个数与取值范围。"""
    data, labels = _batch_arrays(path, batch)
    if data.ndim != 2 or data.shape[1] != ROW_LENGTH:
        raise CifarDataError(f"{path}: 'data' should have shape (n, {ROW_LENGTH}), i.e. "
                             f"expected {ROW_LENGTH} values per row, got shape {data.shape}")
    if data.dtype != np.uint8:
        integer = np.issubdtype(data.dtype, np.integer)
        if not integer or (data.size and (data.min() < 0 or data.max() > 255)):
            span = f", values {data.min()}..{data.max()}" if integer else ""
            raise CifarDataError(f"{path}: 'data' should hold uint8 pixel values 0..255, "
                                 f"got dtype {data.dtype}{span}")
        data = data.astype(np.uint8)
    if labels.shape != (data.shape[0],):
        raise CifarDataError(f"{path}: {data.shape[0]} rows of data but 'labels' has "
                             f"shape {labels.shape}; expected one label per row")
    if not np.issubdtype(labels.dtype, np.integer) and labels.size:
        raise CifarDataError(f"{path}: labels must be integers 0..{NUM_CLASSES - 1}, "
                             f"got dtype {labels.dtype}")
    bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if bad.size:
        raise CifarDataError(f"{path}: labels must be integers 0..{NUM_CLASSES - 1}, "
                             f"found {bad[:5].tolist()}")
    return data, labels.astype(np.int64)


def load_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 batch file (python version).
    读取一个 CIFAR-10 批次文件，返回图片和标签。

    path  the file, e.g. `.../cifar-10-batches-py/data_batch_1`; keys may be str
          ('data', 'labels') or bytes (b'data', b'labels')
    Returns (X, y): X (n, 32, 32, 3) uint8 images, y (n,) int64 labels in 0..9.
    Raises CifarDataError, naming the file, if it is missing, damaged or malformed.
    """
    path = Path(path)
    data, y = _check_batch(path, _unpickle(path))  # (n, 3072), (n,)
    # Each row is channel-major: 1024 red, then 1024 green, then 1024 blue values.
    X = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (n, 32, 32, 3)
    return np.ascontiguousarray(X), y


def load_cifar10(root=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load all of CIFAR-10: the five training batches and the test batch.
    读取整个数据集：五个训练批次合并，加上测试批次。

    root  the `cifar-10-batches-py` folder; None means default_cifar_dir()
    Returns (X_train, y_train, X_test, y_test): X_* (N, 32, 32, 3) uint8, y_* (N,)
    int64; N = 50000 and 10000 for the full dataset.
    """
    root = default_cifar_dir() if root is None else Path(root)
    if not root.is_dir():
        raise CifarDataError(f"CIFAR-10 folder {root} not found; {HOW_TO_GET_DATA}")
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (root / name).is_file()]
    if missing:
        hint = ""
        if (root / "cifar-10-batches-py").is_dir():
            hint = f" (did you mean {root / 'cifar-10-batches-py'}?)"
        raise CifarDataError(f"CIFAR-10 folder {root} lacks {', '.join(missing)}{hint}; "
                             f"{HOW_TO_GET_DATA}")
    batches = [load_cifar_batch(root / name) for name in TRAIN_FILES]
    X_train = np.concatenate([X for X, _ in batches])  # (N_train, 32, 32, 3)
    y_train = np.concatenate([y for _, y in batches])  # (N_train,)
    X_test, y_test = load_cifar_batch(root / TEST_FILE)
    return X_train, y_train, X_test, y_test


def images_to_sequences(X: np.ndarray) -> np.ndarray:
    """Read each image row by row: (N, 32, 32, 3) -> (N, T, D) = (N, 32, 96).
    把图片按行读成序列：第 t 步是第 t 行的 32 个像素（RGB 交错）。

    Step t of sequence n is image row t, its pixels left to right with their channels
    interleaved: out[n, t] = [R, G, B of pixel 0, R, G, B of pixel 1, ...]. This is a
    plain reshape; the dtype is kept, and the result is a view when X is contiguous.
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[1:] != IMAGE_SHAPE:
        raise CifarDataError(f"images_to_sequences: expected images of shape (N, 32, 32, 3),"
                             f" got {X.shape}")
    return X.reshape(X.shape[0], T, D)  # (N, 32, 96)


def _take(what: str, asked, available: int, minimum: int = 0, note: str = "") -> int:
    """How many images to use: `asked`, or all `available` when None; checked.
    确定要取多少张图片，并检查是否超过可用数量。"""
    n = available if asked is None else int(asked)
    if n > available:
        raise CifarDataError(f"asked for {n} {what} images but only {available} are "
                             f"available{note}")
    if n < minimum:
        raise CifarDataError(f"asked for {n} {what} images; at least {minimum} needed")
    return n


def get_cifar10_sequences(root=None, num_training=None, num_validation=1000,
                          num_test=None, dtype=np.float64) -> dict:
    """CIFAR-10 as normalised row sequences, split into train / val / test.
    加载数据、划分训练/验证/测试集、用训练集统计量标准化，并转换成序列。

    root            the `cifar-10-batches-py` folder; None means default_cifar_dir()
    num_training    training images, the first ones; None = all not used for validation
    num_validation  validation images, the ones right after the training images
    num_test        test images, the first ones of test_batch; None = all
    dtype           dtype of the returned arrays (np.float32 is kept)

    Returns a dict with
        X_train (N_train, T, D), y_train (N_train,), X_val (N_val, T, D), y_val (N_val,),
        X_test (N_test, T, D), y_test (N_test,)    labels int64, X_* of `dtype`,
        mean (T, D), std (T, D)                    of `dtype`.
    `mean` and `std` are per-pixel, per-channel statistics of the TRAINING images only
    (the mean image, read as a sequence); every split is (X - mean) / std. Pixels that
    are constant in the training set get std 1. To show an image: X * std + mean.
    """
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"get_cifar10_sequences: dtype must be a float type, "
                        f"got {dtype}")
    root = default_cifar_dir() if root is None else Path(root)
    X_all, y_all, X_test, y_test = load_cifar10(root)
    n_val = _take("validation", num_validation, len(X_all),
                  note=f" in the training batches of {root}")
    n_train = _take("training", num_training, len(X_all) - n_val, minimum=1,
                    note=f" ({len(X_all)} training images, {n_val} kept for validation)")
    n_test = _take("test", num_test, len(X_test), note=f" in {root / TEST_FILE}")
    splits = {
        "train": (X_all[:n_train], y_all[:n_train]),
        "val": (X_all[n_train:n_train + n_val], y_all[n_train:n_train + n_val]),
        "test": (X_test[:n_test], y_test[:n_test]),
    }
    seqs = {name: images_to_sequences(X).astype(dtype) for name, (X, _) in splits.items()}
    # Statistics of the training images only, accumulated in float64.
    mean = seqs["train"].mean(axis=0, dtype=np.float64)  # (T, D)
    std = seqs["train"].std(axis=0, dtype=np.float64)    # (T, D)
    std[std == 0] = 1.0  # a constant pixel would otherwise divide by zero
    mean, std = mean.astype(dtype), std.astype(dtype)
    out = {}
    for name, (_, y) in splits.items():
        X = seqs[name]    # (N, T, D), a fresh array: safe to change in place
        X -= mean
        X /= std
        out[f"X_{name}"], out[f"y_{name}"] = X, y.copy()
    out["mean"], out["std"] = mean, std
    return out
