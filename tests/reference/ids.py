"""Restate ids as behaviour.md describes them, written again from the text (not from ``fsm.ids``).

Section 4 ("Id parse reasons") gives the checks and their order; section 5 the format:
``{prefix}_1`` then fixed-width base62 fields over ``0-9a-zA-Z``, each integer byte-swapped.
Fields are counted in characters as the text says; every id the differential test sends is ASCII,
where characters and bytes agree.
"""

from __future__ import annotations

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # section 4, in this order
DIGIT = {c: i for i, c in enumerate(ALPHABET)}
U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1
KNOWN_PREFIXES = ("inv", "dp", "sub", "prom", "sign", "snap", "mut", "vq")  # section 4, reason 3
#: The fixed-width fields of each kind (section 4, reason 6): (width, largest value).
FIELDS = {"inv": ((11, U64_MAX), (22, U128_MAX)), "dp": ((22, U128_MAX),)}


class BadId(Exception):
    """An id that does not parse; ``reason`` is the text section 4 gives."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _swap(value: int, nbytes: int) -> int:
    """Section 5: each integer is byte-swapped (little-endian bytes read as big-endian)."""
    return int.from_bytes(value.to_bytes(nbytes, "little"), "big")


def decode(raw: str, kind: str) -> list[int]:
    """The integers of an id of ``kind`` ("inv" or "dp"), or :class:`BadId` (section 4, reasons in order)."""
    if raw == "":
        raise BadId("bad length")  # reason 1
    if "_" not in raw:
        raise BadId("bad format")  # reason 2
    prefix, rest = raw.split("_", 1)
    if prefix not in KNOWN_PREFIXES:
        raise BadId(f"unrecognized resource type: {prefix}")  # reason 3
    if rest == "":
        raise BadId("bad length")  # reason 4
    if rest[0] != "1":
        raise BadId("unrecognized codec version")  # reason 4: the version comes before the type
    if prefix != kind:
        raise BadId("id doesn't match the expected type")  # reason 5
    values = []
    position = 1
    for width, largest in FIELDS[kind]:  # reason 6, each field in turn
        field = rest[position : position + width]
        if len(field) < width:
            raise BadId("bad length")
        if any(c not in DIGIT for c in field):
            raise BadId("base62 decode error")
        value = 0
        for c in field:
            value = value * 62 + DIGIT[c]
        if value > largest:
            raise BadId("base62 decode error")
        values.append(_swap(value, 8 if largest == U64_MAX else 16))
        position += width
    if position != len(rest):
        raise BadId("bad length")  # reason 7 (Restate 1.7.3 and later)
    return values


def partition_key(invocation_id: str) -> int:
    """The partition key of a well-formed invocation id (its first field, section 5)."""
    return decode(invocation_id, "inv")[0]


def _encode(value: int, width: int) -> str:
    text = ""
    while value:
        value, digit = divmod(value, 62)
        text = ALPHABET[digit] + text
    return text.rjust(width, "0")  # section 5: left-padded with 0


def encode_invocation_id(partition: int, uuid: int) -> str:
    """Section 5: ``inv_`` + ``1`` + base62(partition key, 11) + base62(uuid, 22), byte-swapped."""
    return "inv_1" + _encode(_swap(partition, 8), 11) + _encode(_swap(uuid, 16), 22)


def encode_deployment_id(uuid: int) -> str:
    """Section 5: ``dp_`` + ``1`` + 22 characters."""
    return "dp_1" + _encode(_swap(uuid, 16), 22)
