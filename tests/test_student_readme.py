"""The student README's steps, run word for word in a copy of the release (issue 22), with
the reference solutions as the student's work and the released notebook with the answers
of the source notebook's solution cells as the student's finished notebook; then the
instructor grades the zip that `pack` wrote: 100.

Three substitutions keep it fast and off the network, and are the only ones:
- `python -m venv .venv` runs as `python -m venv --without-pip .venv` (the venv itself is
  real: it sits in the folder, as the README has it), and a .pth file in it reaches this
  interpreter's packages, pip included, so `pip install -r requirements.txt` finds
  everything installed (PIP_NO_INDEX: it could not download anything anyway). As pip
  installs nothing, the test writes into .venv/bin the console scripts of the README's
  `jupyter` commands, as pip writes them: they run the venv's python;
- the notebook runs with RNN_SHORT_TRAINING=1 (its language model trains for 3 iterations,
  as under nbgrader autograde, not 200);
- `python download_cifar10.py` (network, 163 MB) and `jupyter notebook RNN.ipynb`
  (interactive) are not run: the notebook runs without CIFAR-10, and each cell that needs
  it says it skipped.
Any other line of a README code block must be run as written, or this test fails.
"""
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat

from conftest import RELEASE, ROOT, SOLUTIONS

SOURCE_NOTEBOOK = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
RUN_THE_NOTEBOOK = "jupyter nbconvert --to notebook --execute --inplace RNN.ipynb"
NOT_RUN = {"python download_cifar10.py", "jupyter notebook RNN.ipynb"}
SUBSTITUTED = {"python -m venv .venv": "python -m venv --without-pip .venv",
               RUN_THE_NOTEBOOK: f"RNN_SHORT_TRAINING=1 {RUN_THE_NOTEBOOK}"}
NO_CIFAR = "Skipped: no CIFAR-10 data (see section 7.4)."
# What the student's shell may not hold: the test's own settings of these would change
# what the notebook, pip or the kit do.
NOT_INHERITED = ("PYTHONPATH", "VIRTUAL_ENV", "CIFAR10_DIR", "NBGRADER_EXECUTION",
                 "RNN_SHORT_TRAINING", "RNN_GRADER_BRIDGE")


