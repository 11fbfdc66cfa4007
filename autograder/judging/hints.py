"""Known mistakes: when a wrong output equals what a known bug would give, say so.

Each row of MISTAKES says which output of which function it explains, how to compute
what that mistake produces from the case's inputs (with the reference), and the hint
in English and Chinese. recognise() returns the hints whose prediction matches.

A hint describes the symptom and every mistake that produces it (the same outputs can
come from several: an L2 term added twice and one missing its 1/2 give the same loss);
it names one line of code only when no other mistake gives the same outputs. Each hint
is shown once per function (once_per_function()), on the first test that has it.
"""
import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from autograder.judging.compare import Hint, relative_error


@dataclass(frozen=True)
class Mistake:
    target: str  # function or method
    outputs: tuple[str, ...]  # outputs it explains
    predict: Callable  # predict(payload, reference) -> {output: value the bug gives}
    en: str
    zh: str
    applies: Callable = lambda payload: True  # cases where the prediction tells bugs apart


def _clip_off(p) -> bool:
    """Clipping off or far away: when it bites, saturated gradients hide other mistakes."""
    clip = p["init"].get("clip", 5.0)
    return clip is None or clip >= 10


def _step_tanh_from_preactivation(p, ref):
    x, prev_h, Wx, Wh, b = p["args"]
    a = x @ Wx + prev_h @ Wh + b
    da = p["dout"] * (1 - a**2)
    return {"dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dWx": x.T @ da, "dWh": prev_h.T @ da,
            "db": da.sum(0)}


def _step_tanh_prime_not_squared(p, ref):
    """tanh' written 1 - h instead of 1 - h**2."""
    x, prev_h, Wx, Wh, b = p["args"]
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    da = p["dout"] * (1 - h)
    return {"dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dWx": x.T @ da, "dWh": prev_h.T @ da,
            "db": da.sum(0)}


def _long_enough(p) -> bool:
    """T >= 3: with two steps, 'one step kept' and 'step 0 skipped' give the same sums."""
    return p["args"][0].ndim == 3 and p["args"][0].shape[1] >= 3


def _seq_single_step_contribution(p, ref):
    """dWx, dWh, db holding only step 0's or step T-1's share (= instead of +=)."""
    x, h0, Wx, Wh, b = p["args"]
    h, _ = ref.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)  # (N, T, H)
    T = h.shape[1]
    das, dprev = [None] * T, np.zeros_like(h0)
    for t in reversed(range(T)):
        das[t] = (p["dout"][:, t] + dprev) * (1 - h[:, t] ** 2)
        dprev = das[t] @ Wh.T
    h_prev = [h0] + [h[:, t] for t in range(T - 1)]
    options = {}
    for t in (0, T - 1):
        options.setdefault("dWx", []).append(x[:, t].T @ das[t])
        options.setdefault("dWh", []).append(h_prev[t].T @ das[t])
        options.setdefault("db", []).append(das[t].sum(0))
    return options


def _seq_backward_variant(p, ref, carry=True, last_only=False, derivative=None, first=0):
    """BPTT where dprev_h is not carried back (carry=False), only dh[:, -1] is used,
    tanh' is derivative(h) instead of 1 - h**2, or the loop stops before step `first`."""
    x, h0, Wx, Wh, b = p["args"]
    h, _ = ref.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)  # (N, T, H)
    T = h.shape[1]
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev = np.zeros_like(h0)
    for t in reversed(range(first, T)):
        upstream = p["dout"][:, t] if (t == T - 1 or not last_only) else 0
        slope = (1 - h[:, t] ** 2) if derivative is None else derivative(h[:, t])
        da = (upstream + (dprev if carry else 0)) * slope
        prev = h0 if t == 0 else h[:, t - 1]
        dx[:, t], dWx, dWh, db = da @ Wx.T, dWx + x[:, t].T @ da, dWh + prev.T @ da, db + da.sum(0)
        dprev = da @ Wh.T
    return {"dx": dx, "dh0": dprev, "dWx": dWx, "dWh": dWh, "db": db}


def _classifier_grads(p, ref, **changes):
    """Gradients of the reference classifier with some settings changed (e.g. reg)."""
    model = ref.rnn_classifier.RNNClassifier(**{**p["init"], **changes})
    model.params.update({k: v.copy() for k, v in p["params"].items()})
    return model.loss(p["X"], p["y"])


