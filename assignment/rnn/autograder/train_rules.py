"""The contract's rules for RNNClassifier.train, checked on a recorded controlled run.

classifier_ops.train_trace runs the student's train() with a scripted loss (known loss
values and gradients) and a scripted validation accuracy; each rule below reads that
record and says, in one line, whether train() did what the contract pins down.
"""
import numpy as np

from autograder.child.classifier_ops import scripted_grads
from autograder.compare import Verdict


def expected_run(val_acc, patience, num_epochs):
    """(epochs run, best epoch) under the contract's early-stopping rule."""
    best, best_epoch, waited = -1.0, 0, 0
    for epoch in range(num_epochs):
        acc = val_acc[min(epoch, len(val_acc) - 1)]
        if acc > best:
            best, best_epoch, waited = acc, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch + 1, best_epoch
    return num_epochs, best_epoch


def _same(a: dict, b: dict, tol=1e-9) -> bool:
    """Same keys, shapes and values (within tol, NaN never equal); np.allclose's test
    written out, as it is called about a thousand times per grading on small arrays."""
    if not isinstance(a, dict) or not isinstance(b, dict) or set(a) != set(b):
        return False
    return all(isinstance(a[k], np.ndarray) and isinstance(b[k], np.ndarray)
               and a[k].shape == b[k].shape and _close(a[k], b[k], tol) for k in a)


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(a - b) <= tol * (1 + np.abs(b))))


