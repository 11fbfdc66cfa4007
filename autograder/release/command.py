"""`python -m autograder release [--release-dir DIR]`."""
import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--release-dir", type=Path, default=None,
                        help="where the student release goes (default: assignment/)")


def run(args, config) -> int:
    from autograder.release import release

    return release(config, release_dir=args.release_dir)
