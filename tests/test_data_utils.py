"""Tests of data_utils: the CIFAR-10 loader, split, normalisation and row sequences.

Most tests run on tiny fake datasets written by cifar_fake.write_fake_cifar; the last
group runs on the real CIFAR-10 subset when it is present, and skips otherwise.
"""
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import data_utils as du
from cifar_fake import write_fake_cifar
from conftest import require_cifar_subset

N_PER_BATCH = 20  # fake images per batch: 100 training, 20 test


@pytest.fixture
def fake_root(tmp_path):
    return write_fake_cifar(tmp_path, n_per_batch=N_PER_BATCH)


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _batch(data, labels):
    return {"data": np.asarray(data), "labels": list(labels)}


# --- loading ------------------------------------------------------------------------

def test_str_and_bytes_keys_load_identically(tmp_path):
    as_str = du.load_cifar10(write_fake_cifar(tmp_path / "s", keys="str", seed=3))
    as_bytes = du.load_cifar10(write_fake_cifar(tmp_path / "b", keys="bytes", seed=3))
    for a, b in zip(as_str, as_bytes):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def test_load_cifar10_shapes_and_dtypes(fake_root):
    X_train, y_train, X_test, y_test = du.load_cifar10(fake_root)
    assert X_train.shape == (5 * N_PER_BATCH, 32, 32, 3) and X_train.dtype == np.uint8
    assert X_test.shape == (N_PER_BATCH, 32, 32, 3) and X_test.dtype == np.uint8
    assert y_train.shape == (5 * N_PER_BATCH,) and y_train.dtype == np.int64
    assert y_test.shape == (N_PER_BATCH,) and y_test.dtype == np.int64


def test_training_batches_are_concatenated_in_order(fake_root):
    X_train, y_train, _, _ = du.load_cifar10(fake_root)
    for i in range(5):
        X, y = du.load_cifar_batch(fake_root / f"data_batch_{i + 1}")
        np.testing.assert_array_equal(X_train[i * N_PER_BATCH:(i + 1) * N_PER_BATCH], X)
        np.testing.assert_array_equal(y_train[i * N_PER_BATCH:(i + 1) * N_PER_BATCH], y)


@pytest.mark.parametrize("row, col, channel", [
    (0, 0, 0), (0, 0, 2), (0, 31, 1), (31, 0, 0), (5, 17, 1), (31, 31, 2),
])
def test_channel_major_row_lands_on_its_pixel(tmp_path, row, col, channel):
    data = np.zeros((1, 3072), dtype=np.uint8)
    data[0, channel * 1024 + row * 32 + col] = 255  # 1024 R, then 1024 G, then 1024 B
    _dump(tmp_path / "batch", _batch(data, [0]))
    X, _ = du.load_cifar_batch(tmp_path / "batch")
    assert X.shape == (1, 32, 32, 3)
    assert list(zip(*np.nonzero(X[0]))) == [(row, col, channel)]


def test_every_value_of_a_known_image_is_in_place(tmp_path):
    ch, r, c = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    image = (ch * 85 + r * 7 + c) % 256                   # (3, 32, 32), channel-major
    _dump(tmp_path / "batch", _batch(image.reshape(1, 3072).astype(np.uint8), [4]))
    X, y = du.load_cifar_batch(tmp_path / "batch")
    np.testing.assert_array_equal(X[0], image.transpose(1, 2, 0))  # (32, 32, 3)
    assert y.tolist() == [4]


def test_default_dir_comes_from_env_var_then_module_folder(monkeypatch, fake_root):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    module_folder = Path(du.__file__).resolve().parent
    assert du.default_cifar_dir() == module_folder / "datasets" / "cifar-10-batches-py"
    monkeypatch.setenv("CIFAR10_DIR", str(fake_root))
    assert du.default_cifar_dir() == fake_root
    assert len(du.get_cifar10_sequences(num_validation=10)["X_train"]) == 90


# --- sequences ----------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequence_row_t_is_image_row_t(rng, n):
    X = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    seq = du.images_to_sequences(X)
    assert seq.shape == (n, 32, 96) and seq.dtype == X.dtype
    for t in (0, 13, 31):
        np.testing.assert_array_equal(seq[:, t], X[:, t].reshape(n, 96))
    if n:  # channels interleaved: feature 3 * col + channel
        assert seq[0, 4, 3 * 10 + 2] == X[0, 4, 10, 2]


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (2, 32, 96), (32, 32, 3), (2, 32, 32, 4)])
def test_sequences_reject_wrong_image_shape(shape):
    with pytest.raises(du.CifarDataError, match=re.escape(f"(N, 32, 32, 3), got {shape}")):
        du.images_to_sequences(np.zeros(shape))


# --- split and normalisation ----------------------------------------------------------

