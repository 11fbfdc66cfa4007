"""The instructor's settings file: every key applied, every bad key or value a clear error."""
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import settings
from autograder.config import DEFAULT

ROOT = Path(__file__).resolve().parent.parent

# key -> (a good value in TOML, the Config field's value it gives, a bad value in TOML)
GOOD_AND_BAD = {
    "grading.partial_credit": ("true", True, '"yes"'),
    "grading.time_budget": ("90", 90.0, "0"),
    "grading.timeout_scale": ("2.5", 2.5, '"fast"'),
    "grading.max_load_scale": ("1", 1.0, "0.5"),
    "grading.hint_languages": ('["zh"]', ("zh",), '["fr"]'),
    "isolation.mode": ('"jail"', "jail", '"docker"'),
    "isolation.student_user": ("1234", 1234, "0"),
    "isolation.memory_mib": ("512", 512 << 20, "1.5"),
    "isolation.max_processes": ("32", 32, "-1"),
    "gradescope.visibility": ('"after_due_date"', "after_due_date", '"later"'),
    "class.jobs": ("3", 3, "true"),
    "lstm.enabled": ("true", True, '"on"'),
    "lstm.points": ("30", 30.0, "-5"),
}


def _file(tmp_path, text: str) -> Path:
    path = tmp_path / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _toml(key: str, value: str) -> str:
    table, name = key.split(".")
    return f"[{table}]\n{name} = {value}\n"


def test_every_setting_has_a_test():
    assert set(GOOD_AND_BAD) == set(settings.BY_KEY)


@pytest.mark.parametrize("key", sorted(GOOD_AND_BAD))
def test_a_good_value_is_applied_and_its_source_named(tmp_path, key):
    good, expected, _ = GOOD_AND_BAD[key]
    path = _file(tmp_path, _toml(key, good))
    config, sources = settings.load(path)
    setting = settings.BY_KEY[key]
    assert setting.value(config) == expected != setting.value(DEFAULT)
    assert sources == {key: str(path)}
    assert config.settings_file == str(path.resolve())


@pytest.mark.parametrize("key", sorted(GOOD_AND_BAD))
def test_a_bad_value_names_the_file_the_key_and_what_was_expected(tmp_path, key):
    _, _, bad = GOOD_AND_BAD[key]
    path = _file(tmp_path, _toml(key, bad))
    with pytest.raises(settings.SettingsError) as error:
        settings.load(path)
    message = str(error.value)
    assert str(path) in message and key in message and "expected" in message


def test_an_unknown_key_suggests_the_near_one(tmp_path):
    path = _file(tmp_path, "[grading]\ntime_budgt = 3\n")
    with pytest.raises(settings.SettingsError, match="did you mean 'grading.time_budget'"):
        settings.load(path)


def test_points_by_function_dotted_or_quoted(tmp_path):
    path = _file(tmp_path, '[points]\nrnn_backward = 12\nRNNClassifier.loss = 20\n'
                           '"RNNClassifier.train" = 0\n')
    config, sources = settings.load(path)
    assert dict(config.points) == {"rnn_backward": 12.0, "RNNClassifier.loss": 20.0,
                                   "RNNClassifier.train": 0.0}
    assert "points.RNNClassifier.loss" in sources


@pytest.mark.parametrize("text, words", [
    ("[points]\nrnn_back = 3\n", "not a graded function"),
    ("[points]\nrnn_backward = -1\n", "expected a number"),
    ("[grading\n", "not valid TOML"),
    ("grading = 3\n", "must be a table"),
])
def test_malformed_files_are_errors(tmp_path, text, words):
    with pytest.raises(settings.SettingsError, match=words):
        settings.load(_file(tmp_path, text))


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(settings.SettingsError, match="not found"):
        settings.load(tmp_path / "nowhere.toml")


def test_no_file_gives_the_defaults(monkeypatch):
    monkeypatch.delenv(settings.ENV_VAR, raising=False)
    assert settings.load(None) == (DEFAULT, {})


def test_the_environment_variable_names_the_file(tmp_path, monkeypatch):
    path = _file(tmp_path, "[grading]\ntime_budget = 30\n")
    monkeypatch.setenv(settings.ENV_VAR, str(path))
    assert settings.load(None)[0].time_budget == 30.0


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


def test_config_verb_prints_what_is_in_force_and_where_from(tmp_path):
    path = _file(tmp_path, "[grading]\npartial_credit = true\n[points]\nrnn_backward = 12\n")
    done = _cli("config", "--config", str(path))
    assert done.returncode == 0, done.stderr
    lines = {line.split("=")[0].strip(): line for line in done.stdout.splitlines()[1:]}
    assert "true" in lines["grading.partial_credit"] and str(path) in lines[
        "grading.partial_credit"]
    assert "12" in lines["points.rnn_backward"] and str(path) in lines["points.rnn_backward"]
    assert lines["grading.time_budget"].rstrip().endswith("# default")
    rows = done.stdout.splitlines()[1:]
    assert len(rows) == len(settings.SETTINGS) + len(settings.points_targets())
    # what it prints is itself a settings file that gives the same settings
    again = _file(tmp_path / "..", done.stdout)
    assert _same_settings(settings.load(again)[0], settings.load(path)[0])