def _embedding_lost_repeats(p, ref):
    x, W = p["args"]
    dW = np.zeros_like(W)
    dW[x] += p["dout"]  # buffered: a repeated index keeps only one contribution
    return {"dW": dW}


def _loss_variant(p, ref, data_scale=1.0, reg_scale=1.0):
    data_loss, _ = _classifier_grads(p, ref, reg=0.0)
    weights = sum(float(np.sum(p["params"][w] ** 2)) for w in ("W_xh", "W_hh", "W_hq"))
    return data_scale * data_loss + reg_scale * 0.5 * p["init"]["reg"] * weights


def _clip_before_reg(p, ref):
    """Data gradients clipped, then reg * W added; no prediction where clipping leaves
    the data gradients unchanged (then code that never clips gives the same)."""
    _, grads = _classifier_grads(p, ref, reg=0.0)
    unclipped = _classifier_grads(p, ref, reg=0.0, clip=None)[1]
    if all(np.array_equal(grads[k], unclipped[k]) for k in grads if k.startswith("W")):
        return {}
    reg = p["init"]["reg"]
    return {k: g + reg * p["params"][k] if k.startswith("W") else g for k, g in grads.items()}


def _no_reg_gradient(p, ref):
    return _classifier_grads(p, ref, reg=0.0)[1]


def _grads_times_n(p, ref):
    """dscores not divided by N: the data gradients N times too large."""
    data = _classifier_grads(p, ref, reg=0.0, clip=None)[1]
    reg = p["init"]["reg"]
    return {k: len(p["y"]) * g + (reg * p["params"][k] if k.startswith("W") else 0)
            for k, g in data.items()}


# ---- the optional LSTM extension (gates i, f, o, g side by side in a: (N, 4H)) ----------

_GATE_ORDERS = [order for order in itertools.permutations(range(4))
                if order != (0, 1, 2, 3)]


def _gates_reordered(function: str, output_names):
    """The outputs of the reference's `function` for each other order of the four gate
    blocks (the student's block k read as gate order[k]): a list of alternatives."""
    def predict(p, ref):
        *head, Wx, Wh, b = p["args"]
        H = Wh.shape[0]
        alternatives = {name: [] for name in output_names}
        for order in _GATE_ORDERS:
            columns = np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])
            outs = getattr(ref.lstm_layers, function)(*head, Wx[:, columns], Wh[:, columns],
                                                      b[columns])
            for name, value in zip(output_names, outs):
                alternatives[name].append(value)
        return alternatives
    return predict


def _lstm_steps(p):
    """The forward of an LSTM case in its own dtype, with every step's values:
    [(x_t, prev_h, prev_c, i, f, o, g, tanh_c)] (a step case is one step)."""
    if p["function"] == "lstm_step_forward":
        x, h, c, Wx, Wh, b = p["args"]
        xs = [x]
    else:
        x, h, Wx, Wh, b = p["args"]
        xs, c = [x[:, t] for t in range(x.shape[1])], np.zeros_like(h)
    H, steps = h.shape[1], []
    for x_t in xs:
        a = x_t @ Wx + h @ Wh + b
        i, f, o = (0.5 * (1 + np.tanh(0.5 * a[:, k * H:(k + 1) * H])) for k in range(3))
        g = np.tanh(a[:, 3 * H:])
        next_c = f * c + i * g
        steps.append((x_t, h, c, i, f, o, g, np.tanh(next_c)))
        h, c = o * np.tanh(next_c), next_c
    return steps, Wx, Wh


