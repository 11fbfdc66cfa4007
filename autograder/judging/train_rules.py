"""The contract's rules for RNNClassifier.train, checked on a run the grader recorded.

train_serve.TrainRun answers every loss and predict call of the student's train(), with
scripted values (known losses and gradients, a scripted validation accuracy) or with
the reference (the overfit run), and records them; each rule below reads that record
(made in the grader, never by the student process) and says, in one line, whether
train() did what the contract pins down.
"""
import numpy as np

from autograder.judging.compare import Hint, Line, Verdict


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


def rules(payload, got, val_acc=None, only=None):
    """(rule, ok, message) for every rule (or those in `only`), in the order a student
    would fix them. got: the reply (history, final) and the grader's record of the run;
    val_acc: the validation accuracy per epoch the answers gave (default: scripted)."""
    kw, N = payload["train"], len(payload["y"])
    n_batches = -(-N // kw["batch_size"])
    ids, labels = got["batch_ids"], got["batch_labels"]
    val_acc = payload["grader"]["val_acc"] if val_acc is None else val_acc
    epochs_run, best_epoch = expected_run(val_acc or [0.0], kw["patience"], kw["num_epochs"])
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
    ok = len(losses) == len(ids) and all(float(v) == served
                                         for v, served in zip(losses, got["losses"]))
    out.append(("loss_history", ok,
                f"history['loss'] holds the value returned by loss() at every iteration "
                f"({len(ids)} calls, {len(losses)} values)"))
    out.append(("updates", _updates_ok(payload, got),
                "the parameters start as given, and every change is one step "
                "params[k] - lr * grads[k] with the gradients loss returned and "
                "lr = learning_rate * lr_decay ** epoch"))
    out.append(_validated(got, len(epochs)))
    per_epoch = len(history.get("val_acc", [])) == len(epochs) == len(history.get("train_acc", []))
    out.append(("history_lengths", per_epoch,
                f"history['train_acc'] and ['val_acc'] have one value per epoch "
                f"({len(epochs)} epochs ran)"))
    if "train_correct" in payload.get("grader", {}):
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
    return [rule for rule in out if only is None or rule[0] in only]


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
    N, N_val, script = len(payload["y"]), len(payload["y_val"]), payload["grader"]
    for e, (train, val) in enumerate(zip(history["train_acc"], history["val_acc"])):
        right = script["train_correct"][min(e, len(script["train_correct"]) - 1)]
        val_right = round(script["val_acc"][min(e, len(script["val_acc"]) - 1)] * N_val)
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
    _, best_epoch = expected_run(payload["grader"]["val_acc"], payload["train"]["patience"],
                                 payload["train"]["num_epochs"])
    best = snapshots.get(best_epoch)
    return best is not None and not _same(best, last) and _same(got["final"], last)


def _first_snapshot_per_epoch(got) -> dict:
    snapshots = {}
    for epoch, params in zip(got["val_epochs"], got["at_val"]):
        snapshots.setdefault(epoch, params)
    return snapshots


def _updates_ok(payload, got) -> bool:
    """Every parameter value the grader saw, in the order of the calls: the first is the
    one the run started from, and each later one equals the one before, minus lr(its
    epoch) times the gradients answered, where that call was an iteration, else is
    unchanged (a step nobody asked for, a closed-form fit, an extra decay or clip in
    the update: all break it). The last step is judged at the validation after it."""
    kw, observed = payload["train"], got["observed"]
    if not got["batch_ids"] or not observed:
        return False
    current = payload["params"]
    for kind, epoch, params, grads in observed:
        if not _same(params, current):
            return False
        if kind == "iteration":
            lr = kw["learning_rate"] * kw["lr_decay"] ** epoch
            current = {k: params[k] - lr * grads[k] for k in params}
    return True


def judge_train(check, payload, expected, got, reference) -> Verdict:
    """A scripted run: every rule (got: the reply and the grader's record, engine)."""
    results = rules(payload, got)
    lines = [Line(("ok    " if ok else "WRONG ") + message, ok) for _, ok, message in results]
    wrong = {rule: "rule" for rule, ok, _ in results if not ok}
    verdict = Verdict.of(sum(ok for _, ok, _ in results), len(results), lines, wrong)
    # verified: accuracies measured after the updates (else the snapshots are an epoch
    # off and say nothing of the copy), the run stopped when it should, and it ends on
    # the last epoch's values
    if ("restored" in wrong and not {"stops", "validated"} & set(wrong)
            and final_is_last_epoch(payload, got)):
        verdict.hints.append(BEST_COPY_HINT)
    return verdict


SGD_RULES = ("batches", "labels", "updates", "restored")  # what the overfit run must show


def judge_overfit(check, payload, expected, got, reference) -> Verdict:
    """The overfit run, answered by the reference and recorded by the grader: credit
    only when it is the contract's SGD (batches, labels, every update, the best epoch's
    parameters returned, all as answered) and the parameters it returned classify the
    batch (the accuracy measured with the reference). Without a reference (the
    self-check) the run's own accuracy, as the student's predict measured it."""
    if reference is None:
        return _accuracy_verdict(got["own_accuracy"])
    results = rules(payload, got, got["val_acc"], only=SGD_RULES)
    lines = [Line(("ok    " if ok else "WRONG ") + message, ok) for _, ok, message in results]
    wrong = {rule: "rule" for rule, ok, _ in results if not ok}
    accuracy = _accuracy_verdict(got["accuracy"])
    if wrong:
        lines.append("No credit for this test: the accuracy counts only when train() "
                     "reached it by the contract's mini-batch SGD, with the gradients its "
                     "loss returned (the grader answered every call and checked each step).")
    verdict = Verdict.of(int(accuracy.ok and not wrong), 1, accuracy.lines + lines,
                         {**accuracy.wrong, **wrong})
    return verdict


def _accuracy_verdict(accuracy: float) -> Verdict:
    ok = accuracy >= 0.95
    line = Line(f"training accuracy after train(): {accuracy:.2f} (needs at least 0.95) "
                f"{'ok' if ok else 'WRONG'}", ok)
    return Verdict.of(int(ok), 1, [line], {} if ok else {"accuracy": "value"})


BEST_COPY_HINT = Hint(
    "at the end params holds the last epoch's values, not the best epoch's: when "
    "validation improves, store copies of the parameters ({k: v.copy() for k, v in "
    "self.params.items()}: a dict of the same arrays follows every in-place update), and "
    "put them back when training ends, whether it stopped early or ran all num_epochs.",
    "训练结束时参数是最后一个 epoch 的，而不是最好的：验证准确率提高时保存参数的副本"
    "（v.copy()），并在训练结束时（无论是否提前停止）恢复它们。")