def _same_settings(a, b) -> bool:
    fields = [s.field for s in settings.SETTINGS]
    full = dict(settings._default_points())
    return ([getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
            and {**full, **dict(a.points)} == {**full, **dict(b.points)})


def test_a_bad_file_stops_any_verb_with_one_line_and_exit_2(tmp_path):
    path = _file(tmp_path, "[grading]\ntime_budget = -5\n")
    done = _cli("grade", str(ROOT / "solutions" / "rnn"), "--config", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "grading.time_budget" in done.stderr and str(path) in done.stderr


def test_the_readme_example_is_a_valid_settings_file_naming_every_key(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The instructor's settings", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config, sources = settings.load(_file(tmp_path, example))
    assert set(sources) - {k for k in sources if k.startswith("points.")} == set(
        settings.BY_KEY)
    for s in settings.SETTINGS:  # the README shows the defaults
        assert s.value(config) == s.value(DEFAULT), s.key
    assert config.extensions == config.extension_points == ()  # defaults are not held


# ---- each setting that shapes the results, seen in a grading ------------------------------

def _graded(config, bug=("np.add.at(dW, x, dout)", "dW[x] += dout")):
    import shutil
    import tempfile

    from autograder.judging.grade import grade
    from conftest import SOLUTIONS

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "s"
        shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
        text = (folder / "rnn_layers.py").read_text()
        assert text.count(bug[0]) == 1
        (folder / "rnn_layers.py").write_text(text.replace(*bug))
        return grade(folder, config)


def test_visibility_is_what_gradescope_is_told():
    import dataclasses

    data = _graded(dataclasses.replace(DEFAULT, visibility="after_due_date")).to_gradescope()
    assert data["visibility"] == "after_due_date"
    assert {t["visibility"] for t in data["tests"]} == {"after_due_date"}


@pytest.mark.parametrize("languages, shown, withheld", [
    (("en", "zh"), ("Hint:", "提示："), ()),
    (("en",), ("Hint:",), ("提示：",)),
    (("zh",), ("提示：",), ("Hint:",)),
])
def test_hints_come_in_the_languages_asked(languages, shown, withheld):
    import dataclasses

    result = _graded(dataclasses.replace(DEFAULT, hint_languages=languages))
    text = "\n".join(t.output for t in result.tests)
    assert all(word in text for word in shown), text[-2000:]
    assert not any(word in text for word in withheld)


def _max_points(config) -> dict:
    """Each graded function's points after conclude.scale_points (the instructor's points,
    as grading applies them), from Decimal sums of the tests'."""
    from decimal import Decimal

    from autograder.judging.checks import graded, identity_of
    from autograder.judging.conclude import Context, scale_points
    from autograder.judging.results import TestResult
    from autograder.judging.engine import case_share
    tests = [TestResult(identity_of(check, case), case_share(check, case),
                        case_share(check, case), "", "passed")
             for check in graded(config) for case in check.cases]
    totals: dict = {}
    scale_points(tests, Context.of(config))
    for test in tests:
        assert round(test.max_score, 4) == test.max_score == test.score
        totals[test.function] = totals.get(test.function, Decimal(0)) + Decimal(str(test.max_score))
    return totals


def test_the_lstm_takes_its_points_out_of_the_total(tmp_path):
    """Off: no LSTM test; on: its 20 points (or the file's) of exactly 100, the other
    functions sharing the rest in their proportions."""
    off = _max_points(DEFAULT)
    assert sum(off.values()) == 100 and not any(t.startswith("lstm_") for t in off)
    for text, share in (("[lstm]\nenabled = true\n", 20),
                        ("[lstm]\nenabled = true\npoints = 35\n", 35)):
        on = _max_points(settings.load(_file(tmp_path, text))[0])
        assert sum(on.values()) == 100
        assert sum(v for t, v in on.items() if t.startswith("lstm_")) == share
        assert on["rnn_backward"] * 100 == off["rnn_backward"] * (100 - share)
    # [points] and [lstm] together: the extension's share of the total the table gives
    both = settings.load(_file(tmp_path, "[points]\nrnn_backward = 115\n"
                                         "[lstm]\nenabled = true\npoints = 40\n"))[0]
    on = _max_points(both)
    assert sum(on.values()) == 200 and on["rnn_backward"] == 115 * 160 // 200


def test_the_lstm_on_grades_the_reference_100_and_a_missing_file_costs_only_its_points(
        tmp_path):
    """On: the reference 100 with the LSTM's tests; without lstm_layers.py, only the
    LSTM's 20 points are lost, each of its tests saying the file is missing; off: that
    submission 100 with no LSTM test."""
    import shutil

    from autograder.judging.grade import grade
    from autograder.judging.run_cases import MISSING_EXTENSION
    from conftest import SOLUTIONS

    on = settings.load(_file(tmp_path, "[lstm]\nenabled = true\n"))[0]
    full = grade(SOLUTIONS, on)
    assert full.score == full.max_score == 100
    assert any(t.function.startswith("lstm_") for t in full.tests)
    without = tmp_path / "without"
    shutil.copytree(SOLUTIONS, without, ignore=shutil.ignore_patterns("__pycache__",
                                                                      "lstm_layers.py"))
    missing = grade(without, on)
    lstm = [t for t in missing.tests if t.function.startswith("lstm_")]
    assert round(missing.score, 4) == 80 and lstm and all(t.score == 0 for t in lstm)
    said = MISSING_EXTENSION[0].format(module="lstm_layers")
    assert all(said in t.output for t in lstm), lstm[0].output
    off = grade(without, DEFAULT)
    assert off.score == 100 and not any(t.function.startswith("lstm_") for t in off.tests)
