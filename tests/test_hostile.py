"""Hostile submissions earn nothing and leave no trace (issue 6), nor take the machine
(issue 10).

Each attack of tests/submissions/hostile/attacks.py is graded inside a submission whose
real work is partly wrong, next to the same submission without the attack: the attack
must not raise the score (nor any test's), and nothing outside the sandbox may change
(a canary folder, the results file, no process left behind). Deadlines are shortened
with timeout_scale so that hangs cost little time here.

The attacks on the machine's resources (memory of several processes, process floods,
disk, System V shared memory, calls that never return) are graded under small limits
(SMALL) on the correct reference, next to the same submission without the attack,
which must score full marks under the same limits; see the end of the file.
"""
import dataclasses
import json
import re
import os
import pickle
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.judging import cases
from autograder.sandbox import isolation
from autograder.intake import submission
from autograder.sandbox.child import wire
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from conftest import ROOT, SOLUTIONS
from submissions.hostile.attacks import (ATTACKS, MARK, RESOURCE_ATTACKS, STALLS, Attack, build,
                                         fill_in, stall_classifier, stall_everywhere)

CONFIG = dataclasses.replace(DEFAULT, timeout_scale=0.1, time_budget=60.0)
SECRET = "rnn-hostile-test-secret-0123456789"
BY_NAME = {attack.name: attack for attack in ATTACKS}
REFERENCE_LINES = sorted({line.strip() for name in ("rnn_layers.py", "rnn_classifier.py")
                          for line in (SOLUTIONS / name).read_text().splitlines()
                          if len(line.strip()) >= 30})
CONTROL_CHARACTERS = [chr(c) for c in range(32) if c != 10] + ["\x7f", "\x9b", "\u202e"]
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")


