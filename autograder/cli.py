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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "release":
        from autograder.release import release

        return release(DEFAULT, release_dir=args.release_dir)
    raise AssertionError(f"unhandled verb {args.verb}")
