"""The class's results as an instructor reads them, rebuilt from the records every time.

    grades.csv      the gradebook: one row per submission, a column per test, the total
    summary.txt     pass rate of every test, the mistakes most often recognised (hints),
                    the score distribution, time limits hit, unreadable submissions
    histogram.png   the score distribution (matplotlib, Agg: no display needed)
    report.html     the same as summary.txt, self-contained (histogram embedded)
"""
import base64
import csv
import html
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch_store import write_text_atomic

UNREADABLE = ("The submission could not be graded", "is missing from the submission")
TOP_HINTS = 15


@dataclass
class ClassView:
    names: list[str]
    tests: list[str]  # every test name, in grading order
    max_scores: dict[str, float]
    scores: dict[str, float]  # total per submission
    max_total: float
    passed: Counter = field(default_factory=Counter)  # test name -> submissions passing
    hints: Counter = field(default_factory=Counter)  # (function, hint) -> submissions
    timeouts: dict[str, list[str]] = field(default_factory=dict)  # name -> functions
    unreadable: dict[str, str] = field(default_factory=dict)  # name -> reason
    grader_errors: dict[str, str] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # graded by another grader version


def analyse(records: dict[str, dict], grader: str | None = None) -> ClassView:
    tests, max_scores = [], {}
    for record in records.values():
        for test in record["tests"]:
            if test["name"] not in max_scores:
                tests.append(test["name"])
                max_scores[test["name"]] = test["max_score"]
    view = ClassView(sorted(records), tests, max_scores,
                     {n: r["score"] for n, r in records.items()},
                     max((r.get("max_score", 0) for r in records.values()), default=0))
    for name, record in records.items():
        info = record["submission"]
        seen_hints = set()
        for test in record["tests"]:
            view.passed[test["name"]] += test.get("status") == "passed"
            for hint in test.get("hints", []):
                seen_hints.add((test["name"].split(":", 1)[0], hint))
            if test.get("status") == "timeout":
                target = test["name"].split(":", 1)[0]
                if target not in view.timeouts.setdefault(name, []):
                    view.timeouts[name].append(target)
        view.hints.update(seen_hints)
        reason = next((line for line in record.get("output", "").splitlines()
                       if any(mark in line for mark in UNREADABLE)), None)
        if info.get("grader_error"):
            view.grader_errors[name] = info["grader_error"].strip().splitlines()[-1][:300]
        elif reason:
            view.unreadable[name] = reason
        if grader and info.get("grader_version") != grader:
            view.stale.append(name)
    return view


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


def write_gradebook(view: ClassView, records: dict[str, dict], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "total", "max_score", "flags", *view.tests])
    for name in view.names:
        by_test = {t["name"]: t["score"] for t in records[name]["tests"]}
        flags = [f for f, names in (("grader error", view.grader_errors),
                                    ("unreadable", view.unreadable),
                                    ("timeout", view.timeouts)) if name in names]
        safe = "'" + name if name[:1] in ("=", "+", "-", "@") else name  # no CSV formulas
        writer.writerow([safe, _num(view.scores[name]), _num(records[name].get("max_score", 0)),
                         "; ".join(flags), *(_num(by_test[t], 4) if t in by_test else ""
                                            for t in view.tests)])
    write_text_atomic(path, buffer.getvalue())


def histogram_png(view: ClassView) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
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


