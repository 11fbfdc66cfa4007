"""The class's results as an instructor reads them, rebuilt from the records every time.

    grades.csv          the gradebook: one row per submission: total, flags (grader error,
                        unreadable, syntax error, timeout), a column per graded function
    grades_tests.csv    the same rows with a column per test (the function's cases)
    summary.txt         pass rate per function (its cases under it), the mistakes the class
                        made (hint, how many, who), the submissions to look at first
    histogram.png       the score distribution (matplotlib, Agg: no display needed)
    report.html         all of it, self-contained, with a sortable table of students
    feedback/<n>.html   what each student sees (batch_pages.py renders both)

Everything a student controls (names, their exceptions and output inside the feedback)
is made inert before it is written: control characters stripped, CSV cells that a
spreadsheet would read as a formula neutralised; HTML escaping is Jinja2's autoescape.
"""
import csv
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from autograder.intake import inert
from autograder.classroom.store import write_text_atomic

SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TOP_HINTS = 15
# Look at first, most urgent first: (kind, what the instructor does about it)
KINDS = ("grader error", "could not be read", "syntax error", "same error everywhere",
         "time limit", "zero score")


def inert_text(text, keep_newlines: bool = False) -> str:
    """Student-controlled text made inert (autograder/intake/inert.py: no control or format
    characters, TAB as a space); one line unless newlines are asked for."""
    return inert.text(text) if keep_newlines else inert.line(text, max_chars=None)


def csv_cell(value) -> str:
    """A gradebook cell no spreadsheet runs: inert text, with a leading quote when it
    would start (after any spaces) with = + - @ (a formula), or did start with TAB or CR."""
    raw = str(value)
    text = inert_text(raw)
    if raw[:1] in FORMULA_START or text.lstrip(" ")[:1] in FORMULA_START:
        return "'" + text
    return text


@dataclass
class Function:
    """One graded function or method, with its cases (test names) in grading order."""
    name: str
    tests: list[str] = field(default_factory=list)
    max_score: float = 0.0
    passed_all: int = 0  # submissions passing every case
    mean_score: float = 0.0


@dataclass
class ClassView:
    names: list[str]
    tests: list[str]  # every test name, in grading order
    max_scores: dict[str, float]
    scores: dict[str, float]  # total per submission
    max_total: float
    function_of: dict[str, str] = field(default_factory=dict)  # test name -> function
    case_of: dict[str, str] = field(default_factory=dict)  # test name -> "<check>, <case>"
    functions: list[Function] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)  # test name -> submissions passing
    hints: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # -> who
    timeouts: dict[str, list[str]] = field(default_factory=dict)  # name -> functions
    unreadable: dict[str, str] = field(default_factory=dict)  # name -> reason
    syntax_errors: dict[str, str] = field(default_factory=dict)  # name -> file, line, message
    grader_errors: dict[str, str] = field(default_factory=dict)
    look_first: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (kind, why)
    stale: list[str] = field(default_factory=list)  # graded by another grader version

    def scored_functions(self) -> list[Function]:
        """The functions worth points (not provided code checked for 0 points)."""
        return [f for f in self.functions if f.max_score > 0]

    def hints_by_count(self) -> list[tuple[str, str, list[str]]]:
        """(function, hint, who) for the most frequent mistakes, most frequent first."""
        ranked = sorted(self.hints.items(), key=lambda item: (-len(item[1]), item[0]))
        return [(target, hint, who) for (target, hint), who in ranked[:TOP_HINTS]]


def function_of(test: dict) -> str:
    """The function or method a record's test grades: its field (make_record writes it);
    in a record written before the field existed, its name's first word before ':'
    (CONTRACT.md: every test name begins with it), read here and nowhere else."""
    for key in ("function", "target"):
        if isinstance(test.get(key), str) and test[key].strip():
            return test[key].strip()
    return test["name"].split(":", 1)[0]


def case_of(test: dict) -> str:
    """What a record's test checks and on which case, "<check>, <case>": its fields, or
    (a record from before they existed) its name after the function."""
    if all(isinstance(test.get(key), str) for key in ("check", "case")):
        return f"{test['check']}, {test['case']}"
    return test["name"].split(":", 1)[-1].strip()


