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


_NESTING_CHUNK = 1 << 16  # bytes of a header whose bracket depth is followed at once
_DTYPES = {name: np.dtype(name) for name in ALLOWED_DTYPES}


class WireError(Exception):
    """A message that does not follow the format (malformed, too big, bad dtype)."""


def encode(value) -> bytes:
    """Serialise a value made of JSON types and plain numeric NumPy arrays."""
    return b"".join(_parts(value))


def frame(value) -> bytes:
    """The message of a value preceded by its length (8 bytes, little-endian), as the
    pipes carry it: built in one piece, so that an array's bytes are copied once."""
    parts = _parts(value)
    return b"".join([(sum(map(len, parts))).to_bytes(8, "little"), *parts])


def _parts(value) -> list[bytes]:
    buffers: list[bytes] = []
    specs: list[dict] = []
    body = _to_json(value, buffers, specs, 0)
    header = _ENCODER.encode({"body": body, "arrays": specs}).encode()
    return [struct.pack("<Q", len(header)), header, *buffers]


def decode(message: bytes, max_bytes: int = MAX_MESSAGE_BYTES):
    """Rebuild the value from a message; raises WireError on anything unexpected.

    Bounded whatever the bytes: nesting depth, header size, number of arrays, their
    dimensions and sizes (each within the message), integers within int64, and no
    NaN / Infinity / 1e400 literal (non-finite floats travel as {"$float": ...})."""
    if len(message) > max_bytes:
        raise WireError(f"message of {len(message)} bytes, more than {max_bytes}")
    if len(message) < 8:
        raise WireError("message shorter than its header length")
    (header_len,) = struct.unpack_from("<Q", message)
    if header_len > len(message) - 8 or header_len > MAX_HEADER_BYTES:
        raise WireError("header longer than the message or than allowed")
    _check_nesting(message, 8, 8 + header_len)
    try:  # (the header read in place: a memoryview, no copy of its bytes)
        header = _DECODER.decode(str(memoryview(message)[8:8 + header_len], "utf-8"))
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


def _check_nesting(message: bytes, start: int, end: int) -> None:
    """Refuse JSON nested deeper than a value may be, before the parser recurses into it.

    Brackets inside strings are counted too: that can only overestimate the depth (a
    legitimate message has few brackets in its strings). The depth is followed chunk
    by chunk, so that the memory this takes is bounded whatever the header's size."""
    limit = 2 * MAX_DEPTH + 8  # {"$dict": {}} per level
    if message.count(b"[", start, end) + message.count(b"{", start, end) <= limit:
        return  # cannot nest deeper: most messages
    depth = 0  # at the start of the chunk
    for begin in range(start, end, _NESTING_CHUNK):
        codes = np.frombuffer(message, dtype=np.uint8, count=min(_NESTING_CHUNK, end - begin),
                              offset=begin)
        steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32)  # [ {
        steps -= (codes == 0x5D) | (codes == 0x7D)  # ] }
        running = np.cumsum(steps, out=steps)
        if depth + int(running.max()) > limit:
            raise WireError("message nested too deeply")
        depth += int(running[-1])


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
    kind = type(value)
    if kind is np.ndarray and value.flags.c_contiguous and value.dtype.str in ALLOWED_DTYPES:
        specs.append({"dtype": value.dtype.str, "shape": list(value.shape)})
        buffers.append(value.tobytes())  # a plain array already: its bytes, one copy
        return {"$array": len(specs) - 1}
    if kind is dict and all(type(k) is str for k in value):
        return {"$dict": {k: _to_json(v, buffers, specs, depth + 1) for k, v in value.items()}}
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if abs(value) < MAX_INT else {"$type": "an integer beyond int64"}
    if kind is float:
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
    if isinstance(value, (bool, str)):
        return value
    return {"$type": "unsupported value"}


def _array_from(spec, message, offset):
    if type(spec) is not dict or "dtype" not in spec or "shape" not in spec:
        raise WireError(f"bad array description {str(spec):.200}")
    name, shape = spec["dtype"], spec["shape"]
    dtype = _DTYPES.get(name) if type(name) is str else None
    if dtype is None:
        raise WireError(f"array dtype {str(name):.40} is not allowed")
    if type(shape) is not list or len(shape) > MAX_NDIM:
        raise WireError(f"bad array shape {str(shape):.100}")
    count = 1
    for n in shape:
        if type(n) is not int or not 0 <= n <= MAX_DIM:
            raise WireError(f"bad array shape {str(shape):.100}")
        count *= n
    nbytes = count * dtype.itemsize
    if offset + nbytes > len(message):
        raise WireError("array bytes run past the end of the message")
    try:  # numpy refuses some shapes of no elements ([2**31, 0, 2**31]: too big)
        array = np.ndarray(shape, dtype, message, offset)  # a view of the message's bytes
        return array.copy(), offset + nbytes
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise WireError(f"bad array shape {str(shape):.100} ({type(exc).__name__})") from None


def _from_json(body, arrays, depth):
    if depth > MAX_DEPTH + 2:
        raise WireError("message nested too deeply")
    kind = type(body)
    if kind is list:
        return [_from_json(v, arrays, depth + 1) for v in body]
    if kind is not dict:
        return body
    if len(body) == 1:  # {"$dict": {...}}, {"$array": i}, {"$float": "nan"}, {"$type": "..."}
        ((key, value),) = body.items()
        if key == "$dict" and type(value) is dict:
            return {k: _from_json(v, arrays, depth + 1) for k, v in value.items()}
        if key == "$array" and type(value) is int and 0 <= value < len(arrays):
            return arrays[value]
        if key == "$float" and type(value) is str and value in ("nan", "inf", "-inf"):
            return float(value)
        if key == "$type" and type(value) is str:
            return Unsupported(value[:200])
    raise WireError(f"unknown value {str(body)[:100]}")


# made once (json.dumps / json.loads with options make a new one per call)
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(parse_int=_bounded_int, parse_float=_finite_float,
                            parse_constant=_no_constant)


class Unsupported:
    """Stands for a value the student process could not send as plain data."""

    def __init__(self, description: str):
        self.description = description

    def __repr__(self):
        return f"<{self.description}>"
