"""`python -m autograder autograder-zip [--output build/autograder.zip]`: the Gradescope
autograder, following https://gradescope-autograders.readthedocs.io/en/latest/specs/.

The zip holds, at its root (Gradescope unpacks it into /autograder/source):

    setup.sh            run once at image build: the image's python3 (3.10-3.13) + a venv
                        with NumPy at a version that has wheels for all of them
    run_autograder      run per submission: grade /autograder/submission ->
                        /autograder/results/results.json (always written)
    requirements.lock   the project's exact pins (for reference: setup.sh pins NumPy itself)
    autograder/         the grader package, with the grading secret
    settings.toml       the instructor's settings in force when it was built (if any)
    solutions/rnn/      the hidden reference

so that config.solutions_dir (ROOT/solutions, ROOT = the folder above the package) finds
the reference at /autograder/source/solutions. Never in the zip: tests/, assignment/,
.venv/, caches. The build is deterministic: sorted entries, fixed timestamps and modes.
"""
import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

FILES_DIR = Path(__file__).resolve().parent / "gradescope_files"
SCRIPTS = ("setup.sh", "run_autograder")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
SETTINGS_FILE = "settings.toml"  # at the zip's root, when a settings file is in force
FORBIDDEN = ("tests/", "assignment/", ".venv/", "source_notebooks/", "build/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the zip (default build/autograder.zip)")


def run(args, config) -> int:
    output = args.output or config.autograder_zip
    entries = build(config, output)
    print(f"{output}: {len(entries)} files, {output.stat().st_size / 1024:.0f} KB. Upload it "
          "on Gradescope (Configure Autograder -> Zip file upload, Ubuntu base image).")
    from autograder.secret import creation_notice

    if notice := creation_notice():
        print(notice, file=sys.stderr)
    return 0


def contents(config) -> dict[str, tuple[bytes, int]]:
    """Path in the zip -> (bytes, Unix mode)."""
    from autograder.secret import load_secret

    files = {name: ((FILES_DIR / name).read_bytes(), 0o755) for name in SCRIPTS}
    files["requirements.lock"] = ((config.root / "requirements.lock").read_bytes(), 0o644)
    package = config.root / "autograder"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(config.root)
        if (path.is_file() and not path.is_symlink() and path.suffix != ".pyc"
                and "__pycache__" not in relative.parts
                and FILES_DIR.name not in relative.parts
                and not path.name.startswith(".")):
            files[relative.as_posix()] = (path.read_bytes(), 0o644)
    # The secret in force here (RNN_GRADER_SECRET or secret.key): same grades everywhere.
    files["autograder/secret.key"] = (load_secret() + b"\n", 0o644)
    if config.settings_file:  # the instructor's settings in force: run_autograder uses them
        files[SETTINGS_FILE] = (Path(config.settings_file).read_bytes(), 0o644)
    reference = config.solutions_dir / config.assignment
    for path in sorted(reference.glob("*.py")):
        relative = path.relative_to(config.solutions_dir.parent).as_posix()
        files[relative] = (path.read_bytes(), 0o644)
    leaked = [name for name in files if name.startswith(FORBIDDEN)]
    if leaked:
        raise RuntimeError(f"refusing to put {leaked} in the autograder zip")
    return files


def build(config, output: Path) -> list[str]:
    """Write the zip atomically; return its entry names."""
    files = contents(config)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = 3  # Unix, so that the modes below are honoured
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, output)
    return sorted(files)
