"""Avro binary encoding and decoding of a record, compiled by mypyc: fastavro's bytes and
fastavro's records at a fraction of its cost.

Why not fastavro alone: it interprets the schema per field with Python-object dispatch, ~0.75 µs
per string field and ~4 µs per map of five labels here; an ``ExternalAlert`` (the API's ``POST
/api/v2/alerts``, one record per alert) cost 11-15 µs to encode, the largest single share of the
endpoint's CPU, and every consumer decodes every record it reads. This module walks a schema
prepared once (:func:`prepare`) and, compiled (``setup.py`` builds it with mypyc when a C
compiler is there), writes the same record in ~3 µs. Uncompiled it runs as plain Python at about
fastavro's speed, so nothing depends on the build.

Exactness over coverage. :func:`encode` writes only what it writes exactly as fastavro does and
raises :class:`Fallback` for anything else — a missing field without a default (one with a
default gets it, as in fastavro), a value of another Python type than the schema's (fastavro
coerces some: an int for a double, a bool for a long), a non-``dict`` mapping, a union where the
value's type could match two branches, an out-of-range number. :func:`decode` reads bytes
written with the schema itself (no resolution from an older version) and raises
:class:`Fallback` (or ``UnicodeDecodeError``) on anything unusual — bytes that end early, a varint
longer than 64 bits, a union or enum index out of range, a boolean byte other than 0 or 1, a
block with a negative count. The codec then does that record with fastavro, which also owns
every error message. Equality with fastavro over generated records of every alertstream schema
(and over corrupted bytes, for decoding) is a unit test (``tests/unit/schemas/test_avro_binary.py``).
"""

from __future__ import annotations

import struct
from typing import Any, Final

NULL: Final = 0
BOOLEAN: Final = 1
INT: Final = 2
LONG: Final = 3
FLOAT: Final = 4
DOUBLE: Final = 5
STRING: Final = 6
BYTES: Final = 7
RECORD: Final = 8
ENUM: Final = 9
ARRAY: Final = 10
MAP: Final = 11
UNION: Final = 12
FIXED: Final = 13

_PRIMITIVES: Final = {
    "null": NULL,
    "boolean": BOOLEAN,
    "int": INT,
    "long": LONG,
    "float": FLOAT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
}
#: Branch kinds that fastavro's union matching could pick for a value of each Python type.
_INT_KINDS: Final = (INT, LONG, FLOAT, DOUBLE)
_FLOAT_KINDS: Final = (FLOAT, DOUBLE)
_STR_KINDS: Final = (STRING, ENUM)
_BYTES_KINDS: Final = (BYTES, FIXED)
_DICT_KINDS: Final = (RECORD, MAP)

_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1


class Fallback(Exception):
    """This value is not one :func:`write` encodes exactly as fastavro would: use fastavro."""