def _readme_commands() -> list[str]:
    """Every line of the README's code blocks, comments after the command removed."""
    text = (RELEASE / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def _solution_lines(cell) -> tuple[list[str], int, int]:
    """A source cell's lines and the indices of its BEGIN / END SOLUTION markers."""
    lines = cell.source.splitlines()
    marker = [i for i, line in enumerate(lines) if line.strip() in ("### BEGIN SOLUTION",
                                                                     "### END SOLUTION")]
    assert len(marker) == 2, f"{cell.metadata.nbgrader['grade_id']}: markers at {marker}"
    return lines, marker[0], marker[1]


def answer_the_notebook(path: Path) -> list[str]:
    """The student's finished notebook: every solution cell of the released notebook at
    `path` filled in with the source notebook's answer (its solution region, markers
    dropped), everything else as released. The grade_ids of the cells filled in."""
    answers = {cell.metadata.nbgrader["grade_id"]: cell
               for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(path, as_version=4)
    filled = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        lines, begin, end = _solution_lines(answers[grade_id])
        # The released cell is the source cell with a placeholder for the region.
        assert cell.source.startswith("\n".join(lines[:begin])), grade_id
        assert cell.source.endswith("\n".join(lines[end + 1:])), grade_id
        cell.source = "\n".join(lines[:begin] + lines[begin + 1:end] + lines[end + 1:])
        filled.append(grade_id)
    assert sorted(filled) == sorted(answers), "a solution cell of the source is not released"
    nbformat.write(notebook, path)
    return filled


def reach_this_interpreter(venv: Path, commands: list[str]) -> None:
    """The venv made by `python -m venv --without-pip` as pip would leave it: this
    interpreter's packages reached by a .pth file, and the console scripts of the
    commands' `jupyter X` (`jupyter` and `jupyter-X`) written in pip's form."""
    (site_packages,) = venv.glob("lib/python3*/site-packages")
    (site_packages / "reach-the-test-interpreter.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    names = {name for command in commands if command.startswith("jupyter ")
             for name in ("jupyter", "jupyter-" + command.split()[1])}
    for name in names:
        (entry,) = importlib.metadata.entry_points(group="console_scripts", name=name)
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                          f"from {entry.module} import {entry.attr}\n"
                          f"sys.exit({entry.attr}())\n")
        script.chmod(0o755)


def _run(lines: list[str], folder: Path, env: dict) -> str:
    """Run `lines` in one bash (stopping at the first failure) in `folder`; its stdout."""
    done = subprocess.run(["bash", "-c", "\n".join(["set -e", *lines])], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def check_the_run_notebook(path: Path) -> None:
    """Every code cell ran without error; the cells needing CIFAR-10 said they skipped;
    the language model trained shortly; the self-check cell found nothing to fix."""
    cells = {cell.get("id"): cell for cell in nbformat.read(path, as_version=4).cells}
    code = [cell for cell in cells.values() if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [(i, o.ename, o.evalue) for i, cell in cells.items()
              for o in cell.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    needs_data = [cell for cell in code if cell.source.startswith("%%needs_cifar")]
    assert needs_data and all(NO_CIFAR in _outputs(cell) for cell in needs_data)
    assert "No CIFAR-10 data at" in _outputs(cells["cifar10_load"])
    assert "3 iterations in" in _outputs(cells["char_lm_train"])
    selfcheck = _outputs(cells["selfcheck"])
    assert "Self-check on the public cases" in selfcheck and "Still losing" not in selfcheck


def test_the_readme_steps_work_word_for_word_and_the_zip_scores_100(tmp_path):
    commands = _readme_commands()
    assert commands[:3] == ["python -m venv .venv", "source .venv/bin/activate",
                            "python -m pip install -r requirements.txt"]
    assert commands[-2:] == ["python -m autograder check", "python -m autograder pack"]
    assert RUN_THE_NOTEBOOK in commands and NOT_RUN <= set(commands)
    steps = [command for command in commands if command not in NOT_RUN]
    run = [SUBSTITUTED.get(step, step) for step in steps]
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    for name in ("rnn_layers.py", "rnn_classifier.py"):  # the student's finished work
        shutil.copy(SOLUTIONS / name, folder / name)
    filled = answer_the_notebook(folder / "RNN.ipynb")
    assert {"temporal_softmax_loss", "written_embedding_answer"} <= set(filled)  # code, prose
    (folder / "datasets").mkdir()  # an interrupted download: data, never packed
    (folder / "datasets" / "cifar-10-python.tar.gz.part").write_bytes(b"\0" * 4096)
    bin_dir = tmp_path / "bin"  # `python` before the venv exists: this interpreter
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")

    _run(run[:1], folder, env)  # the venv
    assert (folder / ".venv" / "pyvenv.cfg").exists()  # the venv is in the folder
    reach_this_interpreter(folder / ".venv", steps)
    printed = _run(run[1:], folder, env)
    check_the_run_notebook(folder / "RNN.ipynb")
    assert "Next: every public case passes" in printed
    archive = folder / "rnn_submission.zip"
    assert f"Wrote {archive} (" in printed
    # lstm_layers.py (the optional extension's starter) is read when there: packed too
    assert "with rnn_layers.py, rnn_classifier.py, lstm_layers.py, RNN.ipynb." in printed
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["RNN.ipynb", "lstm_layers.py", "rnn_classifier.py",
                                         "rnn_layers.py"]
        assert zf.read("RNN.ipynb") == (folder / "RNN.ipynb").read_bytes()  # as it ran

    results = tmp_path / "results.json"
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(archive),
                             "--output", str(results), "--no-colour"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert re.search(r'"score": 100(\.0)?,', results.read_text()), graded.stdout[-3000:]


def test_the_self_check_in_a_folder_with_a_large_environment_says_nothing_of_it(tmp_path):
    """What every self-check printed in the student's folder: 'The submission holds more
    than 2000 files'."""
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    packages = folder / ".venv" / "lib" / "python3.12" / "site-packages"
    for i in range(3000):
        (packages / f"p{i // 100}").mkdir(parents=True, exist_ok=True)
        (packages / f"p{i // 100}" / f"m{i}.py").write_text("")
    done = subprocess.run([sys.executable, "-m", "autograder", "check"], cwd=folder,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                          capture_output=True, text=True, timeout=300)
    assert "Self-check on the public cases" in done.stdout, done.stdout + done.stderr
    assert "2000" not in done.stdout and "files" not in done.stdout.split("Self-check")[0]


def test_pack_names_what_is_missing_and_writes_nothing(tmp_path):
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    (folder / "rnn_layers.py").rename(folder / "rnn_layers (1).py")
    (folder / "rnn_layers (2).py").write_text("# another download\n")
    done = subprocess.run([sys.executable, "-m", "autograder", "pack"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert ("Nothing written. rnn_layers.py is missing; found: rnn_layers (1).py, "
            "rnn_layers (2).py. Rename the one to grade to rnn_layers.py") in done.stdout
    assert not (folder / "rnn_submission.zip").exists()
    (folder / "rnn_layers (2).py").unlink()
    done = subprocess.run([sys.executable, "-m", "autograder", "pack"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    assert "Note: rnn_layers (1).py should be named rnn_layers.py" in done.stdout
    with zipfile.ZipFile(folder / "rnn_submission.zip") as zf:
        assert (zf.read("rnn_layers.py")
                == (RELEASE / "rnn_layers.py").read_bytes())


def test_the_project_readme_shows_the_self_check_as_it_prints(tmp_path):
    """The sample in README.md's "For students": the layers done but for the embedding
    backward's `dW[x] += dout`, the classifier still to write."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"```\n(Self-check on the public cases:.*?)```", readme, re.S).group(1)
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    layers = (SOLUTIONS / "rnn_layers.py").read_text()
    assert layers.count("np.add.at(dW, x, dout)") == 1
    (folder / "rnn_layers.py").write_text(layers.replace("np.add.at(dW, x, dout)", "dW[x] += dout"))
    done = subprocess.run([sys.executable, "-m", "autograder", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    printed = done.stdout.splitlines()
    for line in sample.splitlines():
        assert line == "  ..." or line in printed, line
    public = re.search(r"the public cases cover (\d+\.\d+) of them", done.stdout).group(1)
    hidden = re.search(r"the hidden cases decide the other (\d+\.\d+)", done.stdout).group(1)
    assert (f"the public cases cover {public}\nof them, the hidden cases the other {hidden}."
            in readme)


def test_pack_needs_no_numpy(tmp_path):
    """`python -S` has no site-packages (no NumPy): pack still works, the check says what
    to install."""
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = subprocess.run([sys.executable, "-S", "-m", "autograder", "check"], cwd=folder,
                           env=env, capture_output=True, text=True, timeout=120)
    assert "needs NumPy" in check.stderr, check.stderr  # no NumPy indeed
    done = subprocess.run([sys.executable, "-S", "-m", "autograder", "pack"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (folder / "rnn_submission.zip").exists()
