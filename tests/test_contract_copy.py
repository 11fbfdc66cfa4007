"""The repository carries the contract it follows: CONTRACT.md is the team's shared copy."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "CONTRACT.md"


def test_the_readme_links_the_copy_in_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](CONTRACT.md)" in readme and "](../shared/CONTRACT.md)" not in readme
    assert (ROOT / "CONTRACT.md").read_text(encoding="utf-8").startswith(
        "# The assignment's contract")


def test_the_copy_is_the_shared_contract():
    if not SHARED.exists():
        pytest.skip(f"the team's shared contract is not beside this clone ({SHARED})")
    assert (ROOT / "CONTRACT.md").read_bytes() == SHARED.read_bytes(), (
        "CONTRACT.md differs from ../shared/CONTRACT.md: copy the shared one over it")