def _lstm_grads(p, ref, cell="right", summed=True):
    """The gradients of an LSTM case when the cell state's gradient is wrong: cell =
    "no dnext_c" (the upstream dnext_c, or the dprev_c carried back in time, dropped),
    "no h path" (dc = dnext_c: the path from next_h through tanh missing), "no tanh'"
    (dnext_h * o added without tanh'(c) = 1 - tanh(c)^2); summed=False: dWx, dWh, db
    keep one step's share (step 0's and step T-1's, as alternatives)."""
    steps, Wx, Wh = _lstm_steps(p)
    step_case = p["function"] == "lstm_step_forward"
    dhs = [p["dout"][0]] if step_case else [p["dout"][:, t] for t in range(len(steps))]
    dh_next, dc_next = np.zeros_like(dhs[0]), (p["dout"][1] if step_case else np.zeros_like(dhs[0]))
    dxs, shares = [None] * len(steps), [None] * len(steps)
    for t in reversed(range(len(steps))):
        x_t, h, c, i, f, o, g, tanh_c = steps[t]
        dnext_h = dhs[t] + dh_next
        dnext_c = 0 * dc_next if cell == "no dnext_c" else dc_next
        through_h = {"no h path": 0, "no tanh'": dnext_h * o}.get(
            cell, dnext_h * o * (1 - tanh_c**2))
        dc = dnext_c + through_h
        da = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f),
                             dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g**2)], axis=1)
        dxs[t], dh_next, dc_next = da @ Wx.T, da @ Wh.T, dc * f
        shares[t] = (x_t.T @ da, h.T @ da, da.sum(0))
    if step_case:
        return {"dx": dxs[0], "dprev_h": dh_next, "dprev_c": dc_next, "dWx": shares[0][0],
                "dWh": shares[0][1], "db": shares[0][2]}
    if not summed:
        return {name: [shares[0][k], shares[-1][k]] for k, name in enumerate(("dWx", "dWh", "db"))}
    return {"dx": np.stack(dxs, axis=1), "dh0": dh_next,
            **{name: sum(s[k] for s in shares) for k, name in enumerate(("dWx", "dWh", "db"))}}


def _lstm_cell_mistakes(p, ref):
    """The three ways the cell state's gradient goes wrong, as alternatives."""
    options = [_lstm_grads(p, ref, cell) for cell in ("no dnext_c", "no h path", "no tanh'")]
    return {name: [o[name] for o in options] for name in options[0]}


def _unsaturated(p) -> bool:
    """Ordinary gate values: where half the units saturate, many gradients vanish and a
    wrong one (dh0 = 0, say) can equal what a mistake of the cell state gives."""
    return bool(np.abs(p["args"][-1]).max() < 80)


_STEP_GRADS = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
_GATE_HINT = ("The gates look taken in another order: cut a = x Wx + prev_h Wh + b (N, 4H) "
              "into a[:, :H] = i, a[:, H:2H] = f, a[:, 2H:3H] = o, a[:, 3H:] = g, in this "
              "order (the contract's, CS231n's).",
              "门的顺序不对：a = x Wx + prev_h Wh + b (N, 4H) 应依次切成 i, f, o, g 四块"
              "（a[:, :H] 是 i）。")
_CELL_HINT = ("The cell state's gradient looks incomplete: it comes by two paths, dc = "
              "dnext_c + dnext_h * o * (1 - tanh(next_c)^2); in lstm_backward dprev_c is "
              "carried back from step t+1 as dnext_c of step t.",
              "细胞状态的梯度不完整：它有两条来路，dc = dnext_c + dnext_h * o * (1 - tanh(next_c)^2)；"
              "在 lstm_backward 中，dprev_c 要从第 t+1 步传回作为第 t 步的 dnext_c。")

