"""Starter modules from the reference: every solution region becomes one raising line.

    # TODO: rnn_step_forward (2 lines)          <- the banner stays
    # 1. ...
    ### BEGIN SOLUTION                           \
    next_h = np.tanh(...)                         > replaced by, at the marker's indent:
    ### END SOLUTION                             /
    raise NotImplementedError("rnn_step_forward: not implemented yet (see the TODO above)")

Provided modules (no TODOs) pass through byte for byte.
"""
import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.release.errors import BannerError, StarterError
from autograder.release.markers import SOLUTION, Region, find_regions

BANNER_START = "# TODO"
STUB = 'raise NotImplementedError("{qualname}: not implemented yet (see the TODO above)")'


@dataclass(frozen=True)
class ReleasedFile:
    """One `.py` file of the release: its bytes, and the function of every replaced region."""

    name: str
    data: bytes
    qualnames: tuple[str, ...] = ()  # empty: copied unchanged

    @property
    def is_starter(self) -> bool:
        return bool(self.qualnames)


def prepare(solution_dir: Path, student_modules: tuple[str, ...],
            label: str | None = None) -> list[ReleasedFile]:
    """The starters of `student_modules` and copies of the other `.py` files, sorted by name.

    `label` is how error messages name `solution_dir` (default: the path itself).
    """
    label = label or str(solution_dir)
    present = {path.name: path for path in solution_dir.glob("*.py") if path.is_file()}
    missing = sorted(set(student_modules) - set(present))
    if missing:
        raise StarterError(f"{label}: student module(s) {', '.join(missing)} not found "
                           f"(config.student_modules = {student_modules})")
    files = []
    for name, path in sorted(present.items()):
        data = path.read_bytes()
        if name in student_modules:
            text, qualnames = make_starter(data.decode("utf-8"), f"{label}/{name}")
            files.append(ReleasedFile(name, text.encode("utf-8"), tuple(qualnames)))
        else:
            files.append(ReleasedFile(name, data))
    return files


def make_starter(source: str, where: str) -> tuple[str, list[str]]:
    """The starter text of one reference module, and the qualname of every region."""
    lines = source.splitlines(keepends=True)
    regions = find_regions(lines, where, SOLUTION)
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as err:
        raise StarterError(f"{where}:{err.lineno}: the reference does not parse: {err.msg}")
    functions = _functions(tree)
    out: list[str] = []
    qualnames: list[str] = []
    copied_up_to = 0  # lines[:copied_up_to] are in `out` already
    for region in regions:
        _check_banner(lines, region, where)
        qualname = _enclosing(functions, region, where)
        ending = "\r\n" if lines[region.begin - 1].endswith("\r\n") else "\n"
        out += lines[copied_up_to:region.begin - 1]
        out.append(region.indent + STUB.format(qualname=qualname) + ending)
        copied_up_to = region.end
        qualnames.append(qualname)
    out += lines[copied_up_to:]
    text = "".join(out)
    try:
        compile(text, where, "exec")
    except SyntaxError as err:
        raise StarterError(f"{where}: the generated starter does not compile at line "
                           f"{err.lineno}: {err.msg}")
    return text, qualnames


def _check_banner(lines: list[str], region: Region, where: str) -> None:
    """The comment block directly above the BEGIN line must start with `# TODO`."""
    first = region.begin - 1  # index of the BEGIN line; walk up over comment lines
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1
    if first == region.begin - 1:
        raise BannerError(f"{where}:{region.begin}: solution region has no comment banner "
                          f"directly above it; expected a block starting with '{BANNER_START}'")
    top = lines[first].strip()
    if not top.startswith(BANNER_START):
        raise BannerError(f"{where}:{region.begin}: the comment block above the solution "
                          f"region (from line {first + 1}) starts with {top!r}, not "
                          f"'{BANNER_START}'")


def _functions(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """(qualname, node) of every function and method, named as Python's __qualname__."""
    found: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _enclosing(functions: list[tuple[str, ast.AST]], region: Region, where: str) -> str:
    """The qualname of the innermost function whose body holds the BEGIN line."""
    holding = [(node.lineno, name) for name, node in functions
               if node.lineno < region.begin <= node.end_lineno]
    if not holding:
        raise StarterError(f"{where}:{region.begin}: solution region is not inside a "
                           f"function, so it cannot become a raising stub")
    return max(holding)[1]
