"""The judges: (check, payload, reference output, student output, reference) -> Verdict.

A Verdict is the fraction of the case's points earned, feedback lines and recognised
mistakes. JUDGES is keyed by the kind of a check, like validate.RULES (the rules its
reply is checked with first) and child/functions.KINDS (the operation it asks);
tests/test_functions.py holds the three key sets equal.
"""
import numpy as np

from autograder.judging import train_rules
from autograder.sandbox.child import functions
from autograder.judging.compare import (Line, Verdict, compare_array, compare_labels, describe,
                                relative_error)

# derived from the descriptions: a forward's gradients and its first output, by name
GRAD_NAMES = {name: grads for name, (_, _, grads) in functions.PAIRS.items()}
OUT_NAMES = {name: outs[0] for name, (_, outs, _) in functions.PAIRS.items()}


def judge_outputs(check, payload, pairs, reference) -> Verdict:
    """Compare named (expected, got) pairs; the case is right when every output is."""
    comparisons = [compare_array(name, expected, got, check.tolerance,
                                 functions.letters_of(check.target, name))
                   for name, expected, got in pairs]
    wrong = {c.name: c.reason for c in comparisons if not c.ok}
    lines = [c.message for c in comparisons]
    if wrong:
        lines.append(f"Wrong: {', '.join(wrong)}.")
    verdict = Verdict.of(len(comparisons) - len(wrong), len(comparisons), lines, wrong)
    if reference is not None and wrong:  # hints.py is instructor-only: it uses the reference
        from autograder.judging import hints
        verdict.hints = hints.recognise(check.target, payload, wrong,
                                        {name: got for name, _, got in pairs},
                                        {name: expected for name, expected, _ in pairs},
                                        reference)
    return verdict


def judge_forward(check, payload, expected, got, reference) -> Verdict:
    names = functions.OUTPUTS[payload["function"]]  # the first output, then any more
    pairs = list(zip(names, [expected["out"], *expected.get("more", [])],
                     [got["out"], *got.get("more", [])]))
    verdict = judge_outputs(check, payload, pairs, reference)
    return _no_overflow(_purity(verdict, check.target, got), check.target, got)


def _no_overflow(verdict: Verdict, target: str, got) -> Verdict:
    """Fail the case where NumPy overflowed and the contract forbids it (the LSTM): "no
    overflow" is one more part of the case (per-part credit counts it too)."""
    if "overflow" not in got:  # not watched: the contract allows it (the RNN)
        return verdict
    verdict.total += 1
    verdict.passed += not got["overflow"]
    if got["overflow"]:
        verdict.wrong["overflow"] = "overflow"
        verdict.lines.append(f"{target} overflowed (NumPy warned: overflow encountered): "
                             "the result must come without an overflow for any values, "
                             "e.g. a sigmoid that never takes exp of a large number.")
    return verdict


def judge_backward(check, payload, expected, got, reference) -> Verdict:
    names = GRAD_NAMES[payload["function"]]
    verdict = judge_outputs(check, payload, list(zip(names, expected["grads"], got["grads"])),
                            reference)
    verdict = _no_overflow(_purity(verdict, check.target, got), check.target, got)
    differs = got.get("repeat_differs") or []
    if differs:
        verdict.wrong["repeat"] = "impure"
        verdict.lines.append(f"Called twice on the same cache, {check.target} gave a different "
                             f"{', '.join(differs)} the second time: it changes its cache (or "
                             "keeps state between calls). A backward may be called more than "
                             "once: leave the cache as the forward stored it.")
    blame_one_pass(verdict, payload["function"], check.target, names, got)
    return verdict


def _purity(verdict: Verdict, target: str, got) -> Verdict:
    """Fail the case when the graded function changed an array it was given."""
    own = [arg for function, arg in got.get("modified") or [] if function == target]
    if own:
        verdict.wrong["purity"] = "impure"
        verdict.lines.append(f"{target} changed {', '.join(own)}, which it was given: a "
                             "function must never modify its inputs (work on a copy, e.g. "
                             "a = a.copy(), or write into new arrays).")
    return verdict


