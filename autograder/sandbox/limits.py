"""Limits for a whole student process tree: one cgroup per student process.

    tree = TreeLimit.create(memory_bytes=1 << 30, processes=64)   # None: no cgroup here
    ...in the child, between fork and exec:  tree.join()         (the tree starts inside)
    tree.kill_all(); tree.remove()                                # nothing survives
    tree.memory_exceeded()                                        # for the error message

Whatever the machine offers, found by capability rather than by name: cgroup v2 (a
unified hierarchy whose cgroup delegates `memory` and `pids` to its children), or the
v1 `memory` and `pids` hierarchies (each used when present and writable). Every
process the student starts stays in the group, so the caps are for the grading, not
for each process: four processes cannot take four times the memory, a fork flood
stops at the process cap, and the kill finds every process, wherever it went.
Where neither is available, sandbox.py falls back to a low RLIMIT_NPROC with an
address-space limit sized so that their product stays under the cap (see
`fallback_rlimits`).
"""
import os
import signal
import time
from dataclasses import dataclass, field
from itertools import count

_NAMES = count()


@dataclass
class TreeLimit:
    """The cgroup directories (one per hierarchy) that hold one student process tree."""
    dirs: list[str]
    memory_dir: str | None = None  # where the memory cap is enforced (for OOM counts)
    version: int = 2
    _procs_fds: list[int] = field(default_factory=list)
    _caps: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> "TreeLimit | None":
        """A fresh cgroup with both caps, or None when this machine offers none."""
        name = f"rnn-grader-{os.getpid()}-{next(_NAMES)}"
        parent = _delegating_v2_group()
        if parent:
            return _make_v2(os.path.join(parent, name), memory_bytes, processes)
        return _make_v1(name, memory_bytes, processes)

    @property
    def caps(self) -> set[str]:
        """Which of "memory" and "pids" this group enforces."""
        return set(self._caps)

    def open(self) -> None:
        """Open the cgroup.procs files (the child writes into them before exec)."""
        self._procs_fds = [os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY) for d in self.dirs]

    def join(self) -> None:
        """Run in the child between fork and exec: move this process into the group."""
        for fd in self._procs_fds:
            os.write(fd, b"0")  # 0: the writing process itself (v1 and v2)

    def close_fds(self) -> None:
        for fd in self._procs_fds:
            os.close(fd)
        self._procs_fds = []

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    found |= {int(line) for line in f if line.strip()}
            except OSError:
                pass
        return found

    def kill_all(self, wait: float = 5.0) -> bool:
        """SIGKILL every process in the group until it is empty (the process cap keeps a
        fork flood from outrunning this). True when the group is empty."""
        kill_file = os.path.join(self.dirs[0], "cgroup.kill")
        if self.version == 2 and os.path.exists(kill_file):
            _write(kill_file, "1")
        end = time.monotonic() + wait
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.002)
        return not self.pids()

    def memory_exceeded(self) -> bool:
        """Did the kernel refuse the tree memory (v1 failcnt, v2 oom/max events)?"""
        if not self.memory_dir:
            return False
        if self.version == 1:
            return _read_int(os.path.join(self.memory_dir, "memory.failcnt")) > 0
        events = _read(os.path.join(self.memory_dir, "memory.events"))
        return any(line.split()[0] in ("oom", "oom_kill", "max") and int(line.split()[1]) > 0
                   for line in events.splitlines() if len(line.split()) == 2)

    def remove(self) -> None:
        self.close_fds()
        for d in self.dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy for a moment after the last kill
                    self.kill_all(wait=0.05)
        self.dirs = []


def fallback_rlimits(memory_bytes: int, processes: int) -> tuple[int, int]:
    """(RLIMIT_NPROC, RLIMIT_AS) without cgroups: n processes of at most memory/n each."""
    return processes, memory_bytes // processes


# ---- discovery (from /proc/self/cgroup and /proc/self/mountinfo) ---------------------

def _own_groups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    groups = {}
    for line in _read("/proc/self/cgroup").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in (parts[1].split(",") if parts[1] else [""]):
                groups[controller] = parts[2]
    return groups


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, mount root, mount point, super options) of every cgroup mount."""
    found = []
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((tail[0], fields[3], fields[4], set(tail[2].split(","))))
    return found


def _under(mount_root: str, mount_point: str, path: str) -> str | None:
    rel = os.path.relpath(path, mount_root)
    if rel.startswith(".."):
        return None
    return os.path.normpath(os.path.join(mount_point, rel))


def _delegating_v2_group() -> str | None:
    """Our v2 cgroup, when it can have children with memory and pids (or None)."""
    own = _own_groups().get("")
    for fstype, root, point, _ in _mounts():
        if fstype != "cgroup2" or own is None:
            continue
        group = _under(root, point, own)
        if group is None or not os.access(group, os.W_OK):
            continue
        wanted = {"memory", "pids"}
        enabled = set(_read(os.path.join(group, "cgroup.subtree_control")).split())
        if not wanted <= enabled:  # allowed only while the group has no process of its own
            _write(os.path.join(group, "cgroup.subtree_control"), "+memory +pids")
            enabled = set(_read(os.path.join(group, "cgroup.subtree_control")).split())
        if wanted <= enabled:
            return group
    return None


def _make_v2(path: str, memory_bytes: int, processes: int) -> "TreeLimit | None":
    try:
        os.mkdir(path, 0o755)
    except OSError:
        return None
    ok = (_write(os.path.join(path, "memory.max"), str(memory_bytes))
          and _write(os.path.join(path, "pids.max"), str(processes)))
    _write(os.path.join(path, "memory.swap.max"), "0")
    tree = TreeLimit([path], memory_dir=path, version=2)
    tree._caps = {"memory", "pids"} if ok else set()
    if not ok:
        tree.remove()
        return None
    return tree


def _make_v1(name: str, memory_bytes: int, processes: int) -> "TreeLimit | None":
    own, dirs, caps, memory_dir = _own_groups(), [], set(), None
    for fstype, root, point, options in _mounts():
        for controller in ("memory", "pids"):
            if fstype != "cgroup" or controller not in options or controller in caps:
                continue
            group = _under(root, point, own.get(controller, "/"))
            path = os.path.join(group, name) if group else None
            if not path or not _mkdir(path):
                continue
            if controller == "memory":
                ok = _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes))
                _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(memory_bytes))
                memory_dir = path if ok else None
            else:
                ok = _write(os.path.join(path, "pids.max"), str(processes))
            dirs.append(path)
            if ok:
                caps.add(controller)
    if not dirs:
        return None
    tree = TreeLimit(dirs, memory_dir=memory_dir, version=1)
    tree._caps = caps
    if not caps:
        tree.remove()
        return None
    return tree


def _mkdir(path: str) -> bool:
    try:
        os.mkdir(path, 0o755)
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _read_int(path: str) -> int:
    try:
        return int(_read(path).strip() or 0)
    except ValueError:
        return 0


def _write(path: str, value: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def tasks_of(uid: int) -> int:
    """How many tasks (threads of every process) run as real uid `uid` now: what
    RLIMIT_NPROC counts, so a cap for one grading is this plus its own share (a grader
    that is not root shares its uid with its own and its user's other processes)."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if entry.isdigit():
            status = _read(f"/proc/{entry}/status")
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            try:
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields["Threads"])
            except (KeyError, ValueError, IndexError):
                continue
    return count
