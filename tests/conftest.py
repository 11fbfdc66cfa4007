"""Shared test set-up: paths, and the reference modules importable by their flat names."""
import os
import sys

from pathlib import Path

import pytest

# The grader runs with one BLAS thread (autograder/__main__.py); so do the gradings the
# tests run in this process (set before NumPy is first imported: pytest does not).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "rnn"
RELEASE = ROOT / "assignment" / "rnn"
CIFAR_SUBSET = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"

# The reference modules are flat (no package), as students receive them.
sys.path.insert(0, str(SOLUTIONS))

# A fresh clone has no grading secret (it is made on first use, never committed): make it
# now, so that the tests which check it never leaks or is unreadable from a sandbox have
# one to look for, whatever order they run in. Tests needing fixed cases set their own.
from autograder import secret as _secret  # noqa: E402

if not _secret.SECRET_FILE.exists():
    _secret._create(_secret.SECRET_FILE)


@pytest.fixture
def rng():
    return __import__("numpy").random.default_rng(1234)


def require_cifar_subset() -> Path:
    """The real CIFAR-10 subset, or a skip that says why it is missing."""
    if not (CIFAR_SUBSET / "data_batch_1").exists():
        pytest.skip(f"the real CIFAR-10 subset is not at {CIFAR_SUBSET} (optional resource)")
    return CIFAR_SUBSET


@pytest.fixture
def unprivileged_grader():
    """run(args, **subprocess_kwargs): `python -m autograder ARGS`, from the repository,
    as an unprivileged user for whom the kernel refuses user namespaces (as on Ubuntu
    24.04): as root, uid 65534 inside a bubblewrap user namespace made with
    --disable-userns (the way tests/test_isolation.py runs its refusal); as any other
    user, that user itself when it has no user namespaces. Skips, saying why, elsewhere."""
    import os
    import shutil
    import subprocess

    from autograder.sandbox import isolation
    from autograder.config import DEFAULT

    if os.geteuid() == 0:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            pytest.skip("bubblewrap is not installed: root cannot run the grader as an "
                        "unprivileged user without user namespaces here (optional resource)")
        prefix = [bwrap, "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--unshare-user",
                  "--disable-userns", "--uid", "65534", "--gid", "65534", "--"]
        probe = subprocess.run(prefix + ["/bin/true"], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"bubblewrap cannot disable user namespaces here (needs 0.8 or "
                        f"later): {probe.stderr.strip()[-200:]}")
    elif isolation.choose(DEFAULT)[0] == "none":
        prefix = []
    else:
        pytest.skip("this user has user namespaces, so the grader does not refuse; run the "
                    "tests as root (with bubblewrap) to see the refusal")

    def run(args, **kwargs):
        kwargs = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 300, **kwargs}
        return subprocess.run(prefix + [sys.executable, "-m", "autograder", *args], **kwargs)
    return run


def fresh_shell(*unset: str, **extra: str) -> dict[str, str]:
    """A new login's environment: the project's environment neither activated nor on
    PATH, no PYTHONPATH, and no variable named in `unset` (a name ending in "_" unsets
    every variable that starts with it); plus `extra`."""
    venv_bin = os.path.realpath(os.path.dirname(sys.executable))
    gone = ("PYTHONPATH", "VIRTUAL_ENV", *unset)
    env = {k: v for k, v in os.environ.items()
           if not any(k.startswith(g) if g.endswith("_") else k == g for g in gone)}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and os.path.realpath(p) != venv_bin)
    return env | extra
