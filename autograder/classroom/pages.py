"""report.html and feedback/<name>.html, rendered from Jinja2 templates (templates/).

Both are self-contained files (styles inline, the histogram embedded as a data: URL, no
script or font from elsewhere), so they can be mailed, put in an LMS or opened offline.
Autoescape is on for every template, and every student-controlled string also goes
through batch_report.inert_text (no control characters); links to feedback pages are
percent-encoded file names that the student's folder name cannot steer out of feedback/.
"""
import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from autograder.classroom import report as batch_report
from autograder.classroom.report import (ClassView, flags_of, function_scores, headline,
                                     inert_text, look_first_order)
from autograder.classroom.store import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
# where a long identifier may wrap in a narrow column: after _ or ., and in RNN|Classifier
BREAKS = re.compile(r"(?<=[_.])|(?<=[A-Z])(?=[A-Z][a-z])")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")


def feedback_file(name: str) -> str:
    """The feedback page's file name: <name>.html when the name is a plain file name,
    else a plain version of it plus a hash of the real name (never a path, never a
    name that two submissions share)."""
    if SAFE_NAME.fullmatch(name) and not name.endswith((" ", ".")):
        return f"{name}.html"
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", inert_text(name)).strip("._")[:60] or "submission"
    return f"{plain}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}.html"


def feedback_files(names: list[str]) -> dict[str, str]:
    """name -> its feedback page's file name, unique even where the file system ignores
    case (a name made to match another's page gets a numbered one)."""
    files, taken = {}, set()
    for name in names:
        file, stem, n = feedback_file(name), feedback_file(name)[:-5], 1
        while file.lower() in taken:
            n += 1
            file = f"{stem}-{n}.html"
        files[name] = file
        taken.add(file.lower())
    return files


def _environment(files: dict[str, str]):
    import jinja2
    import markupsafe

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["inert"] = inert_text
    env.filters["breakable"] = lambda text: markupsafe.Markup("<wbr>").join(
        markupsafe.escape(part) for part in BREAKS.split(text))
    env.filters["inert_lines"] = lambda text: inert_text(text, keep_newlines=True)
    env.filters["num"] = lambda x, digits=2: f"{x:.{digits}f}".rstrip("0").rstrip(".")
    env.filters["pct"] = lambda part, whole: f"{100 * part / whole:.0f}" if whole else "0"
    env.filters["href"] = lambda name: "feedback/" + quote(files[name])
    return env


def write_pages(view: ClassView, records: dict[str, dict], notes: list[str], png: bytes,
                out: Path) -> None:
    """report.html and one feedback page per submission; stale feedback pages removed."""
    files = feedback_files(view.names)
    env = _environment(files)
    students = [{"name": name, "score": view.scores[name],
                 "max_score": records[name].get("max_score", 0),
                 "flags": flags_of(view, name), "look_first": name in view.look_first,
                 "functions": function_scores(view, records[name])} for name in view.names]
    page = env.get_template("report.html.j2").render(
        view=view, headline=headline(view), students=students, notes=notes,
        look_first=look_first_order(view), hints=view.hints_by_count(),
        histogram=base64.b64encode(png).decode("ascii"))
    _write_feedback(env, view, records, files, Path(out) / "feedback")
    write_text_atomic(Path(out) / "report.html", page)


def _write_feedback(env, view: ClassView, records: dict[str, dict], files: dict[str, str],
                    folder: Path) -> None:
    template = env.get_template("feedback.html.j2")
    written = set()
    for name in view.names:
        record = records[name]
        functions = []
        for function in view.functions:
            own = [t for t in record["tests"] if view.function_of[t["name"]] == function.name]
            functions.append({"name": function.name, "tests": own,
                              "score": sum(t["score"] for t in own),
                              "max_score": sum(t["max_score"] for t in own),
                              "passed": all(t.get("status") == "passed" for t in own)})
        file = files[name]
        write_text_atomic(folder / file, template.render(name=name, record=record,
                                                         functions=functions))
        written.add(file)
    for old in folder.glob("*.html"):  # a submission no longer in the class
        if old.name not in written:
            old.unlink(missing_ok=True)


def build(records: dict[str, dict], out: Path, notes: list[str], grader: str | None = None) -> str:
    """Write the gradebook, histogram, summary, HTML report and feedback pages; return
    the summary."""
    out = Path(out)
    view = batch_report.analyse(records, grader)
    batch_report.write_gradebook(view, records, out)
    png = batch_report.histogram_png(view)
    write_text_atomic(out / "histogram.png", png)
    lines = batch_report.summary_lines(view, notes)
    write_pages(view, records, notes, png, out)
    lines += ["", f"Written: {out / 'grades.csv'}, {out / 'grades_tests.csv'}, "
                  f"{out / 'report.html'}, "
                  f"{out / 'feedback'}/, {out / 'histogram.png'}, {out / 'summary.txt'}"]
    write_text_atomic(out / "summary.txt", "\n".join(lines) + "\n")
    return "\n".join(lines)
