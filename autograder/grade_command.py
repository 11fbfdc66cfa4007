"""`python -m autograder grade SUBMISSION [--output results.json]`."""
import argparse
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="a folder or a .zip")
    parser.add_argument("--output", type=Path, default=None,
                        help="write Gradescope results.json here")
    parser.add_argument("--no-colour", action="store_true", help="plain terminal report")
    parser.add_argument("--no-isolation", action="store_true",
                        help="grade even where the student's code cannot be isolated")


def usage_error(path: Path) -> str:
    """Why path is not a submission at all (one line, the whole path), or ""."""
    path = Path(path)
    shown = os.path.abspath(path)
    if path.is_dir():
        return ""
    if not path.exists():
        return f"{shown}: no such file or folder (expected a folder or a .zip)"
    if path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        return ""
    return f"{shown}: neither a folder nor a .zip file"


def run(args, config) -> int:
    """Exit 0 whenever grading finished, however low the score; 2 when SUBMISSION is not
    a submission (no results file then) or when the grader's own installation is broken
    (the results file is written then, finally)."""
    import dataclasses

    from autograder.sandbox import isolation
    from autograder.judging import results
    from autograder.secret import creation_notice

    not_one = usage_error(args.submission)
    if not_one:
        print(f"grade: {not_one}", file=sys.stderr)
        return 2
    if getattr(args, "no_isolation", False):
        config = dataclasses.replace(config, allow_no_isolation=True)
    refused = isolation.refusal(config)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    start, result = time.monotonic(), None
    try:
        from autograder.judging.grade import grade

        result = grade(args.submission, config)
    except Exception as exc:  # noqa: BLE001  grade() handles the submission's doings
        traceback.print_exc(file=sys.stderr)
        result = results.internal_error(f"{type(exc).__name__}: {exc}",
                                        time.monotonic() - start)
    finally:
        if result is None:  # interrupted (KeyboardInterrupt): still a valid file
            result = results.internal_error("grading was interrupted",
                                            time.monotonic() - start)
        if args.output:
            result.write_json(args.output)
    print(result.report(colour=False if args.no_colour else None))
    if notice := creation_notice():
        print(notice, file=sys.stderr)
    if result.grader_error:
        print(f"grade: the grader could not run: {result.grader_error}", file=sys.stderr)
        return 2
    return 0