def _record_connections(server: socket.socket, received: list) -> None:
    """Accept on server until it is closed, keeping what each connection sends first."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        received.append(conn.recv(1 << 16))
        conn.close()


class Listener:
    """A local TCP and unix socket server that records whatever reaches it."""

    def __init__(self, unix_path: Path):
        self.received = []
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(str(unix_path))
        os.chmod(unix_path, 0o777)
        self.unix.listen(8)
        self.port = self.tcp.getsockname()[1]
        for server in (self.tcp, self.unix):
            threading.Thread(target=_record_connections, args=(server, self.received),
                             daemon=True).start()

    def close(self):
        self.tcp.close()
        self.unix.close()


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _processes_with(token: str) -> list[int]:
    """Every process of the machine whose command line or name holds token."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if (token.encode() in Path(f"/proc/{entry}/cmdline").read_bytes()
                        or token in Path(f"/proc/{entry}/comm").read_text()):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _grade(folder: Path, out: Path, cli: bool, config=CONFIG, graded=None) -> dict:
    """Results as the grader writes them: via the command line, or grade() + write_json
    (then the GradingResult is appended to `graded` when given)."""
    if cli:
        env = {**os.environ, "RNN_GRADER_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
        code = ("import dataclasses, sys; from autograder.config import DEFAULT; "
                "from autograder import grade_command as g; import argparse; "
                f"cfg = dataclasses.replace(DEFAULT, timeout_scale={config.timeout_scale}); "
                f"sys.exit(g.run(argparse.Namespace(submission=sys.argv[1], output=sys.argv[2], "
                "no_colour=True), cfg))")
        done = subprocess.run([sys.executable, "-c", code, str(folder), str(out)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
        data["stdout"] = done.stdout
        return data
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNN_GRADER_SECRET", SECRET)
        result = grade(folder, config)
    if graded is not None:
        graded.append(result)
    result.write_json(out)
    return json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The partly wrong submission without any attack, graded once (both ways)."""
    tmp = tmp_path_factory.mktemp("base")
    folder = build(tmp / "submission", None, {})
    return {cli: _grade(folder, tmp / f"results-{cli}.json", cli) for cli in (False, True)}


def _control_characters(value) -> set:
    """The control characters in any string of value (results JSON, stdout)."""
    if isinstance(value, str):
        return {c for c in value if c in CONTROL_CHARACTERS}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*[_control_characters(v) for v in value])
    return set()


def _scores(data: dict) -> dict:
    return {t["name"]: t["score"] for t in data["tests"]}


# Exits, crashes and floods inside word_embedding_forward: every other test is graded in a
# fresh process, as without the attack.
COST_ONLY_THEIR_FUNCTION = ("os_exit_in_call", "segfault", "base_exception_in_call",
                            "output_flood", "forged_replies", "write_every_inherited_fd",
                            "system_exit_in_call")


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if not a.name.startswith("numeric")])
def test_attack_earns_nothing_and_leaves_no_trace(name, base, tmp_path, monkeypatch):
    """_assert_harmless; besides, on the same grading (one grading, several asserts):
    graded in this process, the student process is closed once, in grade()'s finally,
    before the results exist, and no supervisor is left; the attacks of
    COST_ONLY_THEIR_FUNCTION lose only the tests of word_embedding_forward/backward."""
    from autograder.sandbox import process as sandbox

    closed, original = [], sandbox.StudentProcess.close

    def close(self):
        original(self)
        closed.append(self.proc)
    monkeypatch.setattr(sandbox.StudentProcess, "close", close)
    graded = []
    data = _assert_harmless(BY_NAME[name], base, tmp_path, graded=graded)
    if not BY_NAME[name].cli:
        assert closed == [None] and sandbox._SUPERVISORS == set()
    if name in COST_ONLY_THEIR_FUNCTION:
        scores, reference = _scores(data), _scores(base[False])
        changed = {k.split(":")[0] for k in scores if scores[k] != reference[k]}
        assert changed <= {"word_embedding_forward", "word_embedding_backward"}, changed
        assert all(scores[k] == 0 for k in scores if k.startswith("word_embedding_forward"))
    if name == "system_exit_in_call":  # a fresh process after it: honest work is kept
        tests = graded[0].tests
        assert all(t.score == t.max_score for t in tests if t.target == "rnn_forward")
        assert all(t.status == "error" for t in tests if t.target == "word_embedding_forward")


def _assert_harmless(attack, base, tmp_path, classifier_code: str = "", graded=None) -> dict:
    """Grade the attack next to the base submission: nothing gained, nothing changed
    outside, nothing secret shown, strict JSON (and exit 0 for the command). graded: a
    list that receives the GradingResult (graded in this process only)."""
    name = attack.name
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("untouched")
    out = tmp_path / "out" / "results.json"
    out.parent.mkdir()
    token = f"{random.randint(10**6, 10**7)}.{random.randint(10**5, 10**6)}"
    listener = Listener(tmp_path / "leak.sock")
    fill = {"OUTSIDE": outside, "OUT": out, "TOKEN": token, "PORT": listener.port,
            "UNIX": tmp_path / "leak.sock", "SOLUTIONS": SOLUTIONS, "ROOT": ROOT}
    autograder_results = Path("/autograder/results/results.json")
    before = autograder_results.exists()
    folder = build(tmp_path / "submission", attack, fill)
    if classifier_code:
        with open(folder / "rnn_classifier.py", "a") as f:
            f.write("\n\n" + textwrap.dedent(classifier_code))
    original = _snapshot(folder)
    start = time.monotonic()
    try:
        data = _grade(folder, out, attack.cli, graded=graded)
    finally:
        listener.close()
    took = time.monotonic() - start
    reference = base[attack.cli]

    # nothing unearned: no test scores more than without the attack
    assert data["score"] <= reference["score"] + 1e-9
    gained = {k: v for k, v in _scores(data).items() if v > _scores(reference)[k] + 1e-9}
    assert gained == {}, gained
    # the results are the grader's: strict JSON, the same tests, a consistent total
    assert [t["name"] for t in data["tests"]] == [t["name"] for t in reference["tests"]]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=0.011)
    if attack.cli:
        assert data["stdout"].rstrip().splitlines()[-1].startswith(
            f"Total: {data['score']:.2f} / 100.00")
    # nothing outside the sandbox changed; nothing of the submission survives
    assert _snapshot(outside) == {"canary.txt": b"untouched"}
    assert _snapshot(folder) == original
    assert autograder_results.exists() == before
    assert listener.received == []
    time.sleep(0.05)
    assert _processes_with(token) == [], "a process of the submission outlived grading"
    # nothing secret in the feedback
    text = json.dumps(data)
    assert SECRET not in text
    assert (ROOT / "autograder" / "secret.key").read_text().strip() not in text
    leaked = [line for line in REFERENCE_LINES if line in text and line not in json.dumps(reference)]
    assert leaked == []
    assert "SHADOW" not in text
    # nothing of the student's reaches a terminal or the JSON as a control character
    assert _control_characters(data) == set(), name
    assert took < 40 * _busy(CONFIG), f"{name} took {took:.0f} s"
    return data


def test_a_hang_at_import_costs_one_time_limit_not_one_per_test(tmp_path):
    folder = build(tmp_path / "s", BY_NAME["infinite_loop_at_import"], {})
    start = time.monotonic()
    result = grade(folder, CONFIG)
    took = time.monotonic() - start
    assert result.score == 0
    # at most one limit per module (limits grow on a busy machine: machine.py)
    assert took < (3 * 30 * CONFIG.timeout_scale + 5) * _busy(CONFIG), took
    assert any("did not finish within" in t.output for t in result.tests)


@pytest.mark.parametrize("name", ["numeric_backward_calling_forward",
                                  "numeric_backward_inline_forward"])
def test_numeric_gradients_in_backward_get_no_credit(name, tmp_path):
    """On the correct reference, backward functions replaced by numeric differentiation
    get nothing, with a clear message; the rest keeps its points."""
    folder = tmp_path / "s"
    build(folder, BY_NAME[name], {})
    text = (folder / "rnn_layers.py").read_text()
    text = text.replace("next_h = np.tanh(x @ Wx + prev_h @ Wh)", "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", 1)
    text = text.replace("dW[x] += dout", "np.add.at(dW, x, dout)", 1)
    (folder / "rnn_layers.py").write_text(text)
    result = grade(folder, dataclasses.replace(DEFAULT, timeout_scale=0.5))
    numeric = {"rnn_step_backward"} | ({"word_embedding_backward"} if "calling" in name else set())
    for test in result.tests:
        if test.target in numeric:
            assert test.score == 0, (test.name, test.output)
            assert "numeric gradients" in test.output or "timed out earlier" in test.output
        elif test.target in ("rnn_step_forward", "rnn_forward", "word_embedding_forward",
                             "RNNClassifier.loss"):
            assert test.score == test.max_score, (test.name, test.output)


def test_reference_solution_is_never_flagged_as_numeric():
    result = grade(SOLUTIONS, DEFAULT)
    assert result.score == 100
    assert not any("numeric gradients instead" in t.output for t in result.tests)


def test_symlinks_to_the_solutions_are_not_followed(tmp_path):
    folder = build(tmp_path / "s", None, {})
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        (folder / name).unlink()
        (folder / name).symlink_to(SOLUTIONS / name)
    (folder / "helper.py").symlink_to(SOLUTIONS / "rnn_layers.py")
    result = grade(folder, CONFIG)
    assert result.score == 0
    assert "missing" in result.output


def test_the_student_process_sees_no_secret_no_reference_and_no_other_process(tmp_path):
    """Ask the student process what it can see, through an exception message."""
    probe = '''
        import gc, os, sys
        seen = {
            "secret_env": [k for k in os.environ if "SECRET" in k or "RNN" in k],
            "reference_modules": sorted(str(getattr(m, "__file__", "")) for m in
                list(sys.modules.values()) if "solutions" in str(getattr(m, "__file__", ""))
                or "reference" in getattr(m, "__name__", "")),
            "solutions_readable": os.path.exists("{SOLUTIONS}/rnn_layers.py"),
            "secret_readable": os.access("{ROOT}/autograder/secret.key", os.R_OK),
            "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "uid": os.getuid(), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
        }
        raise RuntimeError("SEEN" + repr(seen))
    '''
    from submissions.hostile.attacks import Attack
    folder = build(tmp_path / "s", Attack("probe", "call", probe),
                   {"SOLUTIONS": SOLUTIONS, "ROOT": ROOT})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNN_GRADER_SECRET", SECRET)
        result = grade(folder, CONFIG)
    message = next(t.output for t in result.tests if "SEEN" in t.output)
    seen = eval(message[message.index("SEEN") + 4:].splitlines()[0])  # our own repr
    assert seen["secret_env"] == [] and seen["reference_modules"] == []
    # stdin, stdout, stderr, the two protocol pipes, the listing itself, sys.stdin
    assert len(seen["fds"]) <= 7, seen["fds"]
    if os.geteuid() == 0:
        assert seen["uid"] == isolation.student_ids(CONFIG)[0] != 0
        assert not seen["solutions_readable"] and not seen["secret_readable"]
        assert len(seen["processes"]) <= 3, seen["processes"]  # a private PID namespace


def test_the_reference_is_never_loaded_in_the_student_process():
    from autograder.sandbox.child import worker as worker_module  # noqa: F401 (the child's own code)
    source = "".join(p.read_text() for p in (ROOT / "autograder" / "sandbox" / "child").glob("*.py"))
    assert "reference" not in source.replace("the reference", "").replace("reference's", "") \
        or "load_reference" not in source


def test_forged_messages_are_rejected_without_unpickling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the grader unpickled data")
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(np, "load", refuse)
    good = wire.encode({"ok": np.arange(4.0)})
    header_len = int.from_bytes(good[:8], "little")
    forged = [
        good.replace(b"<f8", b"|O8"),
        good[:8] + good[8:8 + header_len].replace(b"[4]", b"[400]") + good[8 + header_len:],
        good[:8] + b'{"body": {"$pickle": "gASV"}, "arrays": []}',
        (10**9).to_bytes(8, "little") + good[8:],
        good + b"trailing",
        pickle.dumps({"ok": 1}),
        b"",
    ]
    for message in forged:
        with pytest.raises(wire.WireError):
            wire.decode(message)


def test_without_root_or_namespaces_the_backstops_still_apply(tmp_path):
    """Isolation off (what an unprivileged grader without user namespaces gets): the
    daemons are still killed, exits still cost only their tests."""
    config = dataclasses.replace(CONFIG, student_user=None, namespaces=False)
    token = f"{random.randint(10**6, 10**7)}.25"
    folder = build(tmp_path / "s", BY_NAME["threads_atexit_and_daemons"],
                   {"OUTSIDE": tmp_path / "nowhere", "TOKEN": token})
    result = grade(folder, config)
    assert result.score <= 100
    time.sleep(0.05)
    assert _processes_with(token) == []


def test_submission_prepare_ignores_symlinks_and_escaping_zip_entries(tmp_path):
    import zipfile
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.py", "x = 1")
        zf.writestr("/abs/escaped.py", "x = 1")
        zf.writestr("rnn_layers.py", "x = 1")
        info = zipfile.ZipInfo("rnn_classifier.py")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, str(SOLUTIONS / "rnn_classifier.py"))
    folder, _, notes = submission.prepare(archive, tmp_path / "work")
    assert not (tmp_path / "escaped.py").exists() and not Path("/abs/escaped.py").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["rnn_layers.py"]


# ---- issue 10: replies, budget, replay, inert text ------------------------------------------

def _forged(header_expression: str, tail: str = "b''") -> str:
    """Code that writes one forged reply (a wire header built by the expression, then
    raw bytes) on the reply pipe, then ends the process."""
    return f'''
        import fcntl, os, stat, struct
        header = ({header_expression}).encode()
        message = struct.pack("<Q", len(header)) + header + {tail}
        for fd in range(3, 64):  # the reply pipe: the one write-only pipe above stderr
            try:
                if (stat.S_ISFIFO(os.fstat(fd).st_mode)
                        and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY):
                    os.write(fd, len(message).to_bytes(8, "little") + message)
            except OSError:
                pass
        os._exit(0)
        '''


def _out(value: str) -> str:
    return '\'{"body": {"$dict": {"ok": {"$dict": {"out": ' + value + '}}}}, "arrays": \''


FORGED = (
    Attack("forged_deep_nesting", "call", _forged(
        "'{\"body\": ' + '[' * 100000 + ']' * 100000 + ', \"arrays\": []}'"), cli=True),
    Attack("forged_huge_integer", "call", _forged(
        _out("1' + '0' * 400 + '") + " + '[]}'"), cli=True),
    Attack("forged_float_beyond_range", "call", _forged(_out("1e400") + " + '[]}'"), cli=True),
    Attack("forged_infinite_shape", "call", _forged(
        _out('{\"$array\": 0}') + " + '[{\"dtype\": \"<f8\", \"shape\": [Infinity]}]}'"),
        cli=True),
    Attack("forged_giant_axis", "call", _forged(
        _out('{\"$array\": 0}') + " + '[{\"dtype\": \"<f8\", \"shape\": [0, 10000000000000000000]}]}'"),
        cli=True),
    Attack("forged_many_arrays", "call", _forged(
        _out('{\"$array\": 0}') + " + '[' + ', '.join(['{\"dtype\": \"<f8\", \"shape\": [0]}'] * 300000) + ']}'"),
        cli=True),
    Attack("forged_array_of_the_wrong_shape", "call", _forged(
        _out('{\"$array\": 0}') + " + '[{\"dtype\": \"<f8\", \"shape\": [2000, 2000]}]}'",
        "b'\\\\0' * 32000000"), cli=True),
    Attack("forged_wrong_structure", "call", _forged(
        _out('{\"$dict\": {\"a\": [1, 2, {\"$type\": \"x\"}]}}') + " + '[]}'"), cli=True),
    Attack("forged_empty_array_of_giant_axes", "call", _forged(
        _out('{\"$array\": 0}') + " + '[{\"dtype\": \"<f8\", \"shape\": [2147483648, 0, 2147483648]}]}'"),
        cli=True),
    # an error whose type is an array, whose line number is a superscript digit and whose
    # message is a list: the grader reads it as data of any shape
    Attack("forged_error_of_odd_types", "call", _forged(
        '\'{"body": {"$dict": {"error": {"$dict": {"type": {"$array": 0}, '
        '"where": "rnn_layers.py:\\u00b2 in f", "message": [1, 2]}}}}, '
        '"arrays": [{"dtype": "<f8", "shape": [2]}]}\'', "b'\\0' * 16"), cli=True),
)


@pytest.mark.parametrize("name", [a.name for a in FORGED])
def test_forged_replies_of_any_shape_and_value_fail_only_their_test(name, base, tmp_path):
    attack = next(a for a in FORGED if a.name == name)
    data = _assert_harmless(attack, base, tmp_path)
    hit = [t for t in data["tests"] if t["name"].startswith("word_embedding_forward")]
    assert all(t["score"] == 0 for t in hit)
    assert not any("internal error" in t["output"] for t in data["tests"]), \
        [t["output"] for t in data["tests"] if "internal error" in t["output"]][:1]
    # the other functions are graded as without the attack
    same = {k: v for k, v in _scores(data).items() if not k.startswith("word_embedding")}
    assert same == {k: v for k, v in _scores(base[True]).items() if k in same}


def test_numeric_gradients_are_validated_before_use():
    """The student process's numeric gradients (asked to tell which pass is wrong): one
    per float argument, of its shape; none for integer indices."""
    from autograder.judging.validate import InvalidReply, validate
    rng = np.random.default_rng(0)
    payload = cases.embedding(rng)
    x, W = payload["args"]
    target = "word_embedding_backward"
    ok = validate(target, "numeric", payload, {"numeric": None}, {"numeric": [None, W * 0]})
    assert ok["numeric"][0] is None and ok["numeric"][1].shape == W.shape
    for forged in ([x.astype(float), W], [None, W[:, :1]], [None, W, W]):
        with pytest.raises(InvalidReply):
            validate(target, "numeric", payload, {"numeric": None}, {"numeric": forged})


# (name, code appended to rnn_classifier.py, the test that must fail, what it must say)
CLASSIFIER_REPLIES = (
    ("loss_of_10_to_the_400", '''
        _honest_loss = RNNClassifier.loss
        def _loss(self, X, y=None):
            if y is None:
                return _honest_loss(self, X)
            return 10 ** 400, _honest_loss(self, X, y)[1]
        RNNClassifier.loss = _loss
        ''', "RNNClassifier.loss: loss and gradients", "returned the loss as"),
    ("trained_b_q_per_sample", '''
        def _train(self, X, y, X_val, y_val, **kwargs):
            K = self.params["b_q"].shape[0]
            self.params["b_q"] = 1000.0 * np.eye(K)[y]  # (N, K): one row per sample
            return {"loss": [0.0], "train_acc": [1.0], "val_acc": [1.0]}
        RNNClassifier.train = _train
        ''', "RNNClassifier.train: overfit a small batch",
     "RNNClassifier.train returned params (when train() returned)['b_q'] of shape (20, 4); "
     "expected (K,) = (4,)"),
    ("history_of_100000_entries", '''
        _honest_train = RNNClassifier.train
        def _train(self, *args, **kwargs):
            history = _honest_train(self, *args, **kwargs)
            return {**history, "loss": [1.0] * 10 ** 5}
        RNNClassifier.train = _train
        ''', "RNNClassifier.train: SGD", "history['loss'] with 100000 entries"),
    ("grads_of_the_wrong_shape", '''
        _honest_loss = RNNClassifier.loss
        def _loss(self, X, y=None):
            if y is None:
                return _honest_loss(self, X)
            loss, grads = _honest_loss(self, X, y)
            return loss, {**grads, "W_hh": np.zeros((5000, 3))}
        RNNClassifier.loss = _loss
        ''', "RNNClassifier.loss: loss and gradients", "returned grads['W_hh'] of shape (5000, 3)"),
)


@pytest.mark.parametrize("name,code,test,says", CLASSIFIER_REPLIES,
                         ids=[r[0] for r in CLASSIFIER_REPLIES])
def test_replies_that_break_the_contract_fail_with_a_message(name, code, test, says, base,
                                                             tmp_path):
    data = _assert_harmless(Attack(name, "call", "pass", cli=True), base, tmp_path, code)
    failed = [t for t in data["tests"] if t["name"].startswith(test)]
    assert failed and all(t["score"] == 0 for t in failed), failed
    assert all(says in t["output"] for t in failed), failed[0]["output"]


def test_a_train_that_fits_the_batch_without_sgd_earns_no_overfit_points(tmp_path):
    """Full-batch steps, no shuffling, no batches: it learns the small batch (the
    reference's predict agrees), but it is not the mini-batch SGD the overfit test is
    there to show working; the scripted SGD runs say so, and the overfit test gives 0."""
    folder = build(tmp_path / "s", None, {}, bugs=False)
    with open(folder / "rnn_classifier.py", "a") as f:
        f.write(textwrap.dedent('''

            def _train(self, X, y, X_val, y_val, learning_rate=2e-3, num_epochs=200, **kw):
                for _ in range(10 * num_epochs):
                    loss, grads = self.loss(X, y)
                    for k in self.params:
                        self.params[k] -= learning_rate * grads[k]
                return {"loss": [loss], "train_acc": [1.0], "val_acc": [1.0]}
            RNNClassifier.train = _train
            '''))
    result = grade(folder, DEFAULT)
    overfit = [t for t in result.tests if t.name.startswith("RNNClassifier.train: overfit")]
    assert overfit and all(t.score == 0 for t in overfit)
    assert all("0.95) ok" in t.output and "No credit for this test" in t.output
               for t in overfit), overfit[0].output
    assert all(t.score == t.max_score for t in result.tests
               if not t.target.startswith("RNNClassifier.train"))


def test_a_timeout_fails_the_function_and_its_callers_at_once(base, tmp_path):
    """rnn_forward hangs: one time limit spent; its other cases and rnn_backward (whose
    cache it makes) fail at once; the classifier's loss and train, whose calls of it
    the grader answers (contract revision 3), keep their points; the rest is graded
    as usual."""
    folder = build(tmp_path / "s", Attack("hang", "replace", '''
        def rnn_forward(x, h0, Wx, Wh, b):
            while True:
                pass
        '''), {})
    start = time.monotonic()
    result = grade(folder, CONFIG)
    took = time.monotonic() - start
    hung = [t for t in result.tests if t.target == "rnn_forward"]
    assert sum("Did not finish within" in t.output for t in hung) == 1
    callers = [t for t in result.tests if t.target == "rnn_backward"]
    assert all(t.score == 0 and "rnn_forward timed out earlier" in t.output
               for t in callers + hung[1:]), [t.output for t in callers + hung[1:]]
    answered = [t for t in result.tests if t.target in ("RNNClassifier.loss",
                                                        "RNNClassifier.train")]
    assert answered and all(t.score == t.max_score for t in answered), [
        t.output for t in answered if t.score < t.max_score]
    reference = _scores(base[False])
    for test in result.tests:
        if test.target in ("rnn_step_forward", "rnn_step_backward", "word_embedding_forward"):
            assert test.score == reference[test.name], test.name
    assert took < 20, took


def test_call_time_limits_follow_the_reference_time():
    from autograder.judging.checks import CHECKS
    from autograder.judging.engine import call_time_limit

    check = CHECKS[0]
    config = DEFAULT
    assert config.time_budget == 60
    assert call_time_limit(check, 0.001, config) == pytest.approx(
        config.call_time_floor + config.call_time_multiple * 0.001)
    assert call_time_limit(check, 0.1, config) > call_time_limit(check, 0.001, config)
    assert call_time_limit(check, 100.0, config) == check.timeout  # the check's own cap
    fast = dataclasses.replace(config, timeout_scale=0.01)
    assert call_time_limit(check, 0.001, fast) == config.call_time_min


def _seen(result, marker="SEEN") -> str:
    """The value the submission put after `marker` in an exception message."""
    text = next(t.output for t in result.tests if marker in t.output)
    return text[text.index(marker) + len(marker):].split()[0]


def test_exception_messages_are_capped_so_inputs_cannot_be_exported(tmp_path):
    folder = build(tmp_path / "s", Attack("export", "call", '''
        import sys
        np.set_printoptions(threshold=sys.maxsize, precision=17)
        raise ValueError("SEEN " + repr(W) * 20)
        '''), {})
    result = grade(folder, CONFIG)
    for test in result.tests:
        if test.target == "word_embedding_forward":
            shown = test.output[test.output.index("SEEN"):]
            assert len(shown) <= 300 and "message too long" in shown, shown


@pytest.mark.parametrize("extra", [("answers.py", "ANSWERS = {SEEN}\n"),
                                   ("notes.txt", "{SEEN}\n")])
def test_a_resubmission_with_the_answers_meets_other_cases(tmp_path, extra):
    """Replay: hidden inputs shown in a message and handed in again never meet the same
    inputs: a file beside the graded ones never reaches the student process (the grader
    reads only the graded files, contract revision 3), and in a graded file they change
    the fingerprint that seeds the cases."""
    leak = Attack("leak", "call", 'raise ValueError(f"SEEN{float(W.flat[0])!r} ")')
    first = build(tmp_path / "first", leak, {})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNN_GRADER_SECRET", SECRET)
        seen = _seen(grade(first, CONFIG))
        assert _seen(grade(first, CONFIG)) == seen  # re-grading: the same cases
        second = build(tmp_path / "second", leak, {})
        (second / extra[0]).write_text(extra[1].replace("{SEEN}", seen))
        graded, _, _ = submission.prepare(second, tmp_path / "work")
        assert extra[0] not in {p.name for p in graded.iterdir()}
        with open(second / "rnn_layers.py", "a") as f:
            f.write(f"\n# {seen}\n")
        assert _seen(grade(second, CONFIG)) != seen


def test_control_characters_from_the_student_never_reach_the_terminal_or_json(base, tmp_path):
    """Escape codes, CR and backspaces in exception messages and in folder names: the
    report's last line is the real total, and no string of the results holds them."""
    fake = "\\x1b[1A\\x1b[2K\\rTotal: 100.00 / 100.00\\x08\\x07\\x9b2J\\u202e"
    attack = Attack("terminal_escapes", "call", f'''
        import sys
        print("{fake}"); sys.stderr.write("{fake}")
        raise ValueError("{fake}")
        ''', cli=True)
    data = _assert_harmless(attack, base, tmp_path)
    assert "Total: 100.00 / 100.00" in json.dumps(data)  # shown, but inert
    # a folder name with control characters, as the note "Graded the files in ..."
    outer = tmp_path / "outer"
    build(outer / "hw\x1b[2J\r\tX\x08", None, {})
    named = _grade(outer, tmp_path / "named.json", cli=True)
    assert named["score"] == base[True]["score"]
    assert "Graded the files in hw[2J X" in named["output"], named["output"]
    assert _control_characters(named) == set()


def test_newlines_in_student_messages_cannot_draw_report_lines(base, tmp_path):
    """An exception message is shown on one line: its newlines cannot start a fake
    "PASS ..." or "Total: ..." line of the report."""
    attack = Attack("newline_report_lines", "call", '''
        raise ValueError("oops\\n  PASS  4.00/4.00  word_embedding_forward: vectors"
                         "\\r\\nTotal: 100.00 / 100.00\\n")
        ''', cli=True)
    data = _assert_harmless(attack, base, tmp_path)
    lines = [line.strip() for t in data["tests"] for line in t["output"].splitlines()]
    assert any("Total: 100.00 / 100.00" in line for line in lines)  # shown, on its line
    assert not any(line.startswith(("Total:", "PASS")) for line in lines)


# ---- issue 10: the machine's resources ---------------------------------------------------
# Each attack of RESOURCE_ATTACKS runs in word_embedding_forward of the correct reference,
# under small limits (SMALL) so that it is quick, next to its honest twin: the same
# submission without the attack, graded under the same limits, scores full marks.

SMALL = dataclasses.replace(DEFAULT, timeout_scale=0.1, time_budget=8.0,
                            memory_cap=256 << 20, max_processes=16, tmpfs_bytes=4 << 20)
# Without cgroups: RLIMIT_NPROC x RLIMIT_AS; the address space of one process must still
# hold Python and NumPy, hence the default cap.
RLIMITS = dataclasses.replace(SMALL, cgroups=False, memory_cap=DEFAULT.memory_cap)
RESOURCE = {attack.name: attack for attack in RESOURCE_ATTACKS}
ATTACKED = {"word_embedding_forward", "word_embedding_backward"}  # the latter calls it


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """twin(config): the results of the correct reference graded under config (once),
    with "memory_peak_mib": what its student processes held at most (_MemoryWatch)."""
    graded = {}

    def results(config):
        if config not in graded:
            folder = build(tmp_path_factory.mktemp("twin") / "s", None, {}, bugs=False)
            with _MemoryWatch() as watch:
                result = grade(folder, config)
            graded[config] = _written(result, folder.parent / "results.json")
            graded[config]["memory_peak_mib"] = watch.peak
        return graded[config]
    return results


def _written(result, path: Path) -> dict:
    """The results file as the grader writes it, read back as strict JSON."""
    result.write_json(path)
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c))


def _token() -> str:
    return str(random.randint(10**6, 10**7 - 1))  # "rnn" + 7 digits: a 10-character name


def _limits(limit: str):
    """SMALL with a cgroup for the whole tree, or the rlimit fallback."""
    if limit == "rlimit":
        return RLIMITS
    from autograder.sandbox.limits import TreeLimit
    tree = TreeLimit.create(SMALL.memory_cap, SMALL.max_processes)
    caps = tree.caps if tree is not None else set()
    if tree is not None:
        tree.remove()
    if caps != {"memory", "pids"}:
        pytest.skip("no cgroup with the memory and pids controllers is writable here "
                    "(optional: the rlimit fallback is tested instead)")
    return SMALL


def _mode(mode: str):
    """SMALL in that isolation mode. In "user" a fresh student process preloads many
    modules (for uid 65534): on a busy machine its import takes more than call_time_min."""
    config = dataclasses.replace(SMALL, isolation=mode,
                                 call_time_min=2.0 if mode == "user" else SMALL.call_time_min)
    chosen, why_not = isolation.choose(config)
    if chosen != mode:
        pytest.skip(f"isolation mode {mode} is not available on this machine: {why_not}")
    return config


def _assert_contained(result, honest: dict, token: str, tmp_path: Path, children: set) -> dict:
    """Graded next to its honest twin: the twin scores full marks; the results file is
    strict JSON with every test and a consistent total; no test scores more than the
    twin's, every function but the attacked one scores as the twin, the attacked one
    scores 0 (the attack did run); no process of the submission is left."""
    from autograder.sandbox import process as sandbox
    from autograder.sandbox.child import jail

    data = _written(result, tmp_path / "results.json")
    assert honest["score"] == 100, [t["output"] for t in honest["tests"]
                                    if t["score"] < t["max_score"]]
    assert [t["name"] for t in data["tests"]] == [t["name"] for t in honest["tests"]]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=0.011)
    scores, full = _scores(data), _scores(honest)
    changed = {name.split(":")[0] for name in scores if scores[name] != full[name]}
    assert changed <= ATTACKED, "\n".join(f"{t['name']}: {t['output']}" for t in data["tests"]
                                          if t["name"].split(":")[0] in changed - ATTACKED)
    assert all(scores[k] == 0 for k in scores if k.startswith("word_embedding_forward"))
    time.sleep(0.05)
    assert _processes_with(f"rnn{token}") == [], "a process of the submission outlived grading"
    assert sandbox._SUPERVISORS == set()
    assert jail.children() <= children, _describe(jail.children() - children)
    return data


def _describe(pids) -> list[str]:
    """name, state and parent of each process (for a failure message)."""
    found = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            state_and_parent = " ".join(stat.rsplit(")", 1)[1].split()[:2])
            found.append(f"{stat[:stat.rindex(')') + 1]} {state_and_parent}")
        except OSError:
            found.append(f"{pid} (gone)")
    return found


class _Sampling:
    """A block during which a thread calls self._sample() every `interval` seconds."""
    interval = 0.02

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.interval):
            self._sample()


