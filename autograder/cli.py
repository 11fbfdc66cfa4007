"""Command line: argument parsing only; the work happens in the modules it calls."""
import argparse
from pathlib import Path

from autograder.config import DEFAULT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    release = verbs.add_parser("release", help="solutions/ + source_notebooks/ -> assignment/")
    release.add_argument("--release-dir", type=Path, default=DEFAULT.release_dir,
                         help="where the student release goes (default: %(default)s)")

    grade = verbs.add_parser("grade", help="grade one submission (a folder or a .zip)")
    grade.add_argument("submission", type=Path)
    grade.add_argument("--output", type=Path, default=None,
                       help="write Gradescope results.json here")
    grade.add_argument("--no-colour", action="store_true", help="plain terminal report")

    check = verbs.add_parser("check", help="the student's self-check on the public cases")
    check.add_argument("folder", nargs="?", default=".", help="default: the current folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "release":
        from autograder.release import release

        return release(DEFAULT, release_dir=args.release_dir)
    if args.verb == "grade":
        return _grade(args)
    if args.verb == "check":
        from autograder.reference import load_reference
        from autograder.selfcheck import main as check

        reference = load_reference(DEFAULT.solutions_dir / DEFAULT.assignment)
        return check([args.folder], reference=reference)
    raise AssertionError(f"unhandled verb {args.verb}")


def _grade(args) -> int:
    """Exit 0 whenever grading finished, however low the score."""
    from autograder.grade import grade

    result = grade(args.submission, DEFAULT)
    if args.output:
        result.write_json(args.output)
    print(result.report(colour=False if args.no_colour else None))
    return 0