def summary_lines(view: ClassView, notes: list[str]) -> list[str]:
    scores = list(view.scores.values())
    lines = [f"{len(scores)} submissions, scores out of {_num(view.max_total)}"]
    if scores:
        lines[0] += (f": mean {_num(statistics.mean(scores))}, median "
                     f"{_num(statistics.median(scores))}, min {_num(min(scores))}, max "
                     f"{_num(max(scores))}; full marks {sum(s >= view.max_total for s in scores)}")
    lines += ["", "Pass rate of every test (submissions passing / all):"]
    for test in view.tests:
        rate = view.passed[test] / max(len(scores), 1)
        lines.append(f"  {rate:4.0%}  {view.passed[test]:>4}/{len(scores)}  {test}")
    lines += ["", "Mistakes the class made (known-mistake hints, by submissions):"]
    for (target, hint), count in view.hints.most_common(TOP_HINTS) or []:
        first = hint.splitlines()[0].removeprefix("Hint: ")
        lines.append(f"  {count:>4}  {target}: {first}")
    if not view.hints:
        lines.append("  none recognised")
    lines += ["", f"Hit a time limit ({len(view.timeouts)}):"]
    lines += [f"  {n}: {', '.join(t)}" for n, t in sorted(view.timeouts.items())] or ["  none"]
    lines += ["", f"Could not be read ({len(view.unreadable)}):"]
    lines += [f"  {n}: {r}" for n, r in sorted(view.unreadable.items())] or ["  none"]
    if view.grader_errors:
        lines += ["", f"The grader itself failed ({len(view.grader_errors)}; their tests "
                      "are recorded as errors, grade them again):"]
        lines += [f"  {n}: {e}" for n, e in sorted(view.grader_errors.items())]
    if view.stale:
        lines += ["", f"{len(view.stale)} results come from another version of the grader "
                      "(code, reference, secret or time limits changed); --regrade grades "
                      "everything again: " + ", ".join(view.stale[:10])
                  + (" ..." if len(view.stale) > 10 else "")]
    if notes:
        lines += ["", "Notes:"] + [f"  {note}" for note in notes]
    return lines


def write_html(view: ClassView, lines: list[str], png: bytes, path: Path) -> None:
    esc = html.escape
    rows = "".join(
        f"<tr><td class=n>{view.passed[t] / max(len(view.names), 1):.0%}</td>"
        f"<td><div class=bar style='width:{100 * view.passed[t] / max(len(view.names), 1):.0f}px'>"
        f"</div></td><td>{esc(t)}</td></tr>" for t in view.tests)
    hints = "".join(f"<tr><td class=n>{c}</td><td>{esc(target)}</td>"
                    f"<td class=pre>{esc(hint)}</td></tr>"
                    for (target, hint), c in view.hints.most_common(TOP_HINTS))
    problems = "".join(f"<tr><td>{esc(n)}</td><td>{esc(kind)}</td><td>{esc(what)}</td></tr>"
                       for kind, items in (("time limit", {n: ", ".join(t) for n, t in
                                                           view.timeouts.items()}),
                                           ("could not be read", view.unreadable),
                                           ("grader error", view.grader_errors))
                       for n, what in sorted(items.items()))
    grades = "".join(f"<tr><td>{esc(n)}</td><td class=n>{_num(view.scores[n])}</td></tr>"
                     for n in view.names)
    image = base64.b64encode(png).decode()
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RNN homework: class report</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}
.n{{text-align:right;font-variant-numeric:tabular-nums}}.bar{{height:10px;background:#3b7dd8}}
.pre{{white-space:pre-line}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>RNN homework: class report</h1>
<p>{esc(lines[0])}</p>
<img alt="score histogram" src="data:image/png;base64,{image}"><p><a href="histogram.png">histogram.png</a> · <a href="grades.csv">grades.csv</a></p>
<h2>Pass rate of every test</h2><table>{rows}</table>
<h2>Mistakes the class made</h2><table><tr><th>submissions</th><th>function</th><th>hint</th></tr>{hints or "<tr><td>none recognised</td></tr>"}</table>
<h2>Submissions to look at</h2><table><tr><th>submission</th><th>problem</th><th>details</th></tr>{problems or "<tr><td>none</td></tr>"}</table>
<h2>Scores</h2><table><tr><th>submission</th><th>score</th></tr>{grades}</table>
<h2>Summary as text</h2><pre>{esc(chr(10).join(lines))}</pre></body></html>
"""
    write_text_atomic(path, page)


def build(records: dict[str, dict], out: Path, notes: list[str], grader: str | None = None) -> str:
    """Write the gradebook, histogram, summary and HTML report; return the summary."""
    out = Path(out)
    view = analyse(records, grader)
    write_gradebook(view, records, out / "grades.csv")
    png = histogram_png(view)
    write_text_atomic(out / "histogram.png", png)
    lines = summary_lines(view, notes)
    lines += ["", f"Written: {out / 'grades.csv'}, {out / 'report.html'}, "
                  f"{out / 'histogram.png'}, {out / 'summary.txt'}"]
    write_text_atomic(out / "summary.txt", "\n".join(lines) + "\n")
    write_html(view, lines[:-2], png, out / "report.html")
    return "\n".join(lines)