@pytest.mark.parametrize("num_training, num_validation, num_test, sizes", [
    (None, 10, None, (90, 10, 20)),
    (50, 10, 5, (50, 10, 5)),
    (None, 0, None, (100, 0, 20)),
    (30, 20, 0, (30, 20, 0)),
    (1, 99, 1, (1, 99, 1)),
])
def test_split_sizes_and_order(fake_root, num_training, num_validation, num_test, sizes):
    data = du.get_cifar10_sequences(fake_root, num_training, num_validation, num_test)
    n_train, n_val, n_test = sizes
    for split, n in zip(("train", "val", "test"), sizes):
        assert data[f"X_{split}"].shape == (n, 32, 96)
        assert data[f"y_{split}"].shape == (n,)
    _, y_all, _, y_test = du.load_cifar10(fake_root)
    np.testing.assert_array_equal(data["y_train"], y_all[:n_train])
    np.testing.assert_array_equal(data["y_val"], y_all[n_train:n_train + n_val])
    np.testing.assert_array_equal(data["y_test"], y_test[:n_test])


def test_normalisation_is_train_mean_and_std(fake_root):
    data = du.get_cifar10_sequences(fake_root, num_training=80, num_validation=10)
    X_all, _, X_test, _ = du.load_cifar10(fake_root)
    train = du.images_to_sequences(X_all[:80]).astype(np.float64)  # (80, T, D)
    assert data["mean"].shape == data["std"].shape == (32, 96)
    np.testing.assert_allclose(data["mean"], train.mean(axis=0))
    np.testing.assert_allclose(data["std"], train.std(axis=0))
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data["X_train"].std(axis=0), 1, atol=1e-12)
    expected_test = (du.images_to_sequences(X_test) - data["mean"]) / data["std"]
    np.testing.assert_allclose(data["X_test"], expected_test)


def test_validation_and_test_images_do_not_change_the_statistics(tmp_path):
    root = write_fake_cifar(tmp_path, n_per_batch=N_PER_BATCH)
    before = du.get_cifar10_sequences(root, num_training=80, num_validation=20)
    # Replace the validation images (data_batch_5) and the test images by white ones.
    for name in ("data_batch_5", "test_batch"):
        _dump(root / name, _batch(np.full((N_PER_BATCH, 3072), 255, np.uint8),
                                  np.arange(N_PER_BATCH) % 10))
    after = du.get_cifar10_sequences(root, num_training=80, num_validation=20)
    for key in ("mean", "std", "X_train"):
        np.testing.assert_array_equal(before[key], after[key])
    assert not np.allclose(before["X_test"], after["X_test"])


