"""`python -m autograder grade SUBMISSION [--output results.json]`."""
import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="a folder or a .zip")
    parser.add_argument("--output", type=Path, default=None,
                        help="write Gradescope results.json here")
    parser.add_argument("--no-colour", action="store_true", help="plain terminal report")


def run(args, config) -> int:
    """Exit 0 whenever grading finished, however low the score."""
    from autograder.grade import grade

    result = grade(args.submission, config)
    if args.output:
        result.write_json(args.output)
    print(result.report(colour=False if args.no_colour else None))
    return 0
