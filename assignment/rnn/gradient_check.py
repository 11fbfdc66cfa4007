"""Numeric gradients and relative errors, for checking backward passes.
数值梯度与相对误差：用来检查反向传播是否正确。

All numeric gradients are centred differences, (f(x + h) - f(x - h)) / (2 h). They
perturb x in place, one entry at a time, and always put the entry back, so that
closures such as ``lambda _: model.loss(X, y)[0]`` over ``x = model.params["W_xh"]``
work; x holds its original values again when they return.
"""
import numpy as np


def rel_error(x, y):
    """Largest relative error between x and y, max |x - y| / max(1e-8, |x| + |y|).
    相对误差；分母有下限 1e-8，避免两个都接近 0 时除以 0。"""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Numeric gradient of a scalar function f at x.

    f  a function of one argument returning a float (called as f(x))
    x  the array to differentiate with respect to (perturbed in place, restored)
    Returns grad with the shape of x.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        try:
            x[ix] = old + h
            f_plus = f(x)
            x[ix] = old - h
            f_minus = f(x)
        finally:
            x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) at x, for array-valued f.

    f   a function of one argument returning an array (called as f(x))
    x   the input array (perturbed in place, restored)
    df  the upstream gradient, with the shape of f(x)
    Returns grad with the shape of x.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        try:
            x[ix] = old + h
            pos = np.array(f(x), dtype=np.float64)
            x[ix] = old - h
            neg = np.array(f(x), dtype=np.float64)
        finally:
            x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """Compare analytic_grad with numeric gradients at a few random entries of x.

    f              scalar function of one argument (called as f(x))
    x              the array (perturbed in place, restored)
    analytic_grad  gradient with the shape of x
    Prints one line per entry and returns the largest relative error.
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        try:
            x[ix] = old + h
            f_plus = f(x)
            x[ix] = old - h
            f_minus = f(x)
        finally:
            x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = analytic_grad[ix]
        error = rel_error(numeric, analytic)
        worst = max(worst, error)
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return worst
