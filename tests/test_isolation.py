"""The student's root is an allow-list; no isolation means refusal (issue 10).

Decoy copies of the reference are planted in world-readable places outside the grader;
a submission with no implementation that looks for them (the known places, then a walk
of every folder it can see) is graded next to the same submission without the attack,
in every isolation mode this machine offers.
"""
import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from autograder.sandbox import bwrap, isolation
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from conftest import RELEASE, ROOT, SOLUTIONS

CONFIG = dataclasses.replace(DEFAULT, time_budget=120.0)
STEAL = '''
import os as _os, time as _time
def _steal(name, places={places!r}):
    for place in places:  # the known places first, then every folder in sight
        try:
            return open(_os.path.join(place, name)).read()
        except OSError:
            pass
    end = _time.monotonic() + 3
    for top, dirs, files in _os.walk("/"):
        dirs[:] = [d for d in dirs if _os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
        if name in files:
            try:
                text = open(_os.path.join(top, name)).read()
            except OSError:
                continue
            if "def _steal(" not in text:  # not the submission itself (/.submission)
                return text
        if _time.monotonic() > end:
            break
    return None
_code = _steal(__name__ + ".py")
if _code:
    exec(compile(_code, "decoy", "exec"), globals())
'''


def _modes() -> list[str]:
    return [m for m in ("bwrap", "jail")
            if isolation.choose(dataclasses.replace(CONFIG, isolation=m))[0] == m]


@pytest.fixture
def decoys():
    """Copies of the reference, world-readable, in places outside the grader."""
    token = uuid.uuid4().hex[:8]
    places = [Path(p) / f"decoy-{token}" for p in
              ("/opt", "/var/tmp", "/srv", "/tmp", str(Path.home()), str(ROOT.parent))]
    made = []
    for place in places:
        try:
            place.mkdir(parents=True)
        except OSError:
            continue
        made.append(place)
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            shutil.copy(SOLUTIONS / name, place / name)
            (place / name).chmod(0o644)
        place.chmod(0o755)
    yield made
    for place in made:
        shutil.rmtree(place, ignore_errors=True)


def _starter(folder: Path, attack: str) -> Path:
    folder.mkdir()
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        text = (RELEASE / name).read_text()
        (folder / name).write_text(text + attack)
    return folder


@pytest.mark.parametrize("mode", ["bwrap", "jail"])
def test_no_decoy_of_the_reference_is_reachable(mode, decoys, tmp_path):
    if mode not in _modes():
        pytest.skip(f"isolation mode {mode} is not available on this machine: "
                    f"{isolation.choose(dataclasses.replace(CONFIG, isolation=mode))[1]}")
    assert decoys, "no place to plant a decoy"
    attack = STEAL.format(places=[str(p) for p in decoys])
    config = dataclasses.replace(CONFIG, isolation=mode)
    base = grade(_starter(tmp_path / "base", ""), config)
    attacked = grade(_starter(tmp_path / "attack", attack), config)
    assert attacked.score == base.score == 0
    # the attack works where nothing isolates it: the test has teeth
    open_config = dataclasses.replace(CONFIG, isolation="none", allow_no_isolation=True)
    assert grade(_starter(tmp_path / "open", attack), open_config).score > 50


def test_refusal_says_why_and_what_to_do():
    config = dataclasses.replace(DEFAULT, isolation="none")
    message = isolation.refusal(config)
    for words in ("Refusing", "root", "container", "Gradescope", "--no-isolation"):
        assert words in message
    assert isolation.refusal(dataclasses.replace(config, allow_no_isolation=True)) is None


@pytest.mark.skipif(os.geteuid() != 0 or not bwrap.executable(),
                    reason="needs root and bwrap to run the grader as an unprivileged user "
                           "without user namespaces")
