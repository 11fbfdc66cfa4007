"""The student README's steps, run word for word in a copy of the release (issue 22), with
the reference solutions as the student's work; then the instructor grades the zip that
`pack` wrote: 100.

Two substitutions keep it fast and off the network, and are the only ones:
- `python -m venv .venv` runs as `python -m venv --without-pip .venv` (the venv itself is
  real: it sits in the folder, as the README has it), and a .pth file in it reaches this
  interpreter's packages, pip included, so `pip install -r requirements.txt` finds
  everything installed (PIP_NO_INDEX: it could not download anything anyway);
- `python download_cifar10.py` (network, 163 MB) and `jupyter notebook RNN.ipynb`
  (interactive) are not run: only the notebook's section 7 needs the data, and
  tests/test_notebook.py runs the notebook.
Any other line of a README code block must be run as written, or this test fails.
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

from conftest import RELEASE, ROOT, SOLUTIONS

NOT_RUN = {"python download_cifar10.py", "jupyter notebook RNN.ipynb"}
SUBSTITUTED = {"python -m venv .venv": "python -m venv --without-pip .venv && "
                                       "echo '{site}' > \"$(echo .venv/lib/python3*/site-packages)"
                                       "/reach-the-test-interpreter.pth\""}


def _readme_commands() -> list[str]:
    """Every line of the README's code blocks, comments after the command removed."""
    text = (RELEASE / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_the_readme_steps_work_word_for_word_and_the_zip_scores_100(tmp_path):
    commands = _readme_commands()
    assert commands[:3] == ["python -m venv .venv", "source .venv/bin/activate",
                            "python -m pip install -r requirements.txt"]
    assert commands[-2:] == ["python -m autograder check", "python -m autograder pack"]
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    for name in ("rnn_layers.py", "rnn_classifier.py"):  # the student's finished work
        shutil.copy(SOLUTIONS / name, folder / name)
    (folder / "datasets" / "cifar-10-batches-py").mkdir(parents=True)  # data, never packed
    (folder / "datasets" / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\0" * 4096)
    bin_dir = tmp_path / "bin"  # `python` before the venv exists: this interpreter
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    script = ["set -e"] + [
        SUBSTITUTED.get(c, c).format(site=sysconfig.get_paths()["purelib"])
        for c in commands if c not in NOT_RUN]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (folder / ".venv" / "pyvenv.cfg").exists()  # the venv is in the folder
    assert "Next: every public case passes" in done.stdout
    archive = folder / "rnn_submission.zip"
    assert f"Wrote {archive} (" in done.stdout
    # lstm_layers.py (the optional extension's starter) is read when there: packed too
    assert "with rnn_layers.py, rnn_classifier.py, lstm_layers.py, RNN.ipynb." in done.stdout
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["RNN.ipynb", "lstm_layers.py", "rnn_classifier.py",
                                         "rnn_layers.py"]

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
