"""The instructor's settings: one TOML file, checked on load; the defaults need no file.

    config, sources = settings.load(path)   # Config with the file over the defaults
    print(settings.describe(config, sources))  # `python -m autograder config`

The file is found by `--config FILE`, else by the environment variable
RNN_GRADER_CONFIG; without either, every setting is its default (config.py). Each key of
the file is one row of SETTINGS below: its table and name in the file, the Config field
it sets, what it accepts, and one line of help. A key that is not there, or a value it
does not accept, is an error naming the file, the key, what was expected and what was
found; nothing is half-applied.

    [grading]
    partial_credit = false        # a case earns the share of its outputs that are right
    time_budget = 60.0            # seconds per submission in all
    [points]                      # points per graded function (the default split sums to 100)
    rnn_backward = 15
    [lstm]
    enabled = false               # the optional LSTM extension (lstm_layers.py)
    points = 20                   # its share of the total when on
"""
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from functools import partial
from typing import Callable

from autograder.config import DEFAULT, Config
from autograder.sandbox.child import functions

ENV_VAR = "RNN_GRADER_CONFIG"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
LANGUAGES = ("en", "zh")
ISOLATION_MODES = ("auto", "bwrap", "jail", "user", "none")


class SettingsError(Exception):
    """The settings file cannot be used: the message names the file, key and values."""


@dataclass(frozen=True)
class Setting:
    key: str  # "table.name" in the file
    field: str  # the Config field it sets
    check: Callable  # value -> converted value, or raises ValueError("expected ...")
    help: str
    # an optional extension's: the field holds (extension, value) pairs, this setting
    # the pair of its table; default() is its value when the file gives none
    part: str = ""
    default: Callable = lambda: None

    def value(self, config):
        """This setting's value in config."""
        if not self.part:
            return getattr(config, self.field)
        return dict(getattr(config, self.field)).get(self.part, self.default())


def _number(low: float, high: float = float("inf")):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        return float(value)
    return check


def _integer(low: int, high: int = 1 << 62):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value
    return check


def _boolean(value):
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _one_of(*choices):
    def check(value):
        if value not in choices:
            raise ValueError("expected one of " + ", ".join(f'"{c}"' for c in choices))
        return value
    return check


def _languages(value):
    if (not isinstance(value, list) or not value
            or any(v not in LANGUAGES for v in value) or len(set(value)) != len(value)):
        raise ValueError("expected a non-empty list of distinct languages from "
                         + ", ".join(f'"{c}"' for c in LANGUAGES))
    return tuple(value)


def _student_user(value):
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                           and 1 <= value < 1 << 31):
        return value
    raise ValueError('expected "auto" or a uid other than 0')


MIB = 1 << 20
SETTINGS: tuple[Setting, ...] = (
    Setting("grading.partial_credit", "partial_credit", _boolean,
            "a case earns the share of its outputs that are right (false: all or nothing)"),
    Setting("grading.time_budget", "time_budget", _number(1, 3600),
            "seconds one submission gets in all; tests not reached score 0"),
    Setting("grading.timeout_scale", "timeout_scale", _number(0.1, 100),
            "multiplies every per-call time limit (a slow machine: 2)"),
    Setting("grading.max_load_scale", "max_load_scale", _number(1, 20),
            "on a busy machine, time limits grow with the load per CPU up to this factor"),
    Setting("grading.hint_languages", "hint_languages", _languages,
            'languages of the hints, e.g. ["en", "zh"]'),
    Setting("isolation.mode", "isolation", _one_of(*ISOLATION_MODES),
            "how the student's code is isolated; auto takes the strongest that works"),
    Setting("isolation.student_user", "student_user", _student_user,
            "uid the student's code runs as when the grader is root"),
    Setting("isolation.memory_mib", "memory_cap", _integer(64, 1 << 20),
            "memory of the student's process tree, MiB"),
    Setting("isolation.max_processes", "max_processes", _integer(4, 4096),
            "processes and threads of the student's process tree"),
    Setting("gradescope.visibility", "visibility", _one_of(*VISIBILITIES),
            "what students see on Gradescope before the due date (its test visibility)"),
    Setting("class.jobs", "batch_jobs", _integer(0, 1024),
            "grade-all's parallel gradings; 0 = one per CPU"),
)


def _extension_points(name: str) -> float:
    from autograder.points import default_extension_points  # the checks: NumPy

    return default_extension_points()[name]


