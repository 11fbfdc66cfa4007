"""The grader's own jail (child/jail.py): the same allow-list root as bubblewrap, built
by the student process itself (pivot_root into a tmpfs); root or user namespaces."""
import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache

from autograder.sandbox.backends.base import (CHILD_DIR, NAMESPACES_OFF, Backend, Context,
                                      student_settings)


class Jail(Backend):
    name, private_root, switches_user = "jail", True, True

    def unavailable(self, ctx: Context) -> str:
        if not ctx.namespaces:
            return NAMESPACES_OFF
        return _probe(json.dumps(student_settings(self, ctx)))


@lru_cache(maxsize=None)
def _probe(child_settings: str) -> str:
    """'' when child/jail.py can build its root here (one throwaway process)."""
    if not hasattr(os, "fork") or not os.path.isdir("/proc/self"):
        return "needs Linux (fork, /proc, namespaces)"
    with tempfile.TemporaryDirectory(prefix="rnn-jail-probe-") as folder:
        try:
            done = subprocess.run([sys.executable, "-I", "-B", str(CHILD_DIR / "jail.py"),
                                   "--probe", child_settings, folder],
                                  capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the jail could not start: {exc}"
    if done.returncode == 0:
        return ""
    detail = done.stderr.decode(errors="replace").strip().splitlines()
    return ("the kernel refuses namespaces to this user"
            + (f" ({detail[-1][:200]})" if detail else ""))
