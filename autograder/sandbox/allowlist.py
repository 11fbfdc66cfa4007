"""The allow-list: the host paths the student process may see, read-only. Nothing else.

    view = interpreter_view(extra=[child_dir])
    view.binds   sorted real paths (folders or files), bound read-only at the same place
    view.links   ((link, target), ...): symlinks of the host recreated on the way to them

It holds what the interpreter needs to start and import NumPy and the standard library:
sys.prefix, sys.base_prefix (and the exec prefixes), the NumPy package, the folders of
the shared libraries this process has loaded (from /proc/self/maps, which lists the C
library and NumPy's BLAS), the dynamic loader named in the interpreter's ELF header and
the loader's cache (/etc/ld.so.*). The grader's repository, its solutions, /home, /opt,
/srv, /var, the rest of /etc and /usr are not in it: they do not exist for the student,
wherever the grader and its solutions are installed. bwrap.py and child/jail.py both
build the student's root from this one list.
"""
import os
import struct
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

LOADER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
# Where shared libraries live when /proc/self/maps cannot tell.
USUAL_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")


@dataclass(frozen=True)
class View:
    binds: tuple[str, ...]
    links: tuple[tuple[str, str], ...]

    def to_json(self) -> dict:
        return {"binds": list(self.binds), "links": [list(pair) for pair in self.links]}


@lru_cache(maxsize=None)
def interpreter_view(extra: tuple[str, ...] = ()) -> View:
    """The view for this interpreter (computed once per grader process)."""
    wanted = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              sys.executable, str(Path(np.__file__).parent), *_library_dirs(),
              *LOADER_FILES, *extra]
    interpreter = _elf_interpreter(os.path.realpath(sys.executable))
    if interpreter:
        wanted.append(interpreter)
    binds, links = set(), {}
    for path in wanted:
        _expose(os.path.abspath(path), binds, links)
    kept = _outermost(binds)
    return View(tuple(kept), tuple(sorted((link, target) for link, target in links.items()
                                          if not _inside_any(link, kept))))


def _expose(path: str, binds: set, links: dict, depth: int = 0) -> None:
    """Record path's real location as a bind, and every symlink on the way as a link."""
    if depth > 40:  # a symlink loop
        return
    parts = Path(path).parts
    current = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        step = os.path.join(current, part)
        if os.path.islink(step):
            target = os.readlink(step)
            links[step] = target
            resolved = os.path.normpath(os.path.join(current, target, *parts[i + 1:]))
            return _expose(resolved, binds, links, depth + 1)
        current = step
    if os.path.exists(current):
        binds.add(current)


def _outermost(paths: set) -> list[str]:
    kept = []
    for path in sorted(paths, key=lambda p: (p.count(os.sep), p)):
        if not _inside_any(path, kept):
            kept.append(path)
    return sorted(kept)


def _inside_any(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _library_dirs() -> list[str]:
    """Folders of the shared objects mapped into this process (NumPy is imported)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    except OSError:
        return [d for d in USUAL_LIBRARY_DIRS if os.path.isdir(d)]
    return sorted({os.path.dirname(p) for p in paths
                   if p.startswith("/") and (".so" in os.path.basename(p)) and os.path.exists(p)})


def _elf_interpreter(path: str) -> str | None:
    """The program interpreter (PT_INTERP) of an ELF executable, e.g. /lib64/ld-linux-x86-64.so.2."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF":
                return None
            wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
            if wide:
                (phoff,), (size, number) = struct.unpack_from(order + "Q", head, 32), \
                    struct.unpack_from(order + "HH", head, 54)
            else:
                (phoff,), (size, number) = struct.unpack_from(order + "I", head, 28), \
                    struct.unpack_from(order + "HH", head, 42)
            for i in range(number):
                f.seek(phoff + i * size)
                header = f.read(size)
                if struct.unpack_from(order + "I", header, 0)[0] == 3:  # PT_INTERP
                    offset, length = (struct.unpack_from(order + "Q", header, 8)[0],
                                      struct.unpack_from(order + "Q", header, 32)[0]) if wide \
                        else (struct.unpack_from(order + "I", header, 4)[0],
                              struct.unpack_from(order + "I", header, 16)[0])
                    f.seek(offset)
                    return f.read(length).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None