def _extension_settings(name: str, module: str) -> tuple[Setting, ...]:
    """The table of one optional extension (functions.EXTENSIONS): made here for each."""
    return (Setting(f"{name}.enabled", "extensions", _boolean,
                    f"grade the optional {name} extension ({module}.py); off: the file is "
                    "not needed", part=name, default=lambda: False),
            Setting(f"{name}.points", "extension_points", _number(0, 1000),
                    "its points when on, out of the total (the other functions share the "
                    "rest)", part=name, default=partial(_extension_points, name)))


SETTINGS += tuple(setting for name, module in functions.EXTENSIONS.items()
                  for setting in _extension_settings(name, module))
_SCALE = {"memory_cap": MIB}  # file unit -> Config unit
BY_KEY = {s.key: s for s in SETTINGS}


def points_targets() -> tuple[str, ...]:
    """The graded functions whose points the [points] table may set."""
    return tuple(_default_points())


def load(path: Path | None = None, base: Config = DEFAULT) -> tuple[Config, dict]:
    """(Config, {key: where it came from}) from the file at `path`, or RNN_GRADER_CONFIG,
    or none; raises SettingsError naming the file and the key."""
    if path is None and os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    if path is None:
        return base, {}
    data = _read(Path(path))
    changes, sources, parts = {}, {}, {}
    for table, entries in data.items():
        if table == "points":
            changes["points"] = _points(path, entries)
            sources.update({f"points.{k}": str(path) for k in _flat(entries)})
            continue
        if not isinstance(entries, dict):
            raise SettingsError(f"{path}: '{table}' must be a table ([{table}])")
        for name, value in entries.items():
            key = f"{table}.{name}"
            setting = BY_KEY.get(key)
            if setting is None:
                raise SettingsError(
                    f"{path}: unknown setting '{key}'{_did_you_mean(key)}; known: "
                    + ", ".join([*BY_KEY, "points.<function>"]))
            try:
                value = setting.check(value)
            except ValueError as exc:
                raise SettingsError(f"{path}: {key} = {value!r}: {exc}") from None
            if setting.part:  # held only where it differs from its default
                pairs = parts.setdefault(setting.field, dict(getattr(base, setting.field)))
                pairs.pop(setting.part, None)
                if value != setting.default():
                    pairs[setting.part] = value
            else:
                changes[setting.field] = value * _SCALE[setting.field] \
                    if setting.field in _SCALE else value
            sources[key] = str(path)
    changes.update({field: tuple(sorted(pairs.items())) for field, pairs in parts.items()})
    return dataclasses.replace(base, **changes, settings_file=str(Path(path).resolve())), sources


def _did_you_mean(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, BY_KEY, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _read(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise SettingsError(f"{path}: reading a settings file needs Python 3.11 or newer "
                                "(tomllib), or the tomli package") from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def _points(path, entries) -> tuple[tuple[str, float], ...]:
    if not isinstance(entries, dict):
        raise SettingsError(f"{path}: 'points' must be a table ([points])")
    targets = points_targets()
    result = []
    for target, value in _flat(entries).items():
        if target not in targets:
            raise SettingsError(f"{path}: points.{target}: not a graded function; "
                                "expected one of " + ", ".join(targets))
        try:
            result.append((target, _number(0, 1000)(value)))
        except ValueError as exc:
            raise SettingsError(f"{path}: points.{target} = {value!r}: {exc}") from None
    return tuple(result)


def _flat(entries: dict, prefix: str = "") -> dict:
    """{"RNNClassifier": {"loss": 22}} (an unquoted dotted key) -> {"RNNClassifier.loss": 22}."""
    flat = {}
    for name, value in entries.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[prefix + name] = value
    return flat


def describe(config: Config, sources: dict) -> str:
    """The settings in force, one per line, with where each came from (as TOML: saved to
    a file, it gives the same settings)."""
    lines = [f"# Settings in force ({config.settings_file or 'no settings file: defaults'});"
             " this text is itself a valid settings file"]
    for s in SETTINGS:
        value = s.value(config)
        if s.field in _SCALE:
            value //= _SCALE[s.field]
        shown = list(value) if isinstance(value, tuple) else value
        lines.append(f"  {s.key:<36} = {_toml(shown):<16} # {sources.get(s.key, 'default')}")
    points = dict(config.points)
    for target, default in _default_points().items():
        value = points.get(target, default)
        where = sources.get(f"points.{target}", "default")
        lines.append(f"  {'points.' + target:<36} = {_toml(value):<16} # {where}")
    return "\n".join(lines)


def _default_points() -> dict:
    from autograder.points import default_points

    return default_points()


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)
