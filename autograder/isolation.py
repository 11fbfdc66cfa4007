"""Who the student process runs as and what it may see: settings for child/jail.py.

The defences, strongest first (each one applies when the machine allows it):
- namespaces (config.namespaces): a private mount table in which the grader's
  repository (all but the Python environment), the solutions, the nbgrader sources,
  config.hidden_paths, /tmp and /dev/shm are empty; a PID namespace (the student sees
  no other process, so it cannot signal the grader, and everything it starts dies with
  it); a network namespace without any interface up (no local sockets, no internet).
  As root this needs nothing more; as another user it needs unprivileged user
  namespaces (a user namespace is added).
- an unprivileged user (config.student_user, uid 65534 "nobody" by default when the
  grader runs as root): it can read only what is world-readable, write nothing of the
  grader's, and RLIMIT_NPROC caps its processes (fork floods). Where namespaces are not
  available (Gradescope's containers usually refuse them), this is what keeps the
  solutions secret: make them unreadable to others (the Gradescope setup runs
  `chmod -R go-rwx /autograder/source`); grade() warns once when they are readable.
- always: a separate process with rlimits, deadlines and a process-group kill, a
  minimal environment (nothing of the grader's, no RNN_GRADER_SECRET), data-only
  replies, and the reference never loaded in the student process.
"""
import os
import stat
import sys
from pathlib import Path

import numpy as np

NOBODY = 65534
# Imported before the switch to the unprivileged user when that user cannot read the
# interpreter's own files (e.g. a Python installed under /root): what submissions use.
PRELOAD = ("copy", "math", "time", "random", "collections", "functools", "itertools",
           "typing", "dataclasses", "warnings", "json", "re", "pickle", "io", "threading",
           "subprocess", "socket", "ctypes", "signal", "atexit", "gc", "traceback",
           "inspect", "contextlib", "operator", "numbers", "statistics", "string", "heapq",
           "bisect", "struct", "pathlib", "glob", "abc", "enum", "types", "weakref",
           "textwrap", "pprint", "queue", "errno", "stat", "hashlib", "base64", "array",
           "datetime", "linecache", "tokenize", "tempfile", "shutil", "secrets", "fractions",
           "decimal", "difflib", "zlib", "csv", "copyreg", "locale", "platform", "logging",
           "argparse",
           # NumPy loads these lazily: load them while the files can still be read
           "numpy.random", "numpy.linalg", "numpy.fft", "numpy.lib.stride_tricks")
_warned: set[str] = set()


def student_ids(config) -> tuple[int | None, int | None]:
    """(uid, gid) the student process runs as, or (None, None) to stay the grader's user."""
    user = config.student_user
    if user == "auto":
        user = NOBODY if os.geteuid() == 0 else None
    if user is None or os.geteuid() != 0:
        return None, None  # only root can switch users
    uid = int(user)
    return uid, int(config.student_group if config.student_group is not None else uid)


def settings(config) -> dict:
    """The jail settings for child/jail.py (plain JSON data)."""
    uid, gid = student_ids(config)
    keep = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                        Path(np.__file__).parent)]
    hide = []
    for path in (config.root, config.solutions_dir, config.source_dir, *config.hidden_paths):
        hide += _hidden_parts(Path(path).resolve(), keep)
    hide += [p for p in ("/var/tmp", "/dev/shm") if os.path.isdir(p)]
    return {"uid": uid, "gid": gid, "namespaces": bool(config.namespaces),
            "hide": sorted(set(hide)), "keep": sorted({str(k) for k in keep}),
            "nproc": config.max_processes,
            "preload": list(PRELOAD) if uid is not None and not (
                _world_readable(Path(os.__file__).parent)
                and _world_readable(Path(np.__file__).parent)) else []}


def _hidden_parts(path: Path, keep: list[Path]) -> list[str]:
    """path itself, or, when something to keep lies inside it, its other entries."""
    if not path.exists():
        return []
    inside = [k for k in keep if k == path or path in k.parents]
    if not inside:
        return [str(path)]
    if path in inside or not path.is_dir():
        return []
    parts = []
    for entry in path.iterdir():
        if not entry.is_symlink():
            parts += _hidden_parts(entry, keep)
    return parts


def _world_readable(path: Path) -> bool:
    """Can a user of no group of the owner read path (directories: list and enter)?"""
    path = path.resolve()
    for ancestor in [*reversed(path.parents), path]:
        try:
            mode = ancestor.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def prepare_folder(folder: Path, config) -> None:
    """Let the student's user use its folder (and nothing else of the grader's tmp)."""
    uid, gid = student_ids(config)
    if uid is None:
        return
    os.chmod(folder.parent, 0o711)  # enter, not list: the rest of it stays the grader's
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, gid)


def warn_if_readable(config, jail_status: str) -> None:
    """Say once when the student process could read the solutions (no private view)."""
    if "namespaces" in jail_status:
        return
    uid, _ = student_ids(config)
    exposed = [p for p in (config.solutions_dir, config.root / "autograder" / "secret.key")
               if Path(p).exists() and (uid is None or _world_readable(Path(p)))]
    message = ", ".join(str(p) for p in exposed)
    if exposed and message not in _warned:
        _warned.add(message)
        who = "the grader's own user" if uid is None else f"uid {uid}"
        print(f"warning: student code runs as {who} without a private view of the disk "
              f"and can read {message}; see autograder/isolation.py", file=sys.stderr)