class Node:
    """One schema node, prepared for writing."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.fields: list[tuple[str, Node]] = []  # record
        self.defaults: dict[str, object] = {}  # record: the default of each field that has one
        self.items: Node | None = None  # array items, map values
        self.branches: list[Node] = []  # union
        self.symbols: dict[str, int] = {}  # enum: symbol -> index
        self.symbol_list: list[str] = []  # enum: index -> symbol
        self.size = 0  # fixed
        # union: the branch for a value of each Python type (-1: none, -2: more than one)
        self.for_none = -1
        self.for_bool = -1
        self.for_int = -1
        self.for_float = -1
        self.for_str = -1
        self.for_bytes = -1
        self.for_dict = -1
        self.for_list = -1


def prepare(schema: Any) -> Node | None:
    """The writing plan of a parsed schema (fastavro's ``parse_schema`` form, names expanded);
    None for a schema with a construct this module does not write (a logical type): fastavro
    writes every record of it."""
    try:
        return _node(schema, {})
    except Fallback:
        return None


def _node(schema: Any, named: dict[str, Node]) -> Node:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return Node(_PRIMITIVES[schema])
        if schema in named:
            return named[schema]
        raise Fallback  # a name defined elsewhere
    if isinstance(schema, list):
        node = Node(UNION)
        node.branches = [_node(branch, named) for branch in schema]
        _choose_branches(node)
        return node
    if not isinstance(schema, dict) or "logicalType" in schema:
        raise Fallback
    kind = schema.get("type")
    if kind in _PRIMITIVES:
        return Node(_PRIMITIVES[str(kind)])
    if kind == "record" or kind == "error":
        node = Node(RECORD)
        named[str(schema["name"])] = node  # before its fields: a field may refer to the record itself
        node.fields = [(str(f["name"]), _node(f["type"], named)) for f in schema["fields"]]
        node.defaults = {str(f["name"]): f["default"] for f in schema["fields"] if "default" in f}
        return node
    if kind == "enum":
        node = Node(ENUM)
        node.symbol_list = [str(s) for s in schema["symbols"]]
        node.symbols = {s: i for i, s in enumerate(node.symbol_list)}
        named[str(schema["name"])] = node
        return node
    if kind == "fixed":
        node = Node(FIXED)
        node.size = int(schema["size"])
        named[str(schema["name"])] = node
        return node
    if kind == "array":
        node = Node(ARRAY)
        node.items = _node(schema["items"], named)
        return node
    if kind == "map":
        node = Node(MAP)
        node.items = _node(schema["values"], named)
        return node
    raise Fallback


def _only(branches: list[Node], kinds: tuple[int, ...]) -> int:
    """The index of the one branch whose kind is in ``kinds``; -1 none, -2 more than one."""
    found = -1
    for i, branch in enumerate(branches):
        if branch.kind in kinds:
            if found != -1:
                return -2
            found = i
    return found


def _choose_branches(node: Node) -> None:
    b = node.branches
    node.for_none = _only(b, (NULL,))
    # fastavro tries the branches in order; with one candidate per Python type the order cannot matter
    node.for_bool = _only(b, (BOOLEAN, *_INT_KINDS))
    node.for_int = _only(b, _INT_KINDS)
    node.for_float = _only(b, _FLOAT_KINDS)
    node.for_str = _only(b, _STR_KINDS)
    node.for_bytes = _only(b, _BYTES_KINDS)
    node.for_dict = _only(b, _DICT_KINDS)
    node.for_list = _only(b, (ARRAY,))


def encode(node: Node, header: bytes, datum: object) -> bytes:
    """``header`` + the Avro binary encoding of ``datum``; raises :class:`Fallback`."""
    out = bytearray(header)
    _write(node, datum, out)
    return bytes(out)


def _long(n: int, out: bytearray) -> None:
    z = (n << 1) ^ (n >> 63)  # zig-zag
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _write(node: Node, datum: object, out: bytearray) -> None:
    kind = node.kind
    if kind == STRING:
        if not isinstance(datum, str):
            raise Fallback
        data = datum.encode()  # a lone surrogate raises UnicodeEncodeError: fastavro's error then
        _long(len(data), out)
        out += data
    elif kind == RECORD:
        if not isinstance(datum, dict):
            raise Fallback
        defaults = node.defaults
        for name, sub in node.fields:
            if name in datum:
                _write(sub, datum[name], out)
            elif name in defaults:  # as fastavro: the default, written as a value of the field's type
                _write(sub, defaults[name], out)
            else:
                raise Fallback  # fastavro writes None (a nullable field's null) or fails
    elif kind in (LONG, INT):
        if not isinstance(datum, int) or isinstance(datum, bool):
            raise Fallback
        if kind == LONG:
            if datum < _LONG_MIN or datum > _LONG_MAX:
                raise Fallback
        elif datum < _INT_MIN or datum > _INT_MAX:
            raise Fallback
        _long(datum, out)
    elif kind == UNION:
        _write_union(node, datum, out)
    elif kind == MAP:
        if not isinstance(datum, dict):
            raise Fallback
        items = node.items
        assert items is not None
        if datum:
            _long(len(datum), out)
            for key, value in datum.items():
                if not isinstance(key, str):
                    raise Fallback
                data = key.encode()
                _long(len(data), out)
                out += data
                _write(items, value, out)
        out.append(0)
    elif kind == ARRAY:
        if not isinstance(datum, list):
            raise Fallback
        items = node.items
        assert items is not None
        if datum:
            _long(len(datum), out)
            for value in datum:
                _write(items, value, out)
        out.append(0)
    elif kind == DOUBLE:
        if not isinstance(datum, float):
            raise Fallback
        out += struct.pack("<d", datum)
    elif kind == FLOAT:
        if not isinstance(datum, float):
            raise Fallback
        out += struct.pack("<f", datum)  # an out-of-range value raises OverflowError: fastavro's error then
    elif kind == BOOLEAN:
        if not isinstance(datum, bool):
            raise Fallback
        out.append(1 if datum else 0)
    elif kind == NULL:
        if datum is not None:
            raise Fallback
    elif kind == ENUM:
        if not isinstance(datum, str) or datum not in node.symbols:
            raise Fallback
        _long(node.symbols[datum], out)
    elif kind == BYTES:
        if not isinstance(datum, bytes):
            raise Fallback
        _long(len(datum), out)
        out += datum
    elif kind == FIXED:
        if not isinstance(datum, bytes) or len(datum) != node.size:
            raise Fallback
        out += datum
    else:
        raise Fallback


def _write_union(node: Node, datum: object, out: bytearray) -> None:
    if datum is None:
        index = node.for_none
    elif isinstance(datum, bool):
        index = node.for_bool
    elif isinstance(datum, int):
        index = node.for_int
    elif isinstance(datum, float):
        index = node.for_float
    elif isinstance(datum, str):
        index = node.for_str
    elif isinstance(datum, bytes):
        index = node.for_bytes
    elif isinstance(datum, dict):
        index = node.for_dict
    elif isinstance(datum, list):
        index = node.for_list
    else:
        index = -1
    if index < 0:
        raise Fallback
    _long(index, out)
    _write(node.branches[index], datum, out)


# -- decoding -------------------------------------------------------------------------------


class _Reader:
    """A position in the bytes being decoded."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data)


def decode(node: Node, data: bytes, pos: int) -> tuple[object, int]:
    """The value encoded in ``data`` from ``pos`` and the position after it; raises
    :class:`Fallback` or ``UnicodeDecodeError``."""
    reader = _Reader(data, pos)
    value = _read(node, reader)
    return value, reader.pos


def _read_long(r: _Reader) -> int:
    data = r.data
    pos = r.pos
    end = r.end
    shift = 0
    acc = 0
    while True:
        if pos >= end or shift > 63:
            raise Fallback
        byte = data[pos]
        pos += 1
        acc |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if acc > 0xFFFFFFFFFFFFFFFF:
        raise Fallback
    r.pos = pos
    return (acc >> 1) ^ -(acc & 1)


def _read_bytes(r: _Reader) -> bytes:
    size = _read_long(r)
    start = r.pos
    if size < 0 or start + size > r.end:
        raise Fallback
    r.pos = start + size
    return r.data[start : start + size]


def _read_fixed(r: _Reader, size: int) -> bytes:
    start = r.pos
    if start + size > r.end:
        raise Fallback
    r.pos = start + size
    return r.data[start : start + size]


def _read(node: Node, r: _Reader) -> object:
    kind = node.kind
    if kind == STRING:
        return _read_bytes(r).decode()
    if kind == RECORD:
        record: dict[str, object] = {}
        for name, sub in node.fields:
            record[name] = _read(sub, r)
        return record
    if kind in (LONG, INT):
        value = _read_long(r)
        if kind == INT and (value < _INT_MIN or value > _INT_MAX):
            raise Fallback
        return value
    if kind == UNION:
        index = _read_long(r)
        if index < 0 or index >= len(node.branches):
            raise Fallback
        return _read(node.branches[index], r)
    if kind == MAP:
        items = node.items
        assert items is not None
        mapping: dict[str, object] = {}
        while True:
            count = _read_long(r)
            if count == 0:
                return mapping
            if count < 0:
                raise Fallback
            for _ in range(count):
                key = _read_bytes(r).decode()
                mapping[key] = _read(items, r)
    if kind == ARRAY:
        items = node.items
        assert items is not None
        values: list[object] = []
        while True:
            count = _read_long(r)
            if count == 0:
                return values
            if count < 0:
                raise Fallback
            for _ in range(count):
                values.append(_read(items, r))
    if kind == DOUBLE:
        value_f: float = struct.unpack("<d", _read_fixed(r, 8))[0]
        return value_f
    if kind == FLOAT:
        value_f = struct.unpack("<f", _read_fixed(r, 4))[0]
        return value_f
    if kind == BOOLEAN:
        flag = _read_fixed(r, 1)[0]
        if flag > 1:
            raise Fallback
        return flag == 1
    if kind == NULL:
        return None
    if kind == ENUM:
        index = _read_long(r)
        if index < 0 or index >= len(node.symbol_list):
            raise Fallback
        return node.symbol_list[index]
    if kind == BYTES:
        return _read_bytes(r)
    if kind == FIXED:
        return _read_fixed(r, node.size)
    raise Fallback