MISTAKES = (
    Mistake("rnn_step_backward", ("dx", "dprev_h", "dWx", "dWh", "db"),
            _step_tanh_from_preactivation,
            "tanh' looks computed from the pre-activation a: it is 1 - tanh(a)^2 = 1 - next_h^2.",
            "tanh 的导数应为 1 - next_h^2（用激活后的值），而不是 1 - a^2。"),
    Mistake("rnn_step_backward", ("dx", "dprev_h", "dWx", "dWh", "db"),
            _step_tanh_prime_not_squared,
            "tanh' is 1 - next_h**2 (squared), not 1 - next_h.",
            "tanh 的导数是 1 - next_h**2（要平方），不是 1 - next_h。"),
    Mistake("rnn_backward", ("dx", "dh0", "dWx", "dWh", "db"),
            lambda p, r: _seq_backward_variant(p, r, derivative=lambda h: 1 - h),
            "tanh' is 1 - h_t**2 (squared), not 1 - h_t.",
            "tanh 的导数是 1 - h_t**2（要平方），不是 1 - h_t。"),
    Mistake("rnn_backward", ("dWx", "dWh", "db"), _seq_single_step_contribution,
            "Only one time step's contribution is kept: the weights are shared by all steps, "
            "so their gradients must be summed over t (+=, not =).",
            "参数在所有时间步共享，梯度要对 t 求和（用 +=，不是 =）。", _long_enough),
    Mistake("rnn_backward", ("dx", "dh0", "dWx", "dWh", "db"),
            lambda p, r: _seq_backward_variant(p, r, first=1),
            "Step t = 0 is skipped: the backward loop must run over every step, down to 0 "
            "(for t in reversed(range(T))).",
            "反向循环漏掉了 t = 0：应遍历所有时间步（for t in reversed(range(T))）。",
            _long_enough),
    Mistake("rnn_backward", ("dx", "dh0", "dWx", "dWh", "db"),
            lambda p, r: _seq_backward_variant(p, r, carry=False),
            "The gradient from step t+1 is not carried back: at step t add dprev_h from "
            "step t+1 to dh[:, t] before going through tanh.",
            "第 t 步的梯度应为 dh[:, t] 加上从 t+1 步传回的 dprev_h。"),
    Mistake("rnn_backward", ("dx", "dh0", "dWx", "dWh", "db"),
            lambda p, r: _seq_backward_variant(p, r, last_only=True),
            "Only dh[:, -1] is used: every hidden state h_t receives its own upstream "
            "gradient dh[:, t].",
            "每个时间步的隐藏状态都有自己的上游梯度 dh[:, t]，不能只用最后一步。"),
    Mistake("rnn_backward", ("dh0",), lambda p, r: {"dh0": np.zeros_like(p["args"][1])},
            "dh0 is zero: return the dprev_h that comes out of step 0.",
            "dh0 应为第 0 步反向传播后得到的 dprev_h，而不是 0。"),
    Mistake("rnn_forward", ("h",),
            lambda p, r: {"h": r.rnn_layers.rnn_forward(p["args"][0], 0 * p["args"][1],
                                                        *p["args"][2:])[0]},
            "The first step ignores h0: it must start from the h0 you are given.",
            "第一步应使用传入的 h0，而不是全零。"),
    Mistake("RNNClassifier.loss", ("W_xh", "W_hh", "W_hq", "b_h", "b_q"), _grads_times_n,
            "The gradients are N times too large (the regularisation part aside): the loss "
            "is a mean, so dscores is divided by N.",
            "梯度（正则项部分除外）大了 N 倍：损失是平均值，dscores 需要除以 N。",
            lambda p: _clip_off(p) and len(p["y"]) >= 3),
    Mistake("word_embedding_backward", ("dW",), _embedding_lost_repeats,
            "Repeated indices lose their gradients: each repeated word's row of dW holds one "
            "of its gradients, not their sum (dW[x] += dout, or dW[i] = ... in a loop, writes "
            "each row once); add them all up, e.g. np.add.at(dW, x, dout).",
            "重复索引的梯度丢失了：重复出现的词的 dW 行只保留了一个梯度而不是总和"
            "（dW[x] += dout 或循环中的 dW[i] = ... 都只写一次）；请全部累加，例如 np.add.at。"),
    Mistake("RNNClassifier.loss", ("loss",), lambda p, r: {"loss": _loss_variant(p, r, len(p["y"]))},
            "The loss looks summed over the batch: the contract asks for the mean.",
            "损失应对批内样本取平均，而不是求和。"),
    Mistake("RNNClassifier.loss", ("loss",), lambda p, r: {"loss": _loss_variant(p, r, 1.0, 2.0)},
            "The loss's L2 term is reg * sum(W^2), twice reg / 2 * sum(W^2): is the "
            "regularisation added twice, or is the 1/2 missing?",
            "损失中的 L2 项是 reg * sum(W^2)，为应有值 reg / 2 * sum(W^2) 的两倍："
            "是正则项加了两次，还是缺少了 1/2？"),
    Mistake("RNNClassifier.loss", ("W_xh", "W_hh", "W_hq"), _clip_before_reg,
            "The gradients look clipped before adding reg * W: add the regularisation "
            "gradient first, then clip.",
            "应先加上正则项梯度 reg * W，再进行裁剪。"),
    Mistake("RNNClassifier.loss", ("W_xh", "W_hh", "W_hq"), _no_reg_gradient,
            "The regularisation gradient reg * W is missing from the weight gradients.",
            "权重梯度中缺少正则项梯度 reg * W。", _clip_off),
    Mistake("lstm_step_forward", ("next_h", "next_c"),
            _gates_reordered("lstm_step_forward", ("next_h", "next_c")), *_GATE_HINT,
            _unsaturated),
    Mistake("lstm_forward", ("h",), _gates_reordered("lstm_forward", ("h",)), *_GATE_HINT,
            _unsaturated),
    Mistake("lstm_step_backward", _STEP_GRADS, _lstm_cell_mistakes, *_CELL_HINT, _unsaturated),
    Mistake("lstm_backward", _SEQ_GRADS, _lstm_cell_mistakes, *_CELL_HINT, _unsaturated),
    Mistake("lstm_backward", ("dWx", "dWh", "db"),
            lambda p, r: _lstm_grads(p, r, summed=False),
            "Only one time step's contribution is kept: the weights are shared by all steps, "
            "so their gradients must be summed over t (+=, not =).",
            "参数在所有时间步共享，梯度要对 t 求和（用 +=，不是 =）。",
            lambda p: _long_enough(p) and _unsaturated(p)),
)