def test_an_unprivileged_grader_without_namespaces_refuses(tmp_path):
    """The grader run as uid 65534 with user namespaces disabled (as on Ubuntu 24.04)."""
    out = tmp_path / "results.json"
    tmp_path.chmod(0o777)
    base = ["bwrap", "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--unshare-user",
            "--disable-userns", "--uid", "65534", "--gid", "65534", "--",
            sys.executable, "-m", "autograder", "grade", str(SOLUTIONS.parent / "rnn"),
            "--output", str(out), "--no-colour"]
    done = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Refusing to grade" in done.stderr and "--no-isolation" in done.stderr
    assert not out.exists()


MISSING = {  # capability -> code that removes it before the kit starts (as on Windows/macOS)
    "resource": "sys.modules['resource'] = None",
    "fork and process groups": "import os\nfor n in ('fork', 'killpg', 'setsid'):\n"
                               "    delattr(os, n) if hasattr(os, n) else None",
    "/proc": "import os, builtins\n_l, _o = os.listdir, builtins.open\n"
             "def _no(p): return str(p).startswith('/proc')\n"
             "os.listdir = lambda p='.': (_ for _ in ()).throw(FileNotFoundError(p)) if _no(p) else _l(p)\n"
             "builtins.open = lambda p, *a, **k: (_ for _ in ()).throw(FileNotFoundError(p)) "
             "if _no(p) else _o(p, *a, **k)",
    "select on pipes": "import select\n_s = select.select\n"
                       "select.select = lambda *a: (_ for _ in ()).throw(OSError('not a socket'))",
}


