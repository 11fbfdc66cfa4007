"""Unit tests of autograder/sandbox/child/wire.py: round trips, and refusal of hostile bytes.

The student process writes any bytes it likes to its pipe: decode must refuse every
malformed message with a WireError, never run anything in it, and never allocate what
a message merely declares."""
import json
import pickle
import struct
import tracemalloc

import numpy as np
import pytest

from autograder.sandbox.child import wire

Unsupported, WireError, decode, encode = wire.Unsupported, wire.WireError, wire.decode, wire.encode


def message(header, data: bytes = b"", header_len: int | None = None) -> bytes:
    """A message made by hand: header a dict (dumped as JSON) or raw bytes."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if header_len is None else header_len) + raw + data


def one_array(dtype: str, shape, data: bytes = b"") -> bytes:
    return message({"body": {"$array": 0}, "arrays": [{"dtype": dtype, "shape": shape}]}, data)


def same(a, b) -> bool:
    """Equal values of the same types, arrays of the same dtype and shape (NaN == NaN)."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return type(a) is type(b) and a == b


# ---- round trips ---------------------------------------------------------------------

RNG = np.random.default_rng(0)
SHAPES = [(), (1,), (5,), (2, 3), (0,), (3, 0, 2), (1,) * wire.MAX_NDIM, (2, 1, 3, 1)]
VALUES = [
    None, True, False, 0, -7, (1 << 63) - 1, -(1 << 63) + 1, 1.5, -0.0, 1e-310, 1e308,
    float("nan"), float("inf"), float("-inf"), "", "text", "中文 \u2028 \x00", [], {},
    [1, [2, [3, None]]], (1, 2.5), {"a": 1, "b": [np.arange(3)], "c": {"d": None}},
    [np.zeros((2, 2)), np.ones(3, np.float32), np.arange(4, dtype=np.uint8)],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_plain_values_round_trip(value):
    assert same(value, decode(encode(value)))


@pytest.mark.parametrize("dtype", sorted(wire.ALLOWED_DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_allowed_dtype_and_shape_round_trips(dtype, shape):
    values = np.asarray(RNG.standard_normal(shape) * 100)  # () gives a 0-d array
    array = values.astype(dtype) if dtype != "|b1" else np.asarray(values > 0)
    if np.dtype(dtype).kind == "f" and array.size:
        array.flat[0] = np.nan  # NaN and inf travel inside arrays as they are
        array.flat[-1] = -np.inf
    back = decode(encode(array))
    assert same(array, back)
    assert back.flags.c_contiguous and back.flags.writeable and back.flags.owndata


# (array, what it must come back as): any layout or base-class subclass becomes plain C data
LAYOUTS = [
    (np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(12.0).reshape(3, 4)),
    (np.arange(20.0)[::2], np.arange(0.0, 20.0, 2)),
    (np.arange(12.0).reshape(3, 4).T, np.arange(12.0).reshape(3, 4).T.copy()),
    (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), np.array([1.0, 2.0])),
    (np.zeros((1 << 31, 0)), np.zeros((1 << 31, 0))),  # a giant axis of no elements
    (np.zeros((0, 1 << 31), np.int8), np.zeros((0, 1 << 31), np.int8)),
]


@pytest.mark.parametrize("array, plain", LAYOUTS, ids=["F", "strided", "transposed", "masked",
                                                       "giant axis", "giant axis 2"])
def test_any_layout_comes_back_as_a_plain_array(array, plain):
    back = decode(encode(array))
    assert type(back) is np.ndarray
    assert same(plain, back)


# (value, words of the description it comes back as)
UNSUPPORTED = [
    (object(), "unsupported value"),
    (np.array(["a"]), "unsupported value"),  # not a numeric dtype
    (np.array([1, None], dtype=object), "unsupported value"),
    (np.array([1.0], dtype=">f8"), "unsupported value"),  # big-endian: not in the allow-list
    (np.array([1 + 2j]), "unsupported value"),
    (np.float64(1.0), "unsupported value"),  # a NumPy scalar is not a Python float
    ({1: "int key"}, "unsupported value"),
    (1 << 63, "an integer beyond int64"),
    (-(1 << 64), "an integer beyond int64"),
    (lambda: None, "unsupported value"),
]


@pytest.mark.parametrize("value, words", UNSUPPORTED, ids=lambda v: type(v).__name__)
def test_unsupported_values_travel_as_descriptions(value, words):
    back = decode(encode([value]))[0]
    assert isinstance(back, Unsupported) and words in back.description


def nested(depth: int):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth, kept", [(wire.MAX_DEPTH, True), (wire.MAX_DEPTH + 5, False)])
def test_nesting_beyond_max_depth_is_cut_when_encoding(depth, kept):
    back = decode(encode(nested(depth)))
    for _ in range(wire.MAX_DEPTH + 1):
        if not isinstance(back, list):
            break
        back = back[0]
    assert (back == 0) if kept else (isinstance(back, Unsupported)
                                     and "nested too deeply" in back.description)


# ---- hostile bytes -------------------------------------------------------------------

GOOD = encode({"x": np.arange(6.0).reshape(2, 3), "n": 3})
HEADER_OF_GOOD = GOOD[8:8 + struct.unpack("<Q", GOOD[:8])[0]]
BIG = 1 << 31

# (message, words of the WireError)
MALFORMED = [
    (b"", "shorter than its header length"),
    (b"\x01\x00\x00", "shorter than its header length"),
    (GOOD[:-1], "run past the end"),  # truncated inside the array bytes
    (GOOD[:20], "header longer than the message"),  # truncated inside the header
    (GOOD + b"\x00", "trailing bytes"),
    (message(HEADER_OF_GOOD, GOOD[8 + len(HEADER_OF_GOOD):], header_len=1 << 62),
     "header longer"),
    (message(b"x" * (wire.MAX_HEADER_BYTES + 1)), "header longer"),
    (message(b"{not json"), "unreadable header"),
    (message(b"[1, 2]"), "unreadable header"),  # JSON, but not a dict
    (message(b"5"), "unreadable header"),
    (message({"body": 1}), "unreadable header"),  # no arrays
    (message({"arrays": []}), "unreadable header"),  # no body
    (message({"body": 1, "arrays": {"0": 1}}), "at most"),
    (message({"body": 1, "arrays": [{"dtype": "<f8", "shape": [0]}] * (wire.MAX_ARRAYS + 1)}),
     "at most"),
    (message(b'{"body": NaN, "arrays": []}'), "unreadable header"),
    (message(b'{"body": Infinity, "arrays": []}'), "unreadable header"),
    (message(b'{"body": -Infinity, "arrays": []}'), "unreadable header"),
    (message(b'{"body": 1e400, "arrays": []}'), "unreadable header"),
    (message(b'{"body": 123456789012345678901234567890, "arrays": []}'), "unreadable header"),
    (message(b'{"body": 9223372036854775808, "arrays": []}'), "unreadable header"),
    (message(b'{"body": ' + b"[" * 10_000 + b"]" * 10_000 + b', "arrays": []}'),
     "nested too deeply"),
    (message({"body": nested(wire.MAX_DEPTH + 4), "arrays": []}), "nested too deeply"),
    # array descriptions
    (message({"body": 1, "arrays": [5]}), "bad array description"),
    (message({"body": 1, "arrays": [{"shape": [1]}]}), "bad array description"),
    (one_array("|O", [1], b"\x00" * 8), "dtype |O is not allowed"),
    (one_array("<U1", [1], b"\x00" * 4), "not allowed"),
    (one_array(">f8", [1], b"\x00" * 8), "not allowed"),
    (one_array("V8", [1], b"\x00" * 8), "not allowed"),
    (one_array("<c16", [1], b"\x00" * 16), "not allowed"),
    (message({"body": 1, "arrays": [{"dtype": ["<f8"], "shape": [1]}]}), "not allowed"),
    (one_array("<f8", [-1], b""), "bad array shape"),
    (one_array("<f8", [1.0], b"\x00" * 8), "bad array shape"),
    (one_array("<f8", [True], b"\x00" * 8), "bad array shape"),
    (one_array("<f8", "8", b"\x00" * 8), "bad array shape"),
    (one_array("<f8", [1] * (wire.MAX_NDIM + 1), b"\x00" * 8), "bad array shape"),
    (one_array("|u1", [BIG + 1], b""), "bad array shape"),
    (one_array("<f8", [3], b"\x00" * 16), "run past the end"),  # wrong length: short
    (one_array("<f8", [1], b"\x00" * 16), "trailing bytes"),  # wrong length: long
    # declared sizes far beyond the message: refused before any allocation
    (one_array("<f8", [BIG, BIG], b""), "run past the end"),
    (one_array("<f8", [BIG] * wire.MAX_NDIM, b""), "run past the end"),
    (one_array("<f8", [BIG, 0, BIG], b""), "bad array shape"),
    # values in the body
    (message({"body": {"$array": 1}, "arrays": [{"dtype": "|u1", "shape": [0]}]}), "unknown"),
    (message({"body": {"$array": -1}, "arrays": [{"dtype": "|u1", "shape": [0]}]}), "unknown"),
    (message({"body": {"$array": True}, "arrays": [{"dtype": "|u1", "shape": [0]}]}), "unknown"),
    (message({"body": {"$array": "0"}, "arrays": [{"dtype": "|u1", "shape": [0]}]}), "unknown"),
    (message({"body": {"$array": 0, "x": 1}, "arrays": [{"dtype": "|u1", "shape": [0]}]}),
     "unknown"),
    (message({"body": {"$float": "1e400"}, "arrays": []}), "unknown"),
    (message({"body": {"$float": "__import__('os')"}, "arrays": []}), "unknown"),
    (message({"body": {"$dict": [1]}, "arrays": []}), "unknown"),
    (message({"body": {"$type": 5}, "arrays": []}), "unknown"),
    (message({"body": {"plain": "dict"}, "arrays": []}), "unknown"),
    (message({"body": {"__reduce__": "os.system"}, "arrays": []}), "unknown"),
]


@pytest.mark.parametrize("data, words", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_messages_are_refused(data, words):
    with pytest.raises(WireError) as raised:
        decode(data)
    assert words in str(raised.value)
    assert len(str(raised.value)) < 400  # the message quotes at most a bounded part


def test_a_message_over_the_byte_limit_is_refused_before_reading():
    with pytest.raises(WireError, match="more than 100"):
        decode(GOOD + b"x" * 100, max_bytes=100)
    assert same({"x": np.arange(6.0).reshape(2, 3), "n": 3}, decode(GOOD, max_bytes=len(GOOD)))


def peak_bytes(data: bytes) -> int:
    """Peak memory NumPy and Python allocate while decode refuses data."""
    tracemalloc.start()
    try:
        with pytest.raises(WireError):
            decode(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", [[BIG, BIG], [BIG] * wire.MAX_NDIM, [BIG, 0, BIG],
                                   [BIG, BIG, 0, BIG]], ids=str)
def test_declared_sizes_are_never_allocated(shape):
    """Each message declares up to 2**248 elements: refusing it allocates next to nothing."""
    assert peak_bytes(one_array("<f8", shape)) < 1 << 20


def test_the_nesting_check_is_bounded_by_the_header_size():
    """The deepest header allowed in size: refused before the JSON parser recurses, with
    memory a fraction of the header's (followed chunk by chunk, read in place: no copy
    of the header, no array of its length; the whole header at once peaked at 21 times
    its size)."""
    depth = (wire.MAX_HEADER_BYTES - 2) // 2
    data = message(b"[" * depth + b"]" * depth)
    assert peak_bytes(data) < len(data) // 8


def test_a_deep_header_is_refused_whichever_chunk_it_deepens_in():
    """The depth carries from one chunk of the header to the next: brackets opened in
    the first chunks and deepened in a later one are refused; as deep, but closed in
    between, pass the check."""
    chunk, limit = wire._NESTING_CHUNK, 2 * wire.MAX_DEPTH + 8
    opened = b" " * (chunk - 30) + b"[" * 30  # 30 open at the end of the first chunk
    deeper = b"[" * (limit - 30 + 1) + b"0" + b"]" * (limit + 1)
    with pytest.raises(WireError, match="nested too deeply"):
        decode(message(opened + b" " * (3 * chunk) + deeper))
    closed = b" " * (chunk - 30) + b"[" * 30 + b"0" + b"]" * 30
    with pytest.raises(WireError, match="unreadable header"):  # passes the depth check
        decode(message(closed + b" " * (3 * chunk) + deeper[:-(limit + 1)] + b"]" * (limit - 29)))


def test_frame_is_the_length_then_the_message():
    value = {"x": np.arange(6.0).reshape(2, 3), "n": [1, None, "t"]}
    framed = wire.frame(value)
    assert framed[:8] == len(encode(value)).to_bytes(8, "little") and framed[8:] == encode(value)
    assert same(value, decode(framed[8:]))


ran = []  # a pickle that runs would append here


class _Payload:
    def __reduce__(self):
        return (ran.append, ("pickle ran",))


@pytest.mark.parametrize("data", [
    pickle.dumps(_Payload()),
    struct.pack("<Q", 4) + pickle.dumps(_Payload()),
    message({"body": {"$array": 0}, "arrays": [{"dtype": "|O", "shape": [1]}]},
            pickle.dumps(_Payload())),
    message({"body": {"$type": pickle.dumps(_Payload()).decode("latin-1")}, "arrays": []}),
], ids=["raw pickle", "pickle after a length", "object array of a pickle", "pickle as text"])
def test_nothing_in_a_message_is_executed(data):
    try:
        value = decode(data)
    except WireError:
        value = None
    assert ran == []
    assert value is None or isinstance(value, Unsupported)  # text stays text