def rules(payload, got):
    """(rule, ok, message) for every rule, in the order a student would fix them."""
    kw, N = payload["train"], len(payload["y"])
    n_batches = -(-N // kw["batch_size"])
    ids, labels = got["batch_ids"], got["batch_labels"]
    epochs_run, best_epoch = expected_run(payload["val_acc"], kw["patience"], kw["num_epochs"])
    epochs = _batches_per_epoch(got)
    history = got["history"]
    out = []

    walks = bool(epochs) and all(
        len(batches) == n_batches and all(0 < len(b) <= kw["batch_size"] for b in batches)
        and np.array_equal(np.sort(np.concatenate(batches)), np.arange(N)) for batches in epochs)
    out.append(("batches", walks,
                f"each epoch uses every one of the {N} samples exactly once, in {n_batches} "
                f"non-empty batches of at most {kw['batch_size']}"))
    own_labels = len(ids) > 0 and all(np.array_equal(batch_labels, payload["y"][i])
                                       for i, batch_labels in zip(ids, labels))
    out.append(("labels", own_labels, "every sample comes with its own label"))
    orders = [np.concatenate(b) for b in epochs if len(b)]
    shuffled = len(orders) > 1 and any(not np.array_equal(o, orders[0]) for o in orders[1:])
    out.append(("shuffle", shuffled, "a fresh random order every epoch"))

    losses = history.get("loss", [])
    ok = len(losses) == len(ids) and all(float(v) == 100.0 + i for i, v in enumerate(losses))
    out.append(("loss_history", ok,
                f"history['loss'] holds the value returned by loss() at every iteration "
                f"({len(ids)} calls, {len(losses)} values)"))
    out.append(("updates", _updates_ok(payload, got),
                "every step is params[k] - lr * grads[k] with "
                "lr = learning_rate * lr_decay ** epoch"))
    out.append(_validated(got, len(epochs)))
    per_epoch = len(history.get("val_acc", [])) == len(epochs) == len(history.get("train_acc", []))
    out.append(("history_lengths", per_epoch,
                f"history['train_acc'] and ['val_acc'] have one value per epoch "
                f"({len(epochs)} epochs ran)"))
    out.append(("accuracies", per_epoch and _accuracies_ok(payload, history),
                f"history['train_acc'] is the accuracy on all {N} training samples and "
                "['val_acc'] on the whole validation set, measured after each epoch"))
    out.append(("stops", len(epochs) == epochs_run,
                f"stops after {kw['patience']} epochs without a strictly better validation "
                f"accuracy (the first epoch always counts as better): expected {epochs_run} "
                f"epochs, ran {len(epochs)}"))
    snapshots = _first_snapshot_per_epoch(got)
    restored = best_epoch in snapshots and _same(got["final"], snapshots[best_epoch])
    out.append(("restored", restored,
                f"at the end params holds a copy of the best parameters (those after epoch "
                f"{best_epoch + 1}), whether training stopped early or not"))
    return out


def _batches_per_epoch(got) -> list[list[np.ndarray]]:
    """The sample indices of each epoch's batches (epochs as the probe told them apart:
    the first batch after a validation begins the next one)."""
    epochs: list[list[np.ndarray]] = []
    if len(got["batch_epochs"]) != len(got["batch_ids"]):
        return epochs
    for ids, epoch in zip(got["batch_ids"], got["batch_epochs"]):
        if epoch < 0:  # not the probe's record
            return []
        while len(epochs) <= epoch:
            epochs.append([])
        epochs[epoch].append(ids)
    return epochs


def _validated(got, n_epochs: int):
    """Validation after every epoch's updates, the last epoch's included."""
    measured = set(got["val_epochs"])
    ok = n_epochs > 0 and all(e in measured for e in range(n_epochs))
    before = -1 in measured and not ok
    return ("validated", ok,
            "the accuracies are measured after each epoch's updates, the last epoch's "
            "included" + (" (here they were measured before the epoch's first update)"
                          if before else ""))


def _accuracies_ok(payload, history) -> bool:
    """The scripted accuracies of every epoch, the training one over the whole set."""
    N, N_val = len(payload["y"]), len(payload["y_val"])
    for e, (train, val) in enumerate(zip(history["train_acc"], history["val_acc"])):
        right = payload["train_correct"][min(e, len(payload["train_correct"]) - 1)]
        val_right = round(payload["val_acc"][min(e, len(payload["val_acc"]) - 1)] * N_val)
        if abs(float(train) - right / N) > 1e-9 or abs(float(val) - val_right / N_val) > 1e-9:
            return False
    return True


def final_is_last_epoch(payload, got) -> bool:
    """The mistake of an uncopied or unrestored best: params at the end equal those of
    the last epoch, which differ from the best epoch's (verified on this run)."""
    snapshots = _first_snapshot_per_epoch(got)
    if not snapshots:
        return False
    last = snapshots[max(snapshots)]
    _, best_epoch = expected_run(payload["val_acc"], payload["train"]["patience"],
                                 payload["train"]["num_epochs"])
    best = snapshots.get(best_epoch)
    return best is not None and not _same(best, last) and _same(got["final"], last)


def _first_snapshot_per_epoch(got) -> dict:
    snapshots = {}
    for epoch, params in zip(got["val_epochs"], got["at_val"]):
        snapshots.setdefault(epoch, params)
    return snapshots


def _updates_ok(payload, got) -> bool:
    """Parameters after iteration i = before iteration i - lr(its epoch) * scripted grads:
    those before the next iteration or, after the last one, at the validation after it
    (when there is none, the last step is not seen and not judged)."""
    kw, before, epochs = payload["train"], got["before"], got["batch_epochs"]
    if not before or len(epochs) != len(before):
        return False
    after_last = [params for epoch, params in zip(got["val_epochs"], got["at_val"])
                  if epoch == epochs[-1]]
    for i, params in enumerate(before):
        after = before[i + 1] if i + 1 < len(before) else (after_last or [None])[0]
        if after is None:
            continue
        lr = kw["learning_rate"] * kw["lr_decay"] ** epochs[i]
        grads = scripted_grads(payload["seed"], i, {k: v.shape for k, v in params.items()})
        if not _same(after, {k: params[k] - lr * grads[k] for k in params}):
            return False
    return True


def judge_train(check, payload, expected, got, reference) -> Verdict:
    results = rules(payload, got)
    reference = rules(payload, expected)
    assert all(ok for _, ok, _ in reference), f"reference fails train rules: {reference}"
    lines = [("ok    " if ok else "WRONG ") + message for _, ok, message in results]
    wrong = {rule: "rule" for rule, ok, _ in results if not ok}
    verdict = Verdict.of(sum(ok for _, ok, _ in results), len(results), lines, wrong)
    # verified: the run stopped when it should, and ends on the last epoch's values (not
    # said when the accuracies were measured before the updates: then the "best" params
    # are another epoch's, and copying and restoring may be right)
    if ("restored" in wrong and not {"stops", "validated"} & set(wrong)
            and final_is_last_epoch(payload, got)):
        verdict.hints.append(BEST_COPY_HINT)
    return verdict


BEST_COPY_HINT = (
    "Hint: at the end params holds the last epoch's values, not the best epoch's: when "
    "validation improves, store copies of the parameters ({k: v.copy() for k, v in "
    "self.params.items()}: a dict of the same arrays follows every in-place update), and "
    "put them back when training ends, whether it stopped early or ran all num_epochs.\n"
    "      提示：训练结束时参数是最后一个 epoch 的，而不是最好的：验证准确率提高时保存参数的副本"
    "（v.copy()），并在训练结束时（无论是否提前停止）恢复它们。")