@pytest.mark.parametrize("missing", sorted(MISSING))
def test_the_self_check_kit_runs_without(missing, tmp_path):
    """The released kit on a filled-in release, with one capability made unavailable,
    says exactly what it says with every capability present."""
    kit = tmp_path / "rnn"
    shutil.copytree(RELEASE, kit, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        shutil.copy(SOLUTIONS / name, kit / name)
    run = "import runpy, sys\nsys.argv = ['autograder', 'check']\n" \
          "runpy.run_module('autograder', run_name='__main__')"
    outputs = []
    for patch in ("", MISSING[missing]):
        done = subprocess.run([sys.executable, "-c", f"import sys\n{patch}\n{run}"], cwd=kit,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
        outputs.append([line for line in done.stdout.splitlines() if " s" not in line])
    assert outputs[0] == outputs[1]


RANGE = (2_100_000_000, 16)  # a range of its own: gradings running meanwhile keep theirs


def test_each_grading_gets_a_student_uid_of_its_own():
    """Three processes and three threads of this one, all alive at once, lease six
    different uids of the range; a thread asking again gets its own again."""
    from autograder.sandbox import student_uid

    code = ("import sys, time; from autograder.sandbox import student_uid; "
            f"print(student_uid.lease(*{RANGE!r}), flush=True); time.sleep(2)")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE) for _ in range(3)]
    barrier, leased, again = threading.Barrier(3), [], []

    def lease():  # (an assert in a thread would only warn: the answers are kept)
        mine = student_uid.lease(*RANGE)
        leased.append(mine)
        again.append(student_uid.lease(*RANGE) == mine)
        barrier.wait(timeout=30)  # all three alive at once
    threads = [threading.Thread(target=lease) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert again == [True] * 3  # a thread asking again gets its own uid again
    leased += [int(proc.stdout.readline()) for proc in procs]
    for proc in procs:
        proc.wait(timeout=30)
    assert len(set(leased)) == 6 and all(RANGE[0] <= u < sum(RANGE) for u in leased), leased


FILTERED = """
import ctypes, errno, os, socket, sys, threading
sys.path.insert(0, sys.argv[2])
import jail
jail.load_filter(bytes.fromhex(sys.argv[1]))
libc = ctypes.CDLL(None, use_errno=True)
refused = []
for name, call in (
        ("socket", lambda: socket.socket(socket.AF_INET).close()),
        ("unix socket", lambda: socket.socket(socket.AF_UNIX).close()),
        ("ptrace", lambda: libc.ptrace(16, os.getppid(), None, None) == 0 or
            (_ for _ in ()).throw(OSError(ctypes.get_errno(), "ptrace"))),
        ("unshare", lambda: libc.unshare(0x10000000) == 0 or
            (_ for _ in ()).throw(OSError(ctypes.get_errno(), "unshare")))):
    try:
        call()
    except OSError as exc:
        refused.append(name if exc.errno == errno.EPERM else f"{name}: {exc}")
thread = threading.Thread(target=lambda: None)  # what a submission may still do
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
print(refused, os.waitpid(pid, 0)[1] >> 8, os.pipe() is not None)
"""


def test_the_syscall_filter_refuses_what_a_submission_never_needs():
    """Loaded as the student process loads it: sockets of any family, ptrace and
    unshare fail with EPERM; threads, fork and pipes still work."""
    from autograder.sandbox import syscall_filter

    program, why = syscall_filter.program_hex()
    if program is None:
        pytest.skip(f"no syscall filter on this machine: {why}")
    done = subprocess.run([sys.executable, "-I", "-c", FILTERED, program,
                           str(isolation.CHILD_DIR)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == \
        "['socket', 'unix socket', 'ptrace', 'unshare'] 7 True", done.stdout


def test_every_backend_is_one_class_chosen_in_one_place():
    """The registry is the modes, strongest first, "none" last; every backend that
    fences the student process in has its steps in child/jail.py; and no module
    outside autograder/sandbox/backends/ compares mode names any more."""
    import re

    from autograder.sandbox import backends
    from autograder.sandbox.child import jail

    names = [backend.name for backend in backends.BACKENDS]
    assert len(set(names)) == len(names) and names[-1] == "none" == backends.named(None).name
    assert isolation.MODES == tuple(names)
    assert set(jail.ENTER) == set(names) - {"none"}
    comparison = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](%s)["']""" % "|".join(names))
    for module in ("sandbox/isolation.py", "sandbox/process.py", "sandbox/bwrap.py",
                   "judging/grade.py", "judging/run_cases.py", "sandbox/child/jail.py"):
        source = (ROOT / "autograder" / module).read_text()
        assert not comparison.search(source), (module, comparison.search(source).group())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to a student user")
def test_a_student_user_that_is_root_or_owns_the_grader_is_refused():
    """config.student_user 0, or the owner of the grader's files: no mode that would
    run the student as it is chosen, and the command refuses, saying why."""
    for uid in {0, ROOT.stat().st_uid}:
        config = dataclasses.replace(DEFAULT, student_user=uid)
        mode, why_not = isolation.choose(config)
        assert mode == "none" and all("owns the grader's files" in w for w in why_not), why_not
        assert "owns the grader's files" in isolation.refusal(config)


def test_the_public_copy_of_the_workers_code_keeps_its_bytecode_valid(tmp_path, monkeypatch):
    """The student user's readable copy of child/ carries the compiled bytecode with the
    sources' times, so that the student process imports it without compiling (its boot
    is on the critical path of every grading)."""
    import py_compile

    from autograder.sandbox.backends import bubblewrap

    child = tmp_path / "child"
    shutil.copytree(isolation.CHILD_DIR, child, ignore=shutil.ignore_patterns("__pycache__"))
    for source in child.glob("*.py"):
        py_compile.compile(str(source), doraise=True)
    monkeypatch.setattr(bubblewrap, "CHILD_DIR", child)
    bubblewrap.public_child_dir.cache_clear()
    try:
        copy = Path(bubblewrap.public_child_dir())
    finally:
        bubblewrap.public_child_dir.cache_clear()
    for source in copy.glob("*.py"):
        pyc = Path(importlib.util.cache_from_source(str(source)))
        header = pyc.read_bytes()[:16]  # magic, flags, source mtime, source size
        assert int.from_bytes(header[8:12], "little") == int(source.stat().st_mtime)
        assert int.from_bytes(header[12:16], "little") == source.stat().st_size
        assert pyc.stat().st_mode & 0o004, pyc  # readable by the student user