def analyse(records: dict[str, dict], grader: str | None = None) -> ClassView:
    tests, max_scores, functions, cases = [], {}, {}, {}
    for record in records.values():
        for test in record["tests"]:
            if test["name"] not in max_scores:
                tests.append(test["name"])
                max_scores[test["name"]] = test["max_score"]
                functions[test["name"]] = function_of(test)
                cases[test["name"]] = case_of(test)
    view = ClassView(sorted(records), tests, max_scores,
                     {n: r["score"] for n, r in records.items()},
                     max((r.get("max_score", 0) for r in records.values()), default=0),
                     function_of=functions, case_of=cases, passed={t: 0 for t in tests})
    for name in view.names:
        _analyse_one(view, name, records[name], grader)
    view.functions = _functions(view, records)
    return view


def _analyse_one(view: ClassView, name: str, record: dict, grader: str | None) -> None:
    info = record["submission"]
    for test in record["tests"]:
        view.passed[test["name"]] += test.get("status") == "passed"
        function = view.function_of[test["name"]]
        for hint in test.get("hints", []):
            who = view.hints.setdefault((function, hint), [])
            if name not in who:
                who.append(name)
        if test.get("status") == "timeout":
            if function not in view.timeouts.setdefault(name, []):
                view.timeouts[name].append(function)
    if info.get("grader_error"):
        view.grader_errors[name] = info["grader_error"].strip().splitlines()[-1][:300]
    elif info.get("unreadable"):  # why the submission could not be read (GradingResult)
        view.unreadable[name] = str(info["unreadable"]).strip().splitlines()[0]  # one line
    syntax = _syntax_error(record)
    if syntax:
        view.syntax_errors[name] = syntax
    if grader and info.get("grader_version") != grader:
        view.stale.append(name)
    view.look_first[name] = _reasons(view, name, record)
    if not view.look_first[name]:
        del view.look_first[name]


def _reasons(view: ClassView, name: str, record: dict) -> list[tuple[str, str]]:
    """Why an instructor should open this submission first, one short line per kind."""
    reasons = []
    if name in view.grader_errors:
        reasons.append(("grader error", f"the grader failed: {view.grader_errors[name]}"))
    if name in view.unreadable:
        reasons.append(("could not be read", f"could not be read: {view.unreadable[name]}"))
    failed = [t for t in record["tests"] if t.get("status") != "passed"]
    if name in view.syntax_errors:
        reasons.append(("syntax error", view.syntax_errors[name]))
    elif failed and len(failed) == len(record["tests"]) and not reasons:
        common = _same_error_everywhere(failed)
        if common:
            reasons.append(("same error everywhere", f"every test failed with: {common}"))
    if name in view.timeouts:
        reasons.append(("time limit", "hit a time limit in " + ", ".join(view.timeouts[name])))
    if record["score"] <= 0:
        reasons.append(("zero score", f"scored 0 of {_num(record.get('max_score', 0))}"))
    return reasons


def _syntax_error(record: dict) -> str:
    """"SyntaxError in FILE line N: message" of the first test that met one, or ""."""
    syntax = next((t["error"] for t in record["tests"] if t.get("status") != "passed"
                   and isinstance(t.get("error"), dict)
                   and t["error"].get("type") in SYNTAX_ERRORS), None)
    if not syntax:
        return ""
    return inert_text(f"{syntax['type']} in {syntax.get('file')} line {syntax.get('line')}: "
                      f"{syntax.get('message', '')}")


def _same_error_everywhere(failed: list[dict]) -> str | None:
    """The one exception (type and message) that every failed test raised, if any."""
    errors = {(str(e.get("type")), str(e.get("message", ""))) if isinstance(e, dict) and e
              else None for e in (t.get("error") for t in failed)}
    if len(errors) != 1 or None in errors:
        return None
    kind, message = errors.pop()
    return inert_text(f"{kind}: {message}")[:200]


def _functions(view: ClassView, records: dict[str, dict]) -> list[Function]:
    functions: dict[str, Function] = {}
    for test in view.tests:
        name = view.function_of[test]
        function = functions.setdefault(name, Function(name))
        function.tests.append(test)
        function.max_score += view.max_scores[test]
    for function in functions.values():
        mine = set(function.tests)
        totals = []
        for record in records.values():
            own = [t for t in record["tests"] if t["name"] in mine]
            function.passed_all += bool(own) and all(t.get("status") == "passed" for t in own)
            totals.append(sum(t["score"] for t in own))
        function.mean_score = statistics.mean(totals) if totals else 0.0
    return list(functions.values())