def test_constant_training_pixel_gets_std_one(tmp_path):
    root = write_fake_cifar(tmp_path, n_per_batch=N_PER_BATCH)
    for i in range(1, 6):
        _dump(root / f"data_batch_{i}", _batch(np.zeros((N_PER_BATCH, 3072), np.uint8),
                                               np.zeros(N_PER_BATCH, int)))
    data = du.get_cifar10_sequences(root, num_validation=10)
    np.testing.assert_array_equal(data["std"], 1)
    assert np.isfinite(data["X_test"]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_requested_dtype_is_kept(fake_root, dtype):
    data = du.get_cifar10_sequences(fake_root, num_validation=10, dtype=dtype)
    for key in ("X_train", "X_val", "X_test", "mean", "std"):
        assert data[key].dtype == dtype, key
    for key in ("y_train", "y_val", "y_test"):
        assert data[key].dtype == np.int64, key


# --- broken data: every problem is a CifarDataError naming the file --------------------

def _missing_batch(root):
    (root / "data_batch_3").unlink()
    return "data_batch_3"


def _truncated(root):
    raw = (root / "data_batch_2").read_bytes()
    (root / "data_batch_2").write_bytes(raw[:len(raw) // 2])
    return "data_batch_2"


def _random_bytes(root):
    (root / "test_batch").write_bytes(np.random.default_rng(0).bytes(5000))
    return "test_batch"


def _empty_file(root):
    (root / "data_batch_4").write_bytes(b"")
    return "data_batch_4"


def _list_pickle(root):
    _dump(root / "data_batch_1", [1, 2, 3])
    return "data_batch_1"


def _missing_labels(root):
    _dump(root / "data_batch_1", {"data": np.zeros((3, 3072), np.uint8)})
    return "data_batch_1"


def _wrong_row_length(root):
    _dump(root / "data_batch_5", _batch(np.zeros((4, 3000), np.uint8), [0, 1, 2, 3]))
    return "data_batch_5"


def _label_count(root):
    _dump(root / "test_batch", _batch(np.zeros((4, 3072), np.uint8), [0, 1, 2]))
    return "test_batch"


def _label_out_of_range(root):
    _dump(root / "data_batch_2", _batch(np.zeros((3, 3072), np.uint8), [0, 10, 2]))
    return "data_batch_2"


def _negative_label(root):
    _dump(root / "data_batch_2", _batch(np.zeros((3, 3072), np.uint8), [0, -1, 2]))
    return "data_batch_2"


def _float_pixels(root):
    _dump(root / "data_batch_1", _batch(np.zeros((2, 3072)), [0, 1]))
    return "data_batch_1"


def _pixel_out_of_range(root):
    _dump(root / "data_batch_1", _batch(np.full((2, 3072), 300), [0, 1]))
    return "data_batch_1"


BROKEN_FILES = [  # (how to break the fake dataset, words the message must contain)
    (_missing_batch, "lacks data_batch_3"),
    (_truncated, "truncated or is not a pickle"),
    (_random_bytes, "truncated or is not a pickle"),
    (_empty_file, "truncated or is not a pickle"),
    (_list_pickle, "is not a CIFAR-10 batch: expected keys 'data' and 'labels'"),
    (_missing_labels, "is not a CIFAR-10 batch"),
    (_wrong_row_length, "expected 3072 values per row, got shape (4, 3000)"),
    (_float_pixels, "uint8 pixel values 0..255, got dtype float64"),
    (_pixel_out_of_range, "got dtype int64, values 300..300"),
    (_label_count, "4 rows of data but 'labels' has shape (3,)"),
    (_label_out_of_range, "labels must be integers 0..9, found [10]"),
    (_negative_label, "labels must be integers 0..9, found [-1]"),
]


@pytest.mark.parametrize("breaker, words", BROKEN_FILES, ids=lambda x: getattr(x, "__name__", ""))
def test_broken_file_gives_error_naming_it(fake_root, breaker, words):
    name = breaker(fake_root)
    with pytest.raises(du.CifarDataError) as info:
        du.load_cifar10(fake_root)
    message = str(info.value)
    assert name in message and words in message, message
    if breaker is not _missing_batch:
        assert str(fake_root / name) in message, message


def test_missing_folder_says_how_to_get_the_data(tmp_path):
    missing = tmp_path / "nowhere" / "cifar-10-batches-py"
    with pytest.raises(du.CifarDataError) as info:
        du.load_cifar10(missing)
    message = str(info.value)
    assert str(missing) in message and "CIFAR10_DIR" in message
    assert "python download_cifar10.py" in message and "make data" not in message  # students


def test_parent_folder_given_suggests_the_batches_folder(fake_root):
    with pytest.raises(du.CifarDataError, match="did you mean .*cifar-10-batches-py"):
        du.load_cifar10(fake_root.parent)


def test_missing_batch_file_alone_is_named(tmp_path):
    with pytest.raises(du.CifarDataError, match=re.escape(str(tmp_path / "data_batch_1"))):
        du.load_cifar_batch(tmp_path / "data_batch_1")


@pytest.mark.parametrize("kwargs, words", [
    ({"num_validation": 101}, "asked for 101 validation images but only 100"),
    ({"num_training": 91, "num_validation": 10}, "asked for 91 training images but only 90"),
    ({"num_validation": 100}, "asked for 0 training images; at least 1"),
    ({"num_validation": 10, "num_test": 21}, "asked for 21 test images but only 20"),
    ({"num_validation": -1}, "asked for -1 validation images"),
])
def test_asking_for_too_many_images_says_asked_and_available(fake_root, kwargs, words):
    with pytest.raises(du.CifarDataError) as info:
        du.get_cifar10_sequences(fake_root, **kwargs)
    assert words in str(info.value), str(info.value)


def test_default_validation_size_on_a_small_copy_is_an_error_not_a_crash(fake_root):
    with pytest.raises(du.CifarDataError, match="1000 validation images but only 100"):
        du.get_cifar10_sequences(fake_root)


# --- the real CIFAR-10 subset (skipped when absent) ----------------------------------

@pytest.fixture(scope="module")
def real():
    return du.load_cifar10(require_cifar_subset())


def test_real_subset_loads_with_expected_shapes(real):
    X_train, y_train, X_test, y_test = real
    assert X_train.shape == (5085, 32, 32, 3) and X_test.shape == (1017, 32, 32, 3)
    assert X_train.dtype == X_test.dtype == np.uint8
    for y in (y_train, y_test):
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() <= 9
        assert set(y.tolist()) == set(range(10))


def test_real_subset_looks_like_natural_images(real):
    X_train = real[0]
    # Neighbouring pixels of real photos are similar; a wrong reshape scrambles them.
    img = X_train[:200].astype(np.float64)
    across = np.abs(np.diff(img, axis=2)).mean()
    assert across < 20, across
    # The channels are correlated but not identical (R, G, B not mixed up with rows).
    assert 0 < np.abs(img[..., 0] - img[..., 2]).mean() < 60


def test_real_subset_sequences_are_finite_and_normalised():
    data = du.get_cifar10_sequences(require_cifar_subset(), num_validation=1000,
                                    dtype=np.float32)
    assert data["X_train"].shape == (4085, 32, 96)
    assert data["X_val"].shape == (1000, 32, 96)
    assert data["X_test"].shape == (1017, 32, 96)
    for key in ("X_train", "X_val", "X_test"):
        assert data[key].dtype == np.float32 and np.isfinite(data[key]).all(), key
    assert abs(float(data["X_train"].mean())) < 1e-3
    assert abs(float(data["X_test"].mean())) < 0.2
