"""The grader's import graph, read statically (ast): no cycles, and every layer imports
only the layers below it: sandbox/child lowest, then sandbox/ and intake/, judging/, then
release/, classroom/ and integrations/ (the top-level modules, the verbs and the settings,
are outside the ranking). Imports inside functions count: a lazy import is still a
dependency. And the order of one import that matters for speed: the student process
boots before the judging modules import."""
import ast
import json
import subprocess
import sys

import pytest

from conftest import ROOT

PACKAGE = ROOT / "autograder"
RANKS = {"autograder.sandbox.child": 0, "autograder.sandbox": 1, "autograder.intake": 1,
         "autograder.judging": 2, "autograder.release": 3, "autograder.classroom": 3,
         "autograder.integrations": 3}


def module_of(path) -> str:
    parts = ["autograder", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in PACKAGE.rglob("*.py")}


def imported(path) -> set[str]:
    """The grader modules `path` imports (`from X import name` counts X.name when that is
    a module, else X)."""
    found, package = set(), module_of(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else module_of(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if name in MODULES else base)
    return {name for name in found if name in MODULES}


def graph() -> dict[str, set[str]]:
    return {name: imported(path) - {name} for name, path in MODULES.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None
    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def rank(module: str) -> int | None:
    heads = [head for head in RANKS if module == head or module.startswith(head + ".")]
    return RANKS[max(heads, key=len)] if heads else None


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
], ids=["none", "two", "behind a third"])
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert cycle(edges) == expected


def test_the_graph_sees_imports_at_every_level():
    edges = graph()
    assert "autograder.sandbox.process" in edges["autograder.judging.engine"]
    assert "autograder.classroom.pages" in edges["autograder.classroom.grade_all"]  # lazy


def test_the_grader_has_no_import_cycle():
    assert cycle(graph()) is None


def test_every_layer_imports_only_the_layers_below():
    upward = sorted(f"{src} -> {dst}" for src, targets in graph().items() for dst in targets
                    if rank(src) is not None and rank(dst) is not None
                    and rank(dst) > rank(src))
    assert upward == [], upward


_BOOT_ORDER = """
import json, sys
from autograder.config import DEFAULT
from autograder.judging import grade
from autograder.sandbox.process import StudentProcess
seen, boot = [], StudentProcess.boot
def recording(self, module=""):
    seen.append(sorted(m for m in sys.modules if m.startswith("autograder.judging.")))
    return boot(self, module)
StudentProcess.boot = recording
result = grade.grade(sys.argv[1], DEFAULT)
print(json.dumps({"at_boot": seen[0], "score": result.score}))
"""


def test_the_student_process_boots_before_the_judging_modules_import():
    """grade.py imports only what starting the student process needs (the reference is
    read first); the judging modules import while it boots: its start is out of the
    critical path (issue 20)."""
    done = subprocess.run([sys.executable, "-c", _BOOT_ORDER, str(ROOT / "solutions" / "rnn")],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["score"] == 100.0
    assert seen["at_boot"] == ["autograder.judging.grade", "autograder.judging.reference",
                               "autograder.judging.results"], seen["at_boot"]
