"""`python -m autograder pack [FOLDER] [--output ZIP]`: the zip a student hands in.

Run in the student's folder, it writes rnn_submission.zip there holding exactly what the
grader reads (submission.select: the graded .py files and RNN.ipynb, under their proper
names, at the zip's top) and nothing else (no environment, data or checkpoints), reads
it back as the grader would, and says where it is and what it holds. A required file
missing: nothing is written. Stdlib only: the student kit runs it without NumPy.
"""
import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

from autograder.intake import inert, submission

ZIP_NAME = "rnn_submission.zip"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same files give the same zip


class PackError(Exception):
    """Nothing to hand in (the message says what is missing and what was found)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, default=Path("."),
                        help="the folder with rnn_layers.py (default: here)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"the zip to write (default: FOLDER/{ZIP_NAME})")


def main(argv: list[str] | None = None) -> int:
    """The kit's entry point: python -m autograder pack [FOLDER]."""
    parser = argparse.ArgumentParser(prog="python -m autograder pack",
                                     description="Write the zip to hand in.")
    add_arguments(parser)
    return run(parser.parse_args(argv), None)


def run(args, config) -> int:
    if hasattr(sys.stdout, "reconfigure"):  # a console that cannot show the Chinese line
        sys.stdout.reconfigure(errors="replace")
    folder = Path(args.folder)
    output = Path(args.output or folder / ZIP_NAME)
    try:
        names, notes = pack(folder, output)
    except (PackError, submission.SubmissionError) as exc:
        print(f"Nothing written. {exc}\n未生成提交文件：请先修正上面的问题。")
        return 1
    except OSError as exc:
        print(f"Nothing written: cannot write {os.path.abspath(output)} "
              f"({exc.strerror or exc}).\n未生成提交文件：无法写入。")
        return 1
    for note in notes:
        print(f"Note: {note}")
    size = output.stat().st_size
    print(f"Wrote {os.path.abspath(output)} ({size / 1024:.0f} kB) with {', '.join(names)}.\n"
          f"Hand in this file. 请提交这个文件。")
    if submission.NOTEBOOK not in names:
        print(f"{submission.NOTEBOOK} was not found: the zip holds your .py files only "
              "(your instructor reads the written answers in the notebook).")
    return 0


def pack(folder: Path, output: Path) -> tuple[list[str], list[str]]:
    """Write output; return (the names in it, notes for the student)."""
    if not Path(folder).is_dir():
        raise PackError(f"{inert.line(os.path.abspath(folder))} is not a folder.")
    chosen = submission.select(folder, submission.GRADED + (submission.NOTEBOOK,))
    contents = submission.read_all(chosen)
    missing = [name for name in submission.REQUIRED if name not in contents]
    if missing:
        raise PackError(" ".join(n for n in chosen.notes if n.split(" ")[0] in missing)
                        or f"{', '.join(missing)} not found.")
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(_zip(contents))
        _check(tmp, contents)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    notes = chosen.notes + submission.unread_imports(chosen, contents)
    return list(contents), [n for n in notes if not n.startswith("Graded the files")]


def _zip(contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in contents.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def _check(archive: Path, contents: dict[str, bytes]) -> None:
    """The zip, read as the grader reads a submission, gives exactly contents."""
    chosen = submission.select(archive, submission.GRADED + (submission.NOTEBOOK,))
    if submission.read_all(chosen) != contents or chosen.notes:
        raise PackError("the zip could not be read back as written (a bug of pack: please "
                        "tell your instructor).")