class _MemoryWatch(_Sampling):
    """The peak of the memory (MiB) that every process below this one holds of its own
    (anonymous and shared memory, not the program's files, which the cgroup does not
    charge to it), sampled every 20 ms while the block runs: what the student processes
    took of the host's memory."""
    peak = 0

    def _sample(self):
        self.peak = max(self.peak, sum(_own_memory_kib(pid) for pid in _descendants()) >> 10)


def _descendants(root: int | None = None) -> list[int]:
    children = {}
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [root or os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def _own_memory_kib(pid: int) -> int:
    """Anonymous and shared memory of pid, proportional (Pss_Anon + Pss_Shmem: pages
    shared after a fork are split among the processes, not counted in each); where the
    kernel does not say (before 5.x), resident (RssAnon + RssShmem)."""
    for name, fields in (("smaps_rollup", ("Pss_Anon:", "Pss_Shmem:")),
                         ("status", ("RssAnon:", "RssShmem:"))):
        try:
            lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
        except OSError:
            return 0
        found = [int(line.split()[1]) for line in lines if line.startswith(fields)]
        if len(found) == len(fields):
            return sum(found)
    return 0


@pytest.mark.parametrize("limit", ["cgroup", "rlimit"])
@pytest.mark.parametrize("name", [n for n in RESOURCE if n.startswith("memory_in_")])
def test_processes_together_stay_under_the_memory_cap(name, limit, twin, tmp_path):
    """Six forks, multiprocessing processes or threads, each asking for 5/8 of the
    grading's memory cap: together they never hold more than the cap, yet the processes
    clearly more than the honest twin (the measure sees them); then they are killed, and
    only the attacked function loses points."""
    from autograder.sandbox.child import jail

    config, token = _limits(limit), _token()
    cap = config.memory_cap >> 20
    folder = build(tmp_path / "s", RESOURCE[name], {"TOKEN": token, "N": 6, "MB": cap * 5 // 8},
                   bugs=False)
    children = jail.children()
    with _MemoryWatch() as watch:
        result = grade(folder, config)
    _assert_contained(result, twin(config), token, tmp_path, children)
    # the watch reads one process after another, not all at one instant: memory that
    # moves between processes meanwhile (one exits, another allocates) can be counted
    # twice, so it may overshoot (by 38 MiB seen once with 1/8 allowed); without the cap
    # the attack takes 960 MiB, so a quarter of slack still shows the cap at work
    assert watch.peak <= cap + cap // 4, f"the student processes held {watch.peak} MiB"
    if name != "memory_in_threads":  # threads share one address space, whose limit (and,
        # without cgroups, the thread count) stops them at a varying point, maybe at once
        honest = twin(config)["memory_peak_mib"]
        assert watch.peak >= honest + 16, f"the attack held {watch.peak} MiB, the twin {honest}"


@pytest.mark.parametrize("mode", ["bwrap", "jail", "user"])
def test_shared_memory_segments_do_not_outlive_the_grading(mode, twin, tmp_path):
    """System V shared memory stays in the kernel after the processes that made it,
    unless their IPC namespace ends with them (bwrap, jail) or the grader removes it
    ("user"). Six segments of 32 MiB, filled and detached (held by no process): after
    grading, the host's shared memory is what it was and no segment of them is left."""
    from autograder.sandbox.child import jail

    config, token, n, mib = _mode(mode), _token(), 6, 32
    folder = build(tmp_path / "s", RESOURCE["sysv_shared_memory_left_behind"],
                   {"TOKEN": token, "N": n, "MB": mib}, bugs=False)
    children, before = jail.children(), _shared_memory_mib()
    keys = {int(token) + i for i in range(n)}
    try:
        result = grade(folder, config)
        _assert_contained(result, twin(config), token, tmp_path, children)
        assert int(_seen(result)) >= n // 2, _seen(result)  # the attack did fill segments
        # the kernel frees a dead namespace's segments a moment later: wait for it
        end = time.monotonic() + 10
        while _shared_memory_mib() - before >= n * mib // 2 and time.monotonic() < end:
            time.sleep(0.2)
        assert _shared_memory_mib() - before < n * mib // 2, (before, _shared_memory_mib())
        assert _segments(keys) == []
    finally:  # a grader with the hole must not leave the memory taken on this machine
        for shmid in _segments(keys):
            subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True)


@pytest.mark.parametrize("mode", ["bwrap", "jail", "user"])
def test_posix_message_queues_do_not_outlive_the_grading(mode, twin, tmp_path):
    """POSIX message queues stay in the kernel after the processes that made them,
    unless their IPC namespace ends with them (bwrap, jail). The student process may
    make none in any mode (RLIMIT_MSGQUEUE 0; without it, "user" left them all here).
    After grading, no queue of the attack's names exists here."""
    from autograder.sandbox.child import jail

    config, token, n = _mode(mode), _token(), 4
    folder = build(tmp_path / "s", RESOURCE["posix_message_queue_left_behind"],
                   {"TOKEN": token, "N": n}, bugs=False)
    children = jail.children()
    names = [f"/rnn{token}-{i}" for i in range(n)]
    try:
        result = grade(folder, config)
        _assert_contained(result, twin(config), token, tmp_path, children)
        assert _seen(result) == "0"  # the attack ran, and made no queue
        assert [name for name in names if _queue_exists(name)] == []
    finally:  # a grader with the hole must not leave them on this machine
        for name in names:
            _mq("mq_unlink")(name.encode())


def _mq(function: str):
    import ctypes
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), function)
    except AttributeError:  # glibc before 2.34
        return getattr(ctypes.CDLL("librt.so.1", use_errno=True), function)


