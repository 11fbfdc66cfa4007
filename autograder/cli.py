"""Command line: argument parsing only; each verb's work lives in its own module.

A verb is a module with `add_arguments(parser)` and `run(args, config) -> exit code`;
defaults come from config.DEFAULT. Modules are imported only when their verb runs,
except for add_arguments, which must stay cheap to import.
"""
import argparse
import importlib
from pathlib import Path

from autograder.config import DEFAULT

# verb -> (module, one-line help)
VERBS = {
    "release": ("autograder.release.command", "solutions/ + source_notebooks/ -> assignment/"),
    "grade": ("autograder.grade_command", "grade one submission (a folder or a .zip)"),
    "check": ("autograder.judging.selfcheck", "the student's self-check on the public cases"),
    "pack": ("autograder.intake.pack", "the student's zip to hand in (only what the grader reads)"),
    "grade-all": ("autograder.classroom.grade_all", "grade every submission in a folder"),
    "autograder-zip": ("autograder.integrations.gradescope", "build the Gradescope autograder zip"),
    "data": ("autograder.data", "download CIFAR-10 (python version) where the notebook looks"),
    "config": ("autograder.config_command", "print the settings in force and where each came from"),
    "dask-scheduler": ("autograder.classroom.dask_scheduler", "start a grading Dask cluster's scheduler"),
    "dask-worker": ("autograder.classroom.dask_worker", "start a grading Dask cluster's workers "
                    "(one per CPU)"),
}


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The RNN assignment's tool: release it, grade submissions, check work.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="the instructor's settings (TOML); default: $RNN_GRADER_CONFIG "
                             "or none (see autograder/settings.py)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, (module, help_text) in VERBS.items():
        sub = verbs.add_parser(verb, help=help_text, description=help_text, parents=[common])
        if only in (None, verb):
            try:
                importlib.import_module(module).add_arguments(sub)
            except ModuleNotFoundError:
                pass  # a verb not built yet: its run() reports it
    return parser


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    verb = argv[0] if argv and argv[0] in VERBS else None
    args = _parser(only=verb).parse_args(argv)
    try:
        module = importlib.import_module(VERBS[args.verb][0])
    except ModuleNotFoundError as exc:
        if not VERBS[args.verb][0].startswith(str(exc.name)):
            raise
        print(f"python -m autograder {args.verb}: not available in this version")
        return 2
    from autograder.settings import SettingsError, load

    try:
        config, sources = load(args.config, DEFAULT)
    except SettingsError as exc:
        print(f"python -m autograder {args.verb}: {exc}", file=sys.stderr)
        return 2
    args.settings_sources = sources
    return module.run(args, config)