def recognise(target: str, payload, wrong: dict, got: dict, expected: dict,
              reference) -> list[str]:
    """Hints of the known mistakes that explain this case: every wrong output the
    mistake speaks of equals what the mistake gives (and differs from the right answer).
    wrong: output -> reason; got, expected: output -> value."""
    found = []
    for mistake in MISTAKES:
        concerned = [o for o in mistake.outputs if o in wrong]
        if mistake.target != target or not concerned or not mistake.applies(payload):
            continue
        try:
            predicted = mistake.predict(payload, reference)
        except Exception:  # noqa: BLE001  a mistake that cannot be computed for this case
            continue
        if _explains(predicted, concerned, got, expected):
            found.append(Hint(mistake.en, mistake.zh))
    return found + [_transposed(name) for name in wrong if _is_transposed(got.get(name),
                                                                         expected.get(name))]


def _is_transposed(got, expected) -> bool:
    """A square output equal to the transpose of the right one (and not to the right one):
    its shape cannot show the swap (D = H, or an (H, H) weight)."""
    if not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray):
        return False
    square = expected.ndim == 2 and expected.shape[0] == expected.shape[1] > 1
    return square and _matches(expected.T, got) and not _matches(expected, got)


def _transposed(name: str) -> Hint:
    return Hint(f"{name} is the transpose of the right {name} (square here, so its shape "
                "cannot tell): a matrix product in the wrong order, or a transpose made only "
                "when the shape does not fit?",
                f"{name} 是正确结果的转置（这里是方阵，形状看不出来）：矩阵乘法的顺序反了，"
                "还是只在形状不符时才转置？")


def _explains(predicted: dict, outputs, got: dict, expected: dict) -> bool:
    """Every listed output matches one of the mistake's predictions for it (a list holds
    alternatives taken together: option i of every output)."""
    options = {o: predicted.get(o) for o in outputs}
    if any(v is None for v in options.values()):
        return False
    counts = {len(v) for v in options.values() if isinstance(v, list)}
    for i in range(max(counts, default=1)):
        pick = {o: (v[i] if isinstance(v, list) else v) for o, v in options.items()}
        if all(_matches(pick[o], got[o]) and not _matches(pick[o], expected[o])
               for o in outputs):
            return True
    return False


def _matches(candidate, got) -> bool:
    if candidate is None or not isinstance(got, (np.ndarray, float, int)):
        return False
    candidate, got = np.asarray(candidate), np.asarray(got)
    same_kind = candidate.dtype == got.dtype or got.ndim == 0
    return (same_kind and candidate.shape == got.shape and np.all(np.isfinite(got))
            and relative_error(candidate, got) < 1e-6)


# ---- hints that need several cases of one function ------------------------------------

@dataclass(frozen=True)
class Pattern:
    """A mistake seen across the cases of one check: outputs go NaN or inf in the cases
    at one of the domain levels `markers` (checks.Case.levels, domains.py), while every
    ordinary case of the check (one that no pattern marks) passes: code that is right
    on ordinary values and breaks only on extreme ones."""
    targets: tuple[str, ...]
    markers: tuple[str, ...]  # level labels of the checks' domains
    en: str
    zh: str
    reasons: tuple[str, ...] = ("nonfinite",)  # how the marked cases' outputs are wrong