def _queue_exists(name: str) -> bool:
    fd = _mq("mq_open")(name.encode(), os.O_RDONLY)
    if fd >= 0:
        _mq("mq_close")(fd)
    return fd >= 0


def _segments(keys: set) -> list[int]:
    """The ids of the System V shared memory segments (this IPC namespace) with these keys."""
    rows = [line.split() for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    return [int(row[1]) for row in rows if int(row[0]) in keys]


def _busy(config) -> float:
    """The factor by which the grader stretched its limits on this machine just now."""
    from autograder.sandbox import machine

    return machine.slowness(config)


def _shared_memory_mib() -> int:
    """The machine's shared memory (tmpfs and System V segments of every namespace)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) >> 10
    return 0


@pytest.mark.parametrize("limit", ["cgroup", "rlimit"])
@pytest.mark.parametrize("name", ["fork_flood_detached", "thread_flood", "fork_bomb"])
def test_a_process_flood_stops_at_the_cap_and_leaves_nothing(name, limit, twin, tmp_path):
    """Forks that detach (setsid), threads, a tree of forks: each tries four times the
    process cap of the grading. It stops at the cap (the count the attack reports),
    grading goes on with valid results, and nothing of it is left."""
    from autograder.sandbox.child import jail

    config, token = _limits(limit), _token()
    cap = config.max_processes if limit == "cgroup" else config.fallback_processes
    folder = build(tmp_path / "s", RESOURCE[name], {"TOKEN": token, "N": 4 * cap},
                   bugs=False)
    children = jail.children()
    result = grade(folder, config)
    _assert_contained(result, twin(config), token, tmp_path, children)
    if name != "fork_bomb":  # the bomb never returns: its call times out
        assert int(_seen(result)) < cap, _seen(result)


@pytest.mark.parametrize("mode", ["bwrap", "jail", "user"])
def test_disk_filling_stays_in_the_sandbox(mode, twin, tmp_path):
    """1 MiB files until a write fails, into its own folder, /tmp, /dev/shm, /var/tmp,
    home and a folder outside: at most the tmpfs caps are written, the submission
    folder the grader was given is unchanged, and no file of it is left anywhere."""
    from autograder.sandbox.child import jail

    config, token = _mode(mode), _token()
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = build(tmp_path / "s", RESOURCE["disk_filling"],
                   {"TOKEN": token, "MB": 64, "OUTSIDE": outside}, bugs=False)
    original, children = _snapshot(folder), jail.children()
    places = [Path(p) for p in ("/tmp", "/dev/shm", "/var/tmp", Path.home())] + [outside]
    try:
        result = grade(folder, config)
        _assert_contained(result, twin(config), token, tmp_path, children)
        written = eval(_seen(result))  # our own repr: {place: bytes written}
        assert sum(written.values()) <= 3 * config.tmpfs_bytes, written  # the three tmpfs
        assert _snapshot(folder) == original
        assert [str(p) for place in places for p in place.glob(f"fill-{token}-*")] == []
    finally:  # a grader with the hole must not leave the files on this machine
        for place in places:
            for path in place.glob(f"fill-{token}-*"):
                path.unlink()


@pytest.mark.parametrize("how", sorted(STALLS))
def test_a_submission_slow_in_every_call_is_done_within_the_budget(how, twin, tmp_path):
    """Every function and method sleeps, or spins ignoring every catchable signal: one
    time limit per function (1 s here) would add up to more than the time budget (3 s
    here), which ends grading, with a valid results file listing every test at 0, and
    no process left."""
    from autograder.sandbox import process as sandbox
    from autograder.sandbox.child import jail

    # the budget's own mechanism, so no stretching on a busy machine (max_load_scale 1);
    # the time the whole grading may take still allows for the load
    config = dataclasses.replace(SMALL, time_budget=3.0, max_load_scale=1.0)
    token = _token()
    folder = build(tmp_path / "s", stall_everywhere(how), {"TOKEN": token}, bugs=False)
    with open(folder / "rnn_classifier.py", "a") as f:
        f.write("\n\n" + stall_classifier(how, {"TOKEN": token}))
    children = jail.children()
    start = time.monotonic()
    result = grade(folder, config)
    took = time.monotonic() - start
    assert took < (config.time_budget + 2) * _busy(SMALL), took
    data = _written(result, tmp_path / "results.json")
    assert [t["name"] for t in data["tests"]] == [t["name"] for t in twin(SMALL)["tests"]]
    assert all(t["score"] == 0 for t in data["tests"])
    outputs = [t["output"] for t in data["tests"]]
    # the call_time_min of 1 s, longer on a busy machine (machine.py)
    assert any(re.search(r"Did not finish within \d+(\.\d)? s", o) for o in outputs)
    assert any("timed out earlier" in o for o in outputs)
    assert any("time budget ran out" in o for o in outputs)
    time.sleep(0.05)
    assert _processes_with(f"rnn{token}") == []
    assert jail.children() <= children and sandbox._SUPERVISORS == set()


def test_a_case_and_its_explanation_share_one_time_limit(tmp_path, monkeypatch):
    """A wrong backward is explained with numeric gradients of the student's own forward,
    asked within what is left of the case's time limit, not within a second one: a
    forward slow only when called many times cannot double every case's time."""
    from autograder.judging import run_cases as grade_module
    folder = build(tmp_path / "s", None, {}, bugs=False)
    with open(folder / "rnn_layers.py", "a") as f:
        f.write(textwrap.dedent('''

            import time as _time
            _honest_forward, _honest_backward = rnn_step_forward, rnn_step_backward
            _calls = [0]
            def rnn_step_forward(*args):
                _calls[0] += 1
                if _calls[0] > 4:  # the many forwards of numeric gradients
                    _time.sleep(0.3)
                return _honest_forward(*args)
            def rnn_step_backward(dnext_h, cache):
                _calls[0] = 0
                _time.sleep(0.3)
                return tuple(2 * g for g in _honest_backward(dnext_h, cache))
            '''))
    took, original = [], grade_module.run_case

    def timed(check, case, *args, **kwargs):
        start = time.monotonic()
        result = original(check, case, *args, **kwargs)
        if check.target == "rnn_step_backward":
            took.append((time.monotonic() - start, kwargs["time_limit"], case.label))
        return result
    monkeypatch.setattr(grade_module, "run_case", timed)
    grade(folder, dataclasses.replace(DEFAULT, timeout_scale=0.1))
    assert took and all(seconds < limit + 0.4 for seconds, limit, _ in took), took


def test_an_unprivileged_grader_refuses_before_any_student_code_runs(unprivileged_grader,
                                                                    tmp_path):
    """Not root, no user namespaces: `grade` exits 2 saying why and what to do, writes
    no results, and the submission's code never ran; with --no-isolation it does run
    (so the canary would show it), and the results are written."""
    from autograder.judging.checks import CHECKS

    canary = tmp_path / "canary"
    canary.mkdir()
    for path in (tmp_path, canary):
        path.chmod(0o777)
    folder = tmp_path / "s"  # runs at import, then ends its process: quick to grade
    folder.mkdir()
    (folder / "rnn_layers.py").write_text(f'open("{canary}/ran", "w").write("x")\n'
                                          "raise SystemExit\n")
    out = tmp_path / "out" / "results.json"
    env = {**os.environ, "RNN_GRADER_SECRET": SECRET}
    command = ["grade", str(folder), "--output", str(out), "--no-colour"]
    refused = unprivileged_grader(command, env=env)
    assert refused.returncode == 2, refused.stderr
    message = refused.stderr
    assert "Refusing to grade" in message and "Why:" in message and "namespaces" in message
    for what_to_do in ("root", "container", "Gradescope", "--no-isolation"):
        assert what_to_do in message, message
    assert not out.exists() and not (canary / "ran").exists()
    ran = unprivileged_grader(command + ["--no-isolation"], env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (canary / "ran").exists()
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert data["score"] == 0 and len(data["tests"]) == sum(len(c.cases) for c in CHECKS)


# ---- issue 19: nobody outside the sandbox, in any mode -----------------------------------
# Written as a student out to cheat would, in word_embedding_forward of the correct
# reference, next to its honest twin (full marks under the same settings). The student
# process's uid outside is read by the test from the host's /proc while the attack runs
# (from inside, /proc/self/uid_map shows only its parent namespace: bwrap's nested one
# prints "65534 0 1" whoever started it).

ISOLATED = ["bwrap", "jail", "user"]
HOST_SYSCTLS = ("/proc/sys/fs/file-max", "/proc/sys/kernel/core_pattern")
HOST_SETTINGS = Attack("host_sysctls", "call", MARK + textwrap.dedent("""
    import builtins, os, time
    wrote = []
    for path in {SYSCTLS}:
        try:
            with open(path) as f:
                value = f.read()
            with open(path, "w") as f:  # its own value: harmless, should it get through
                f.write(value)
            wrote.append(path)
        except OSError:
            pass
    def _mounted(path):
        try:
            return "ro" if os.statvfs(path).f_flag & 1 else "rw"
        except OSError:
            return "absent"
    uid_map = "/".join(open("/proc/self/uid_map").read().split())
    if not getattr(builtins, "_rnn_looked_at", False):
        builtins._rnn_looked_at = True
        time.sleep(0.5)  # the test looks at this process from the host meanwhile
    raise RuntimeError(f"SEEN wrote={','.join(wrote) or '-'};map={uid_map};"
                       f"sys={_mounted('/sys/kernel')};procsys={_mounted('/proc/sys/kernel')} ")
    """))


class _HostView(_Sampling):
    """What the host sees of every process named rnn{token} (MARK) while the block runs:
    {pid: (real, effective, saved, filesystem uid)}, sampled every 5 ms."""
    interval = 0.005

    def __init__(self, token: str):
        self.token, self.uids = f"rnn{token}", {}

    def _sample(self):
        for pid in _processes_with(self.token):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next(x for x in status.splitlines() if x.startswith("Uid:"))
            self.uids[pid] = tuple(int(u) for u in line.split()[1:])


def _graders_own_uids() -> set[int]:
    """Owners of the grader's files and of the grader process: none may be the student
    outside (as root; a grader that is not root has no other uid to give it)."""
    owners = {ROOT.stat().st_uid, (ROOT / "autograder").stat().st_uid, os.geteuid()}
    if (ROOT / ".git").exists():
        owners.add((ROOT / ".git").stat().st_uid)
    return owners if os.geteuid() == 0 else {0}


@pytest.mark.parametrize("mode", ISOLATED)
def test_the_student_is_nobody_outside_and_cannot_write_host_sysctls(mode, twin, tmp_path):
    """A submission writes host-wide kernel settings with their own values
    (fs.file-max, kernel.core_pattern) and reports its uid map and how /sys and
    /proc/sys are mounted: no write gets through; seen from the host its process has
    no uid 0 nor the uid of the grader's files; with a private root (bwrap, jail) /sys
    is absent and /proc/sys read-only."""
    from autograder.sandbox.child import jail

    config, token = _mode(mode), _token()
    folder = build(tmp_path / "s", HOST_SETTINGS,
                   {"TOKEN": token, "SYSCTLS": HOST_SYSCTLS}, bugs=False)
    children = jail.children()
    with _HostView(token) as host:
        result = grade(folder, config)
    _assert_contained(result, twin(config), token, tmp_path, children)
    seen = dict(part.split("=", 1) for part in _seen(result).split(";"))
    assert seen["wrote"] == "-", seen
    assert seen["map"], seen  # the attack ran and read its map
    assert host.uids, "the student process was never seen from the host"
    assert {u for uids in host.uids.values() for u in uids} & _graders_own_uids() == set(), \
        (host.uids, seen["map"])
    if mode != "user":
        assert seen["sys"] == "absent" and seen["procsys"] == "ro", seen


GRADER_UID = 64999  # an unprivileged user of no one here: the grader as a normal user
GRADE_ELSEWHERE = """
import dataclasses, json, sys
from pathlib import Path
from autograder import grade_command
from autograder.config import DEFAULT
config = dataclasses.replace(DEFAULT, **json.loads(sys.argv[3]))
args = dict(submission=Path(sys.argv[1]), output=Path(sys.argv[2]), no_colour=True)
sys.exit(grade_command.run(__import__("argparse").Namespace(**args), config))
"""
GRADING_FIELDS = ("isolation", "timeout_scale", "time_budget", "cgroups", "memory_cap",
                  "max_processes", "fallback_processes", "tmpfs_bytes", "call_time_min",
                  "allow_no_isolation")


def _grade_elsewhere(folder: Path, out: Path, config, root: Path = ROOT, preexec=None,
                     wait: bool = True):
    """`grade` (the command's code, refusal included) in a grader process of its own,
    run from `root`; wait=False: the running process (its results come later)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = {k: getattr(config, k) for k in GRADING_FIELDS}
    proc = subprocess.Popen([sys.executable, "-c", GRADE_ELSEWHERE, str(folder), str(out),
                             json.dumps(fields)], cwd="/", preexec_fn=preexec, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root),
                                 "RNN_GRADER_SECRET": SECRET},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return _results_of(proc, out) if wait else proc


def _results_of(proc, out: Path) -> dict:
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, (stdout + stderr)[-3000:]
    return json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))


def _grade_as_normal_user(folder: Path, out: Path, config) -> dict:
    """`folder` graded by a grader that runs as GRADER_UID (not root): it starts bwrap as
    itself, as on a machine where the grader is a normal user with user namespaces.
    The interpreter and the test's folders are made reachable to that user the way the
    grader does it for bwrap's process (bwrap.student_preexec)."""
    from autograder.sandbox import bwrap

    out.parent.mkdir(parents=True, exist_ok=True)
    for path in (out.parent, folder, *folder.rglob("*")):
        path.chmod(0o777 if path.is_dir() else 0o644)
    binds = [sys.base_prefix, sys.prefix, str(ROOT), str(folder), str(out.parent)]
    become = bwrap.student_preexec({"as_student": True, "sandbox_uid": GRADER_UID,
                                    "view": {"binds": binds}}, str(folder))
    proc = _grade_elsewhere(folder, out, config, preexec=become, wait=False)
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 2 and "Refusing to grade" in stderr:
        pytest.skip(f"a normal user has no {config.isolation} here (optional: user "
                    f"namespaces): {stderr.strip().splitlines()[1][:200]}")
    assert proc.returncode == 0, (stdout + stderr)[-3000:]
    return json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("bwrap"),
                    reason="needs root (to become a normal user) and bubblewrap")
@pytest.mark.parametrize("mode", ["bwrap", "jail"])
def test_a_grader_that_is_not_root_isolates_as_itself_unprivileged(mode, tmp_path):
    """The same attack, with the grader run as a normal user (GRADER_UID) with user
    namespaces: bwrap is started as that user, or the jail maps that user onto itself,
    so the student is that user outside (never root); the sysctls stay unwritten, /sys
    is absent and /proc/sys read-only; the honest twin, graded the same way, gets full
    marks."""
    # not root: no cgroup, so the rlimit fallback (RLIMITS: an address space for NumPy)
    config, token = dataclasses.replace(RLIMITS, isolation=mode), _token()
    honest = _grade_as_normal_user(build(tmp_path / "honest", None, {}, bugs=False),
                                   tmp_path / "out-honest" / "results.json", config)
    folder = build(tmp_path / "s", HOST_SETTINGS, {"TOKEN": token, "SYSCTLS": HOST_SYSCTLS},
                   bugs=False)
    with _HostView(token) as host:
        data = _grade_as_normal_user(folder, tmp_path / "out" / "results.json", config)
    assert honest["score"] == 100, [t["output"] for t in honest["tests"] if t["score"] < 1]
    changed = {k.split(":")[0] for k, v in _scores(data).items() if v != _scores(honest)[k]}
    assert changed <= ATTACKED, changed
    text = next(t["output"] for t in data["tests"] if "SEEN" in t["output"])
    seen = dict(part.split("=", 1) for part in
                text[text.index("SEEN") + 4:].split()[0].split(";"))
    assert seen["wrote"] == "-" and seen["sys"] == "absent" and seen["procsys"] == "ro", seen
    assert {u for uids in host.uids.values() for u in uids} == {GRADER_UID}, host.uids


# ---- issue 19: what mode "user" holds, and every other mode too -------------------------
# Each attack next to its honest twin, in every mode this machine offers. A neighbour is
# another grading running at the same time in a grader process of its own (as under
# `grade-all --jobs 2`), on an honest submission whose student process is named
# rnn{NEIGHBOUR} and lingers at import, so that it is there to be attacked.

SOCKETS = Attack("sockets_to_the_host", "call", MARK + textwrap.dedent("""
    import socket
    got = []
    for kind, family, kind_of, address in (
            ("tcp", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", {PORT})),
            ("udp", socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", {UDP_PORT})),
            ("abstract", socket.AF_UNIX, socket.SOCK_STREAM, "\\0{ABSTRACT}")):
        try:
            with socket.socket(family, kind_of) as s:
                s.settimeout(0.5)
                s.connect(address)
                s.sendall(b"LEAK {TOKEN}")
            got.append(kind)
        except OSError:
            pass
    raise RuntimeError(f"SEEN {','.join(got) or '-'} ")
    """))


class _Listeners:
    """TCP and UDP on 127.0.0.1 and an abstract unix socket, recording what arrives."""

    def __init__(self, token: str):
        self.received = []
        self.tcp, self.udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.unix = socket.socket(socket.AF_UNIX)
        self.abstract = f"rnn-abstract-{token}"
        self.tcp.bind(("127.0.0.1", 0))
        self.udp.bind(("127.0.0.1", 0))
        self.unix.bind("\0" + self.abstract)
        for server in (self.tcp, self.unix):
            server.listen(8)
            threading.Thread(target=_record_connections, args=(server, self.received),
                             daemon=True).start()
        threading.Thread(target=self._receive, daemon=True).start()
        self.fill = {"PORT": self.tcp.getsockname()[1], "UDP_PORT": self.udp.getsockname()[1],
                     "ABSTRACT": self.abstract, "TOKEN": token}

    def _receive(self):
        while True:
            try:
                self.received.append(self.udp.recv(1 << 16))
            except OSError:
                return

    def close(self):
        for server in (self.tcp, self.udp, self.unix):
            server.close()


def _graded_with_sockets(config, token: str, tmp_path: Path):
    listeners = _Listeners(token)
    try:
        folder = build(tmp_path / "s", SOCKETS, listeners.fill, bugs=False)
        result = grade(folder, config)
        time.sleep(0.2)  # a datagram or connection under way
    finally:
        listeners.close()
    return result, listeners.received


@pytest.mark.parametrize("mode", ISOLATED)
def test_no_socket_reaches_the_host(mode, twin, tmp_path, monkeypatch):
    """TCP and UDP to 127.0.0.1 and an abstract unix socket of the host (no file to
    protect it): nothing gets through, nothing arrives. In "user" mode only the syscall
    filter stands in the way: without it (simulated) the same attack reaches all three."""
    from autograder.sandbox import syscall_filter
    from autograder.sandbox.child import jail

    config, token = _mode(mode), _token()
    if mode == "user" and not syscall_filter.program_hex()[0]:
        pytest.skip(f"no syscall filter here: {syscall_filter.program_hex()[1]}")
    children = jail.children()
    result, received = _graded_with_sockets(config, token, tmp_path)
    _assert_contained(result, twin(config), token, tmp_path, children)
    assert _seen(result) == "-" and received == [], (_seen(result), received)
    if mode == "user":
        monkeypatch.setattr(syscall_filter, "program_hex", lambda: (None, "simulated"))
        result, received = _graded_with_sockets(config, _token(), tmp_path / "open")
        assert _seen(result) == "tcp,udp,abstract" and len(received) >= 3, _seen(result)


# it lingers 4 s at import; the command would refuse mode "user" where this checkout is
# within others' reach (test_the_graders_folders_are_out_of_reach): graded all the same
NEIGHBOUR_CONFIG = dataclasses.replace(DEFAULT, timeout_scale=3.0, allow_no_isolation=True)
HURT_THE_NEIGHBOUR = Attack("signal_and_trace_a_neighbour", "call", MARK + textwrap.dedent("""
    import ctypes, os, signal, time
    libc = ctypes.CDLL(None, use_errno=True)
    PTRACE_ATTACH, PTRACE_DETACH = 16, 17
    found = killed = traced = 0
    end = time.monotonic() + 0.5
    while not found and time.monotonic() < end:
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != "rnn{NEIGHBOUR}":
                        continue
            except OSError:
                continue
            found += 1
            if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
                traced += 1
                libc.ptrace(PTRACE_DETACH, pid, None, None)
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.01)
    child = os.fork()  # its own child: same uid, a descendant; only the filter refuses
    if child == 0:
        time.sleep(5)
        os._exit(0)
    own = int(libc.ptrace(PTRACE_ATTACH, child, None, None) == 0)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    raise RuntimeError(f"SEEN found={found};killed={killed};traced={traced};own={own} ")
    """))


def _neighbour(tmp_path: Path, mode: str):
    """(a grading under way in a process of its own, its name token, its results path),
    returned once its student process is there."""
    token = _token()
    folder = build(tmp_path / "neighbour", None, {}, bugs=False)
    with open(folder / "rnn_layers.py", "a") as f:
        f.write("\n" + fill_in(MARK, {"TOKEN": token}) + "import time\ntime.sleep(4)\n")
    out = tmp_path / "neighbour-out" / "results.json"
    proc = _grade_elsewhere(folder, out, dataclasses.replace(NEIGHBOUR_CONFIG, isolation=mode),
                            wait=False)
    end = time.monotonic() + 60
    while not _processes_with(f"rnn{token}") and proc.poll() is None:
        assert time.monotonic() < end, "the neighbour's student process never started"
        time.sleep(0.02)
    return proc, token, out


@pytest.mark.parametrize("mode", ISOLATED)
def test_a_neighbour_grading_cannot_be_signalled_or_traced(mode, twin, tmp_path):
    """While a neighbour grades an honest submission, the attack looks for its student
    process, ptrace-attaches and SIGKILLs it; then traces a child of its own. Nothing
    succeeds (a uid per grading; the filter refuses ptrace), and the neighbour scores
    full marks. Without a PID namespace ("user") the neighbour is in sight: the attack
    did find it."""
    from autograder.sandbox import syscall_filter
    from autograder.sandbox.child import jail

    # two gradings at once on a shared machine: the time budget of a whole grading
    config = dataclasses.replace(_mode(mode), time_budget=DEFAULT.time_budget)
    if not syscall_filter.program_hex()[0]:
        pytest.skip(f"no syscall filter here: {syscall_filter.program_hex()[1]}")
    proc, neighbour, out = _neighbour(tmp_path, mode)
    token, children = _token(), jail.children()
    folder = build(tmp_path / "s", HURT_THE_NEIGHBOUR, {"TOKEN": token, "NEIGHBOUR": neighbour},
                   bugs=False)
    result = grade(folder, config)
    neighbours = _results_of(proc, out)
    _assert_contained(result, twin(config), token, tmp_path, children)
    seen = dict(part.split("=") for part in _seen(result).split(";"))
    assert seen["killed"] == seen["traced"] == seen["own"] == "0", seen
    assert int(seen["found"]) >= (1 if mode == "user" else 0), seen
    assert neighbours["score"] == 100, [t["output"] for t in neighbours["tests"]
                                        if t["score"] < t["max_score"]]


READ_THE_GRADER = Attack("read_the_graders_folders", "call", MARK + textwrap.dedent("""
    import os
    got = []
    for path in {PATHS}:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(1)
            got.append(path)
        except OSError:
            pass
    raise RuntimeError(f"SEEN {len(got)} " + " ".join(got)[:200])
    """))


def _targets(root: Path) -> list[str]:
    """What a student would read of a grader installed at root: every folder it knows
    (the checkout, the repository a worktree belongs to) and the files worth stealing."""
    from autograder.sandbox.backends.user import grader_folders
    from autograder.config import Config

    config = Config(root=root, solutions_dir=root / "solutions")
    folders = [f for f in grader_folders(config) if f.is_relative_to(root)
               or f.name == ".git" or f.parent.name == "worktrees"]
    files = [root / rel for rel in (".git", ".git/HEAD", "autograder/secret.key",
                                    "solutions/rnn/rnn_layers.py", "tests/submissions/bugs.py")]
    return sorted({str(p) for p in [*folders, *files] if p.exists()})


def _copy_of_the_grader(parent: Path) -> Path:
    """The grader as an instructor installs it, in a folder others may enter: its code,
    solutions, catalog and a git repository with all of it committed."""
    root = parent / "grader"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("autograder", "solutions", "tests/submissions"):
        shutil.copytree(ROOT / part, root / part, ignore=ignore)
    (root / "autograder" / "secret.key").write_text(SECRET + "\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the grader"]):
        subprocess.run(git + args, check=True, capture_output=True)
    for path in (parent, root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_the_graders_folders_are_out_of_reach_in_user_mode(twin, tmp_path):
    """Mode "user": `grade` refuses while the grader's checkout (here a copy installed in
    a folder others may enter, with its .git) is within the student uid's reach, and
    prints the exact command; once it is run, the grading goes on, and the attack reads
    none of the checkout, its .git, the solutions, the catalog or the secret, next to
    its honest twin graded the same way."""
    config = _mode("user")
    parent = Path(tempfile.mkdtemp(prefix="rnn-grader-copy-", dir="/tmp"))
    try:
        root = _copy_of_the_grader(parent)
        targets = _targets(root)
        honest = build(tmp_path / "honest", None, {}, bugs=False)
        folder = build(tmp_path / "s", READ_THE_GRADER, {"TOKEN": _token(), "PATHS": targets},
                       bugs=False)
        proc = _grade_elsewhere(honest, tmp_path / "refused" / "r.json", config, root,
                                wait=False)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2 and "Refusing to grade" in stderr, stderr
        command = next(line.split() for line in stderr.splitlines()
                       if line.strip().startswith("chmod"))
        assert command[:3] == ["chmod", "-R", "go-rwx"] and str(root) in command, command
        subprocess.run(command, check=True)
        graded = _grade_elsewhere(honest, tmp_path / "honest-out" / "r.json", config, root)
        assert graded["score"] == 100
        data = _grade_elsewhere(folder, tmp_path / "out" / "r.json", config, root)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    text = next(t["output"] for t in data["tests"] if "SEEN" in t["output"])
    assert text[text.index("SEEN") + 4:].split()[0] == "0", (text, targets)
    changed = {k.split(":")[0] for k, v in _scores(data).items() if v != _scores(graded)[k]}
    assert changed <= ATTACKED, changed


@pytest.mark.parametrize("mode", ["bwrap", "jail"])
def test_the_graders_folders_do_not_exist_in_a_private_root(mode, twin, tmp_path):
    """bwrap and jail: the checkout this grader runs from, its .git and the repository
    it belongs to are not in the student's root at all (but for the folders on the way
    to the allow-list's own paths, the worker's code and the venv, which hold nothing
    else)."""
    from autograder.sandbox import allowlist
    from autograder.sandbox.child import jail

    config, token = _mode(mode), _token()
    view = allowlist.interpreter_view((str(isolation.CHILD_DIR),))
    on_the_way = {str(a) for p in [*view.binds, *(link for link, _ in view.links)]
                  for a in Path(p).parents}
    targets = [t for t in _targets(ROOT) if t not in on_the_way]
    folder = build(tmp_path / "s", READ_THE_GRADER, {"TOKEN": token, "PATHS": targets},
                   bugs=False)
    children = jail.children()
    result = grade(folder, config)
    _assert_contained(result, twin(config), token, tmp_path, children)
    assert _seen(result) == "0", (result, targets)