def function_scores(view: ClassView, record: dict) -> dict[str, float]:
    by_test = {t["name"]: t["score"] for t in record["tests"]}
    return {f.name: sum(by_test.get(t, 0.0) for t in f.tests) for f in view.functions}


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


FLAGS = (("grader error", "grader_errors"), ("unreadable", "unreadable"),
         ("syntax error", "syntax_errors"), ("timeout", "timeouts"))


def flags_of(view: ClassView, name: str) -> list[str]:
    """What went wrong beyond wrong answers: FLAGS that apply to this submission."""
    return [flag for flag, where in FLAGS if name in getattr(view, where)]


def write_gradebook(view: ClassView, records: dict[str, dict], out: Path) -> None:
    """grades.csv (a column per function) and grades_tests.csv (a column per test)."""
    head = ["submission", "total", "max_score", "flags"]
    counted = view.scored_functions()
    by_function = [head + [csv_cell(f.name) for f in counted]]
    by_test = [head + [csv_cell(t) for t in view.tests]]
    for name in view.names:
        record = records[name]
        first = [csv_cell(name), _num(view.scores[name]), _num(record.get("max_score", 0)),
                 "; ".join(flags_of(view, name))]
        functions = function_scores(view, record)
        scores = {t["name"]: t["score"] for t in record["tests"]}
        by_function.append(first + [_num(functions[f.name], 4) for f in counted])
        by_test.append(first + [_num(scores[t], 4) if t in scores else "" for t in view.tests])
    for file, rows in (("grades.csv", by_function), ("grades_tests.csv", by_test)):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        write_text_atomic(Path(out) / file, buffer.getvalue())


def histogram_png(view: ClassView) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    top = view.max_total or 100
    axes.hist(list(view.scores.values()), bins=[top * i / 20 for i in range(21)],
              color="#3b7dd8", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_xlabel(f"score (out of {_num(top)})")
    axes.set_ylabel("submissions")
    axes.set_title(f"Score distribution, {len(view.scores)} submissions")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def headline(view: ClassView) -> str:
    scores = list(view.scores.values())
    line = f"{len(scores)} submissions, scores out of {_num(view.max_total)}"
    if scores:
        line += (f": mean {_num(statistics.mean(scores))}, median "
                 f"{_num(statistics.median(scores))}, min {_num(min(scores))}, max "
                 f"{_num(max(scores))}; full marks {sum(s >= view.max_total for s in scores)}")
    return line


def summary_lines(view: ClassView, notes: list[str]) -> list[str]:
    count = max(len(view.names), 1)
    lines = [inert_text(headline(view)), "", "Pass rate per function (submissions passing "
             "every case), its cases under it:"]
    for function in view.functions:
        lines.append(f"  {function.passed_all / count:4.0%}  {function.passed_all:>4}/"
                     f"{len(view.names)}  {function.name}  (mean {_num(function.mean_score)}"
                     f" of {_num(function.max_score)} points)")
        for test in function.tests:
            lines.append(f"          {view.passed[test] / count:4.0%}  {view.case_of[test]}")
    lines += ["", "Mistakes the class made (known-mistake hints: how many, who):"]
    for target, hint, who in view.hints_by_count():
        first = hint.splitlines()[0].removeprefix("Hint: ")
        lines.append(f"  {len(who):>4}  {target}: {first}")
        lines.append(f"        {_who(who)}")
    if not view.hints:
        lines.append("  none recognised")
    lines += ["", f"Look at first ({len(view.look_first)}):"]
    lines += [f"  {inert_text(name)}: " + "; ".join(why for _, why in reasons)
              for name, reasons in look_first_order(view)] or ["  none"]
    if view.stale:
        lines += ["", f"{len(view.stale)} results come from another version of the grader "
                      "(code, reference, secret or time limits changed); --regrade grades "
                      "everything again: " + _who(view.stale)]
    if notes:
        lines += ["", "Notes:"] + [f"  {inert_text(note)}" for note in notes]
    return lines


def _who(names: list[str], most: int = 10) -> str:
    shown = ", ".join(inert_text(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def look_first_order(view: ClassView) -> list[tuple[str, list[tuple[str, str]]]]:
    """The submissions to look at first, most urgent kind first, then by name."""
    return sorted(view.look_first.items(),
                  key=lambda item: (min(KINDS.index(k) for k, _ in item[1]), item[0]))
