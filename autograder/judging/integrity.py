"""What leaves the student process as text: feedback is capped, and any text of the
reference solution or the grading secret that reaches it (an exception message carrying
a file the student process found) is replaced, in the grader, before it is written
anywhere. (Numeric differentiation is answered by the large first case of every check
of gradients: checks.py.)
"""
from pathlib import Path

from autograder.sandbox.child import functions

MAX_TEST_OUTPUT = 8000  # characters of feedback per test
MIN_SECRET_LINE = 24  # reference lines at least this long are recognised in feedback


class Redactor:
    def __init__(self, reference_folder: Path, secret: bytes):
        lines = set()
        for module in functions.MODULES:
            path = Path(reference_folder) / f"{module}.py"
            if path.exists():
                lines |= {line.strip() for line in path.read_text().splitlines()
                          if len(line.strip()) >= MIN_SECRET_LINE}
        self.secrets = sorted(lines) + ([secret.decode(errors="replace")] if secret else [])

    def __call__(self, text: str) -> str:
        if len(text) > MAX_TEST_OUTPUT:
            text = text[:MAX_TEST_OUTPUT] + "\n[feedback cut here: too long]"
        if any(secret in text for secret in self.secrets):
            kept = [line for line in text.splitlines()
                    if not any(secret in line for secret in self.secrets)]
            text = "\n".join(kept + ["[a message from the student process was hidden: it "
                                     "contained text of the grader's solution or secret]"])
        return text
