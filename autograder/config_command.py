"""`python -m autograder config [--config FILE]`: the settings in force, and where each
came from (the file, or the default)."""


def add_arguments(parser) -> None:
    """No arguments of its own: --config is common to every verb (cli.py)."""


def run(args, config) -> int:
    from autograder.settings import describe

    print(describe(config, getattr(args, "settings_sources", {})))
    return 0
