"""Student-controlled text made inert before it reaches a terminal, a JSON file or a log.

A submission controls many strings that the grader shows: exception messages, file and
folder names, keys of its dicts. Any of them could carry ANSI escape sequences (drawing
a fake total over the real one), a carriage return or backspaces (overwriting a line),
Unicode direction overrides (showing text in another order than it is stored) or lone
surrogates from undecodable file names (which no UTF-8 file can hold).

    text(s, max_chars=None) -> str   multi-line text: newlines kept, TAB -> one space,
                                     every other control or format character removed
    line(s, max_chars=200) -> str    one line (a file name, a key): newlines removed too

Both accept any object (str() of it is used) and always return valid, printable UTF-8
text; a cut is marked with "...". Stdlib only: batch_report and the student kit may
import it.
"""
import re
import unicodedata

# C0 controls but \n, DEL, C1 controls; the bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                      "\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def text(value, max_chars: int | None = None) -> str:
    """value as multi-line text that cannot move the cursor or change the terminal."""
    s = value if isinstance(value, str) else _str(value)
    s = s.replace("\r\n", "\n").replace("\t", " ")
    s = _SURROGATE.sub("\ufffd", s)
    s = _CONTROL.sub("", s)
    if not s.isascii():  # other invisible format characters (zero-width, soft hyphen)
        s = "".join(ch for ch in s if ch.isascii() or unicodedata.category(ch) != "Cf")
    return _cut(s, max_chars)


def line(value, max_chars: int | None = 200) -> str:
    """value as one inert line: also without newlines."""
    return _cut(text(value).replace("\n", " "), max_chars)


def _cut(s: str, max_chars: int | None) -> str:
    if max_chars is None or len(s) <= max_chars:
        return s
    return s[:max(max_chars - 3, 0)] + "..."


def _str(value) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001  an object whose __str__ fails
        return f"<{type(value).__name__}>"
