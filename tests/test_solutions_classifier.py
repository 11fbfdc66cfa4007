"""The reference RNNClassifier: loss, gradients, clipping, training and early stopping."""
import numpy as np
import pytest

from gradient_check import eval_numerical_gradient, rel_error
from rnn_classifier import RNNClassifier

PARAM_SHAPES = {"W_xh": (4, 6), "W_hh": (6, 6), "b_h": (6,), "W_hq": (6, 3), "b_q": (3,)}


def _model(**kwargs):
    """A small classifier: D=4, H=6, K=3."""
    return RNNClassifier(input_dim=4, hidden_dim=6, num_classes=3, seed=0, **kwargs)


def _data(rng, N=5, T=3, D=4, K=3):
    return rng.standard_normal((N, T, D)), rng.integers(K, size=N)


def test_init_shapes_scale_and_zero_biases():
    model = RNNClassifier(input_dim=96, hidden_dim=256, num_classes=10, seed=0)
    assert {k: v.shape for k, v in model.params.items()} == {
        "W_xh": (96, 256), "W_hh": (256, 256), "b_h": (256,), "W_hq": (256, 10), "b_q": (10,)}
    assert abs(model.params["W_xh"].std() * np.sqrt(96) - 1) < 0.05
    assert abs(model.params["W_hh"].std() * np.sqrt(256) - 1) < 0.05
    assert not model.params["b_h"].any() and not model.params["b_q"].any()


def test_scores_and_loss_shapes(rng):
    X, y = _data(rng)
    model = _model()
    assert model.loss(X).shape == (5, 3)
    loss, grads = model.loss(X, y)
    assert np.isscalar(loss)
    assert {k: g.shape for k, g in grads.items()} == PARAM_SHAPES


def test_loss_at_init_is_about_log_num_classes(rng):
    model = RNNClassifier(input_dim=96, hidden_dim=64, num_classes=10, seed=0)
    model.params["W_hq"] *= 0.01  # scores near zero -> uniform softmax
    X, y = rng.standard_normal((50, 8, 96)), rng.integers(10, size=50)
    assert abs(model.loss(X, y)[0] - np.log(10)) < 0.05


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_numeric_gradients(rng, reg):
    X, y = _data(rng)
    model = _model(reg=reg, clip=None)
    model.params["b_h"] += 0.1 * rng.standard_normal(6)
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        assert rel_error(numeric, grads[name]) < 1e-7, name


def test_clipping_bounds_gradients_and_comes_after_regularisation(rng):
    X, y = _data(rng)
    unclipped = _model(reg=50.0, clip=None)
    clipped = _model(reg=50.0, clip=0.3)
    _, g_free = unclipped.loss(X, y)
    _, g_clip = clipped.loss(X, y)
    for name in PARAM_SHAPES:
        assert np.abs(g_clip[name]).max() <= 0.3 + 1e-12
        # clip(grad + reg * W): the regularised gradient, then clipped
        np.testing.assert_allclose(g_clip[name], np.clip(g_free[name], -0.3, 0.3), atol=1e-12)
    assert any(np.abs(g).max() > 0.3 for g in g_free.values()), "case must activate clipping"


def test_float32_model_keeps_float32(rng):
    X, y = _data(rng)
    model = _model(dtype=np.float32)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert model.loss(X.astype(np.float32)).dtype == np.float32
    _, grads = model.loss(X.astype(np.float32), y)
    assert all(g.dtype == np.float32 for g in grads.values())


def test_overfits_fifty_samples(rng):
    X, y = rng.standard_normal((50, 6, 8)), rng.integers(10, size=50)
    model = RNNClassifier(input_dim=8, hidden_dim=64, num_classes=10, seed=0)
    history = model.train(X, y, X, y, learning_rate=0.5, batch_size=25, num_epochs=60,
                          patience=60, lr_decay=1.0, verbose=False)
    assert np.mean(model.predict(X) == y) >= 0.95
    assert len(history["loss"]) == 2 * len(history["val_acc"])


def test_predict_shape_for_one_sample(rng):
    assert _model().predict(rng.standard_normal((1, 3, 4))).shape == (1,)


class _ScriptedValAcc(RNNClassifier):
    """A classifier whose validation accuracy follows a script, to test early stopping."""

    def __init__(self, val_accs, **kwargs):
        super().__init__(input_dim=4, hidden_dim=6, num_classes=3, seed=0, **kwargs)
        self.val_accs, self.epoch = list(val_accs), -1

    def predict(self, X, batch_size=1000):
        if X.shape[0] == 7:  # the validation set
            self.epoch += 1
            hits = round(self.val_accs[self.epoch] * 7)
            return np.where(np.arange(7) < hits, 0, 1)  # y_val is all zeros
        return np.zeros(X.shape[0], dtype=int)


def test_early_stopping_after_patience_and_restores_best(rng):
    # Best at epoch 1 (4/7), equal at epoch 3 is not an improvement; patience 3.
    script = [2 / 7, 4 / 7, 3 / 7, 4 / 7, 1 / 7, 6 / 7, 6 / 7]
    model = _ScriptedValAcc(script)
    X, y = _data(rng, N=6)
    snapshots = []
    original_loss = model.loss

    def loss_and_snapshot(Xb, yb=None):
        if yb is not None and len(snapshots) <= model.epoch + 1:
            snapshots.append({k: v.copy() for k, v in model.params.items()})
        return original_loss(Xb, yb)

    model.loss = loss_and_snapshot
    history = model.train(X, y, np.zeros((7, 3, 4)), np.zeros(7, dtype=int),
                          learning_rate=0.1, batch_size=6, num_epochs=7, patience=3,
                          verbose=False)
    assert len(history["val_acc"]) == 5  # stopped after epochs 2, 3, 4 without improvement
    # the parameters at the end of epoch 1 = those at the start of epoch 2
    for k, v in snapshots[2].items():
        np.testing.assert_array_equal(model.params[k], v)
