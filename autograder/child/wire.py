"""Messages between the grader and the student process, in a format that cannot run code.

A message is: 8-byte little-endian header length, a JSON header, then raw array bytes.
Values are JSON (numbers, strings, lists, str-keyed dicts, None); each array becomes
{"$array": i}, described in the header by dtype and shape, its bytes appended.
Decoding only ever calls json.loads and np.frombuffer on an allow-list of plain numeric
dtypes: nothing is unpickled and no object is constructed from the data.

This file runs on both sides (it is imported by the student process, so it imports only
the standard library and NumPy).
"""
import json
import math
import struct

import numpy as np

ALLOWED_DTYPES = frozenset(["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4",
                            "<u2", "|u1", "|b1"])
MAX_DEPTH = 20  # nesting of lists and dicts a value may have
# Bounds on what decode accepts, whoever wrote the message: the student process can
# write any bytes to its pipe. A legitimate reply is far inside every one of them.
MAX_MESSAGE_BYTES = 256 << 20
MAX_HEADER_BYTES = 8 << 20  # the JSON part (structure, numbers, strings)
MAX_ARRAYS = 20_000
MAX_NDIM = 8
MAX_DIM = 1 << 31  # one axis of an array
MAX_INT = 1 << 63  # |an integer| in the JSON part


class WireError(Exception):
    """A message that does not follow the format (malformed, too big, bad dtype)."""


def encode(value) -> bytes:
    """Serialise a value made of JSON types and plain numeric NumPy arrays."""
    buffers: list[bytes] = []
    specs: list[dict] = []
    body = _to_json(value, buffers, specs, 0)
    header = json.dumps({"body": body, "arrays": specs}, allow_nan=False).encode()
    return struct.pack("<Q", len(header)) + header + b"".join(buffers)


def decode(message: bytes, max_bytes: int = MAX_MESSAGE_BYTES):
    """Rebuild the value from a message; raises WireError on anything unexpected.

    Bounded whatever the bytes: nesting depth, header size, number of arrays, their
    dimensions and sizes (each within the message), integers within int64, and no
    NaN / Infinity / 1e400 literal (non-finite floats travel as {"$float": ...})."""
    if len(message) > max_bytes:
        raise WireError(f"message of {len(message)} bytes, more than {max_bytes}")
    if len(message) < 8:
        raise WireError("message shorter than its header length")
    (header_len,) = struct.unpack("<Q", message[:8])
    if header_len > len(message) - 8 or header_len > MAX_HEADER_BYTES:
        raise WireError("header longer than the message or than allowed")
    raw = message[8:8 + header_len]
    _check_nesting(raw)
    try:
        header = json.loads(raw, parse_int=_bounded_int, parse_float=_finite_float,
                            parse_constant=_no_constant)
        specs, body = header["arrays"], header["body"]
    except (ValueError, KeyError, TypeError, RecursionError, MemoryError) as exc:
        raise WireError(f"unreadable header: {str(exc)[:200]}") from None
    if not isinstance(specs, list) or len(specs) > MAX_ARRAYS:
        raise WireError(f"the message must describe at most {MAX_ARRAYS} arrays")
    arrays, offset = [], 8 + header_len
    for spec in specs:
        array, offset = _array_from(spec, message, offset)
        arrays.append(array)
    if offset != len(message):
        raise WireError("trailing bytes after the last array")
    return _from_json(body, arrays, 0)


def _check_nesting(raw: bytes) -> None:
    """Refuse JSON nested deeper than a value may be, before the parser recurses into it.

    Brackets inside strings are counted too: that can only overestimate the depth (a
    legitimate message has few brackets in its strings)."""
    limit = 2 * MAX_DEPTH + 8  # {"$dict": {}} per level
    if raw.count(b"[") + raw.count(b"{") <= limit:  # cannot nest deeper: most messages
        return
    codes = np.frombuffer(raw, dtype=np.uint8)
    steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32)  # [ {
    steps -= (codes == 0x5D) | (codes == 0x7D)  # ] }
    if codes.size and int(np.cumsum(steps).max()) > limit:
        raise WireError("message nested too deeply")


def _bounded_int(text: str) -> int:
    if len(text) < 19:  # fewer than 19 characters: within int64, no need to look closer
        return int(text)
    if len(text) > 20 or abs(int(text)) >= MAX_INT:
        raise ValueError(f"integer {text[:30]} out of range")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} out of range")
    return value


def _no_constant(text: str):
    raise ValueError(f"{text} is not allowed")


def _to_json(value, buffers, specs, depth):
    if depth > MAX_DEPTH:
        return {"$type": "nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int:
        return value if abs(value) < MAX_INT else {"$type": "an integer beyond int64"}
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.str in ALLOWED_DTYPES:
        array = np.array(value, order="C", subok=False)  # a plain copy, even of a subclass
        specs.append({"dtype": array.dtype.str, "shape": list(array.shape)})
        buffers.append(array.tobytes())
        return {"$array": len(specs) - 1}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, buffers, specs, depth + 1) for v in value]
    if isinstance(value, dict) and all(type(k) is str for k in value):
        return {"$dict": {k: _to_json(v, buffers, specs, depth + 1) for k, v in value.items()}}
    return {"$type": "unsupported value"}


def _array_from(spec, message, offset):
    try:
        dtype, shape = spec["dtype"], spec["shape"]
    except (KeyError, TypeError):
        raise WireError(f"bad array description {str(spec):.200}") from None
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise WireError(f"array dtype {str(dtype):.40} is not allowed")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(type(n) is int and 0 <= n <= MAX_DIM for n in shape)):
        raise WireError(f"bad array shape {str(shape):.100}")
    shape = tuple(shape)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if offset + nbytes > len(message):
        raise WireError("array bytes run past the end of the message")
    try:  # numpy refuses some shapes of no elements ([2**31, 0, 2**31]: too big)
        array = np.frombuffer(message, dtype=dtype, count=math.prod(shape), offset=offset)
        return array.reshape(shape).copy(), offset + nbytes
    except (ValueError, OverflowError, MemoryError) as exc:
        raise WireError(f"bad array shape {str(shape):.100} ({type(exc).__name__})") from None


def _from_json(body, arrays, depth):
    if depth > MAX_DEPTH + 2:
        raise WireError("message nested too deeply")
    if isinstance(body, list):
        return [_from_json(v, arrays, depth + 1) for v in body]
    if not isinstance(body, dict):
        return body
    if set(body) == {"$array"} and type(body["$array"]) is int and 0 <= body["$array"] < len(arrays):
        return arrays[body["$array"]]
    if set(body) == {"$float"} and body["$float"] in ("nan", "inf", "-inf"):
        return float(body["$float"])
    if set(body) == {"$dict"} and isinstance(body["$dict"], dict):
        return {k: _from_json(v, arrays, depth + 1) for k, v in body["$dict"].items()}
    if set(body) == {"$type"} and isinstance(body["$type"], str):
        return Unsupported(body["$type"][:200])
    raise WireError(f"unknown value {str(body)[:100]}")


class Unsupported:
    """Stands for a value the student process could not send as plain data."""

    def __init__(self, description: str):
        self.description = description

    def __repr__(self):
        return f"<{self.description}>"
