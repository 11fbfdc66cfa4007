"""Hostile submissions earn nothing and leave no trace (issue 6).

Each attack of tests/submissions/hostile/attacks.py is graded inside a submission whose
real work is partly wrong, next to the same submission without the attack: the attack
must not raise the score (nor any test's), and nothing outside the sandbox may change
(a canary folder, the results file, no process left behind). Deadlines are shortened
with timeout_scale so that hangs cost little time here.
"""
import dataclasses
import json
import os
import pickle
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import submission
from autograder.child import wire
from autograder.config import DEFAULT
from autograder.grade import grade
from conftest import ROOT, SOLUTIONS
from submissions.hostile.attacks import ATTACKS, build

CONFIG = dataclasses.replace(DEFAULT, timeout_scale=0.1, time_budget=60.0)
SECRET = "rnn-hostile-test-secret-0123456789"
BY_NAME = {attack.name: attack for attack in ATTACKS}
REFERENCE_LINES = sorted({line.strip() for name in ("rnn_layers.py", "rnn_classifier.py")
                          for line in (SOLUTIONS / name).read_text().splitlines()
                          if len(line.strip()) >= 30})
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")


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
            threading.Thread(target=self._serve, args=(server,), daemon=True).start()

    def _serve(self, server):
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            self.received.append(conn.recv(1 << 16))
            conn.close()

    def close(self):
        self.tcp.close()
        self.unix.close()


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if token.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _grade(folder: Path, out: Path, cli: bool, config=CONFIG) -> dict:
    """Results as the grader writes them: via the command line, or grade() + write_json."""
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
    result.write_json(out)
    return json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The partly wrong submission without any attack, graded once (both ways)."""
    tmp = tmp_path_factory.mktemp("base")
    folder = build(tmp / "submission", None, {})
    return {cli: _grade(folder, tmp / f"results-{cli}.json", cli) for cli in (False, True)}


def _scores(data: dict) -> dict:
    return {t["name"]: t["score"] for t in data["tests"]}


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if not a.name.startswith("numeric")])
def test_attack_earns_nothing_and_leaves_no_trace(name, base, tmp_path):
    attack = BY_NAME[name]
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
    original = _snapshot(folder)
    start = time.monotonic()
    try:
        data = _grade(folder, out, attack.cli)
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
    assert took < 40, f"{name} took {took:.0f} s"


def test_attacks_in_a_function_cost_only_that_function(base, tmp_path):
    """Exits, crashes and floods inside word_embedding_forward lose only the tests of
    word_embedding_forward/backward: every other test is graded in a fresh process."""
    reference = _scores(base[False])
    for name in ("os_exit_in_call", "segfault", "base_exception_in_call", "output_flood",
                 "forged_replies", "write_every_inherited_fd"):
        folder = build(tmp_path / name, BY_NAME[name], {})
        scores = _scores(_grade(folder, tmp_path / f"{name}.json", False))
        changed = {k.split(":")[0] for k in scores if scores[k] != reference[k]}
        assert changed <= {"word_embedding_forward", "word_embedding_backward"}, (name, changed)
        assert all(scores[k] == 0 for k in scores if k.startswith("word_embedding_forward"))


def test_a_hang_at_import_costs_one_time_limit_not_one_per_test(tmp_path):
    folder = build(tmp_path / "s", BY_NAME["infinite_loop_at_import"], {})
    start = time.monotonic()
    result = grade(folder, CONFIG)
    took = time.monotonic() - start
    assert result.score == 0
    assert took < 3 * 30 * CONFIG.timeout_scale + 5, took  # at most one limit per module
    assert any("did not finish within" in t.output for t in result.tests)


def test_the_global_time_budget_ends_grading(tmp_path):
    folder = build(tmp_path / "s", BY_NAME["infinite_loop_in_call_disabling_timers"], {})
    config = dataclasses.replace(DEFAULT, timeout_scale=0.2, time_budget=1.0)
    start = time.monotonic()
    result = grade(folder, config)
    assert time.monotonic() - start < 1.0 + 2 * 10 * 0.2 + 2
    assert any("time budget ran out" in t.output for t in result.tests)
    json.dumps(result.to_gradescope(), allow_nan=False)


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
            assert "numeric gradients" in test.output
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
        assert seen["uid"] == 65534
        assert not seen["solutions_readable"] and not seen["secret_readable"]
        assert len(seen["processes"]) <= 3, seen["processes"]  # a private PID namespace


def test_the_reference_is_never_loaded_in_the_student_process():
    import autograder.child.worker as worker_module  # noqa: F401 (the child's own code)
    source = "".join(p.read_text() for p in (ROOT / "autograder" / "child").glob("*.py"))
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


def test_a_fresh_process_after_a_fatal_exception_and_honest_work_is_kept(tmp_path):
    """SystemExit in one function: the next tests run in a fresh process and pass."""
    folder = build(tmp_path / "s", BY_NAME["system_exit_in_call"], {})
    result = grade(folder, CONFIG)
    assert all(t.score == t.max_score for t in result.tests if t.target == "rnn_forward")
    assert all(t.status == "error" for t in result.tests if t.target == "word_embedding_forward")


def test_results_are_written_only_after_every_student_process_is_dead(tmp_path, monkeypatch):
    from autograder import sandbox
    seen = []
    original = sandbox.StudentProcess.close

    def close(self):
        original(self)
        seen.append(self.proc)
    monkeypatch.setattr(sandbox.StudentProcess, "close", close)
    folder = build(tmp_path / "s", BY_NAME["threads_atexit_and_daemons"],
                   {"OUTSIDE": tmp_path, "TOKEN": "1234.5"})
    grade(folder, CONFIG)
    assert seen == [None]  # closed (killed) once, in grade()'s finally
    assert sandbox._SUPERVISORS == set()


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