PATTERNS = (
    Pattern(("rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward"),
            ("large pre-activations",),
            "NaN or inf only where |pre-activation| is large: something computed there "
            "overflows, e.g. tanh (or its derivative) built from np.exp (past about 710 in "
            "float64, 89 in float32) or np.arctanh of a saturated h. np.tanh never "
            "overflows, and tanh' is 1 - h**2 from the output.",
            "只有预激活值很大时才出现 NaN/inf：某处溢出了，例如用 np.exp 手写的 tanh（或其导数），"
            "或对饱和的 h 取 np.arctanh。np.tanh 不会溢出，tanh' = 1 - h**2。"),
    Pattern(("RNNClassifier.loss",), ("large scores", "score rows that differ by thousands"),
            "NaN or inf only when scores are large or rows differ by thousands: subtract "
            "each row's own max before np.exp (scores.max(axis=1, keepdims=True)), not "
            "one max for the whole batch.",
            "只有得分很大或各行相差很大时才出现 NaN/inf：np.exp 之前减去每一行自己的最大值"
            "（axis=1, keepdims=True），而不是整个批次的最大值。"),
    Pattern(("RNNClassifier.loss",), ("a label scored thousands below its row's best",),
            "NaN or inf only when a label scores far below its row's best: its softmax "
            "probability underflows to 0 and log(0) is -inf. Take the log of the softmax "
            "as shifted - log(sum(exp(shifted), axis=1)), not np.log(probs).",
            "只有标签的得分远低于该行最大值时才出现 NaN/inf：其 softmax 概率下溢为 0，log(0) = -inf。"
            "请用 shifted - log(sum(exp(shifted))) 计算对数概率，而不是 np.log(probs)。"),
    Pattern(("RNNClassifier.predict",),
            ("large scores", "scores near -1000", "score rows that differ by thousands"),
            "Wrong labels only where scores are large, or rows lie thousands apart: a softmax "
            "there overflows or underflows to NaN (np.argmax of NaN rows is 0), unless each "
            "row's own max is subtracted first. The argmax of the scores themselves is the "
            "prediction: no softmax is needed.",
            "只有得分很大或各行相差数千时标签才错：softmax 在那里会上溢或下溢成 NaN"
            "（NaN 行的 np.argmax 为 0），除非先减去每一行自己的最大值。预测就是得分本身的 argmax，"
            "不需要 softmax。", reasons=("value",)),
    Pattern(("lstm_step_forward", "lstm_forward", "lstm_step_backward", "lstm_backward"),
            ("large pre-activations",),
            "An overflow (or NaN) only where the gates' pre-activations are large: a sigmoid "
            "written 1 / (1 + np.exp(-a)) overflows for a below about -89 (float32) or -710 "
            "(float64). Write it 0.5 * (1 + np.tanh(0.5 * a)), or take np.exp of -|a| only.",
            "只有门的预激活值很大时才溢出（或出现 NaN）：1 / (1 + np.exp(-a)) 在 a 很负时会溢出。"
            "请写成 0.5 * (1 + np.tanh(0.5 * a))，或只对 -|a| 取 np.exp。",
            reasons=("overflow", "nonfinite")),
)


def pattern_hints(tests) -> None:
    """Add each pattern's hint to the tests it explains (TestResult: its identity's
    function, check and levels, wrong, status): a step after judging (conclude.py)."""
    for function, check in {(t.function, t.check) for t in tests}:
        own = [t for t in tests if (t.function, t.check) == (function, check)]
        patterns = [p for p in PATTERNS if function in p.targets]
        marked = {p: [t for t in own if set(p.markers) & set(t.identity.levels)]
                  for p in patterns}
        ordinary = [t for t in own if not any(t in cases for cases in marked.values())]
        if not ordinary or any(t.status != "passed" for t in ordinary):
            continue
        for pattern, cases in marked.items():
            for test in cases:
                if set(pattern.reasons) & set(test.wrong.values()):
                    test.hints.append(Hint(pattern.en, pattern.zh))


def once_per_function(tests) -> None:
    """Each hint kept on the first test of its function that has it: a one-character bug
    tells its hint once, not once per failing case."""
    seen = set()
    for test in tests:
        own = [h for h in dict.fromkeys(test.hints) if (test.function, h) not in seen]
        seen |= {(test.function, h) for h in own}
        test.hints = own


def in_languages(hint: str, languages) -> str:
    """The hint in the instructor's languages (settings: grading.hint_languages): a
    compare.Hint's English line, its Chinese line, or both as written. A hint in one
    language only (e.g. "dWx also disagrees ...") is shown as it is."""
    if not isinstance(hint, Hint) or set(languages) >= {"en", "zh"}:
        return hint
    return f"Hint: {hint.en}" if "zh" not in languages else f"提示：{hint.zh}"