def blame_one_pass(verdict, forward: str, backward: str, names, got) -> None:
    """One line saying which pass the wrong gradients point to, never both."""
    values = [n for n in names if verdict.wrong.get(n) in ("value", "nonfinite")]
    if not values:
        return
    broken = [arg for function, arg in got.get("modified") or [] if function == forward]
    if broken or got.get("shared_state"):
        verdict.blame = forward
        what = (f"changed its input {', '.join(broken)}" if broken else
                "changed an array after storing it in its cache, or stores one array for "
                "several time steps (a state updated in place, e.g. prev_h[:] = ... or "
                "prev_h += ...)")
        verdict.lines.append(f"{forward} {what}, so the cache {backward} reads is not what "
                             f"the forward pass computed: fix {forward} first (store a new "
                             "array per step, never modify the inputs).")
        return
    numeric = dict(zip(names, got.get("numeric") or []))
    checked = [n for n in values if isinstance(numeric.get(n), np.ndarray)]
    if not checked:
        return
    grads = dict(zip(names, got["grads"]))
    disagree = [n for n in checked if relative_error(numeric[n], grads[n]) > 1e-4]
    if disagree:
        # true only if the forward is right: a hint, which conclude.fix_callees_first
        # withholds when the forward fails its own tests (a right backward of a wrong
        # forward disagrees with the forward's numeric gradients too)
        verdict.blame = "backward"
        verdict.hints.append(f"{', '.join(disagree)} also disagree{'s' if len(disagree) == 1 else ''}"
                             f" with numeric gradients of your own {forward}: the bug is in "
                             f"{backward}.")
    else:
        verdict.blame = forward
        verdict.lines.append(f"The wrong gradients agree with numeric gradients of your own "
                             f"{forward}: {backward} fits your forward, so the bug is in "
                             f"{forward}.")


def judge_scores(check, payload, expected, got, reference) -> Verdict:
    verdict = judge_outputs(check, payload, [("scores", expected["scores"], got["scores"])],
                            reference)
    return _purity(verdict, check.target, got)


def judge_loss(check, payload, expected, got, reference) -> Verdict:
    names = functions.PARAM_NAMES
    # the reference returns the loss as a Python float: compare it at the case's dtype
    dtype = np.dtype(payload["init"].get("dtype", "float64"))
    pairs = [("loss", np.asarray(expected["loss"], dtype=dtype), got["loss"])]
    pairs += [(k, expected["grads"][k], got["grads"].get(k)) for k in names]
    return _purity(judge_outputs(check, payload, pairs, reference), check.target, got)


def judge_predict(check, payload, expected, got, reference) -> Verdict:
    comparison = compare_labels("labels", expected["labels"], got["labels"])
    wrong = {} if comparison.ok else {"labels": comparison.reason}
    verdict = Verdict.of(int(comparison.ok), 1, [comparison.message], wrong)
    return _purity(verdict, check.target, got)


def judge_predict_each(check, payload, expected, got, reference) -> Verdict:
    """predict on single samples, one at a time: every answer of shape (1,) and right."""
    lines, wrong = [], {}
    for i, (want, have) in enumerate(zip(expected["labels"], got["labels"])):
        comparison = compare_labels(f"predict(X[{i}:{i + 1}])", want, have)
        if not comparison.ok:
            wrong[comparison.name] = comparison.reason
            lines.append(comparison.message)
    right = len(expected["labels"]) - len(wrong)
    lines.insert(0, f"{right} of {len(expected['labels'])} single-sample predictions "
                    f"right{'' if wrong else ' ok'}")
    return Verdict.of(right, len(expected["labels"]), lines, wrong)


def judge_init(check, payload, expected, got, reference) -> Verdict:
    lines, wrong = [], {}
    rules = init_rules(payload, expected["params"], got)
    for i, (ok, message) in enumerate(rules):
        lines.append(Line(("ok    " if ok else "WRONG ") + message, ok))
        if not ok:
            wrong[f"rule {i + 1}"] = "rule"
    return Verdict.of(len(rules) - len(wrong), len(rules), lines, wrong)


def init_rules(payload, expected, got):
    """(ok, message) for each rule of the contract's initialisation."""
    keys_ok = sorted(got["keys"]) == sorted(expected)
    rules = [(keys_ok, f"params has exactly the keys {sorted(expected)} (got {got['keys']})")]
    dtype = payload["init"]["dtype"]
    for name, ref in expected.items():
        value = got["params"].get(name)
        if not isinstance(value, np.ndarray) or value.shape != ref.shape:
            rules.append((False, f"{name}: {describe(value)}; expected shape {ref.shape}"))
            continue
        if value.dtype != np.dtype(dtype):
            rules.append((False, f"{name} has dtype {value.dtype}; expected {dtype}"))
            continue
        if name.startswith("b"):
            rules.append((not value.any(), f"{name} starts at zero"))
        else:
            fan_in = ref.shape[0]
            scaled_std = float(np.std(value.astype(np.float64)) * np.sqrt(fan_in))
            rules.append((0.85 < scaled_std < 1.15 and abs(float(value.mean())) < 0.1,
                          f"{name} ~ N(0, 1) / sqrt({fan_in}): std x sqrt(fan_in) = "
                          f"{scaled_std:.2f} (expected about 1)"))
    return rules


JUDGES = {
    "forward": judge_forward,
    "backward": judge_backward,
    "init": judge_init,
    "scores": judge_scores,
    "loss": judge_loss,
    "predict": judge_predict,
    "predict_each": judge_predict_each,
    # every run of train (scripted or the overfit run) is the same operation
    "train": train_rules.judge_train,
    "overfit": train_rules.judge_overfit,
}
