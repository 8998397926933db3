"""Restate-compatible invocation (`inv_`) and deployment (`dp_`) ids.

Format (behaviour.md section 5): ``{prefix}_1`` then fixed-width base62 fields, alphabet
``0-9a-zA-Z`` in that order, left-padded with ``0``; each integer is byte-swapped
(its little-endian bytes read as big-endian) before encoding.

- invocation: ``inv_1`` + partition key (u64, 11 chars) + uuid (u128, 22 chars) = 38 chars
- deployment: ``dp_1`` + ULID (u128, 22 chars) = 26 chars

Parsing fails with exactly the reasons Restate gives, tested in Restate's order, and works on
UTF-8 bytes like Restate does (a field cut inside a multi-byte character is a "bad length").
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import struct
from typing import NamedTuple

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALPHABET_BYTES = ALPHABET.encode("ascii")
#: Each base62 character -> its digit value, as a ``bytes.translate`` table.
_TO_DIGIT = bytes.maketrans(_ALPHABET_BYTES, bytes(range(62)))
U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1
WIDTH_U64 = 11
WIDTH_U128 = 22

#: Resource prefixes Restate knows; a known prefix of the wrong kind is a type mismatch.
RESOURCE_TYPES = ("inv", "dp", "sub", "prom", "sign", "snap", "mut", "vq")
INVOCATION_PREFIX = "inv"
DEPLOYMENT_PREFIX = "dp"

# Restate's IdDecodeError texts.
BAD_LENGTH = "bad length"
BAD_FORMAT = "bad format"
BASE62 = "base62 decode error"
BAD_VERSION = "unrecognized codec version"
TYPE_MISMATCH = "id doesn't match the expected type"


class IdError(ValueError):
    """An id that does not parse; ``reason`` is Restate's text for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvocationId(NamedTuple):
    partition_key: int
    uuid: int

    def __str__(self) -> str:
        return encode_invocation_id(self.partition_key, self.uuid)


def _swap(value: int, nbytes: int) -> int:
    return int.from_bytes(value.to_bytes(nbytes, "little"), "big")


#: Every two-character base62 string, by value: one divmod per two characters.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]


def _encode(value: int, width: int) -> str:
    """``value`` in base62, left-padded with ``0`` to ``width`` (callers check that it fits)."""
    pairs = []
    for _ in range((width + 1) >> 1):
        value, pair = divmod(value, 3844)
        pairs.append(_PAIRS[pair])
    pairs.reverse()
    text = "".join(pairs)
    return text[1:] if width & 1 else text


def _u64_text(value: int) -> str:
    """``_encode(value, WIDTH_U64)`` unrolled, for ids drawn in a partition-key range (a hot path)."""
    value, a = divmod(value, 3844)
    value, b = divmod(value, 3844)
    value, c = divmod(value, 3844)
    value, d = divmod(value, 3844)
    value, e = divmod(value, 3844)
    return ALPHABET[value] + _PAIRS[e] + _PAIRS[d] + _PAIRS[c] + _PAIRS[b] + _PAIRS[a]


def encode_invocation_id(partition_key: int, uuid: int) -> str:
    """``inv_1`` + base62(partition key) + base62(uuid), both byte-swapped."""
    if not 0 <= partition_key <= U64_MAX or not 0 <= uuid <= U128_MAX:
        raise ValueError("partition key must be a u64 and uuid a u128")
    return "inv_1" + _encode(_swap(partition_key, 8), WIDTH_U64) + _encode(_swap(uuid, 16), WIDTH_U128)


def encode_deployment_id(uuid: int) -> str:
    """``dp_1`` + base62(uuid), byte-swapped."""
    if not 0 <= uuid <= U128_MAX:
        raise ValueError("uuid must be a u128")
    return "dp_1" + _encode(_swap(uuid, 16), WIDTH_U128)


class _Cursor:
    """Reads fixed-width fields off the UTF-8 bytes after the ``_``, as Restate's cursor does."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def _is_boundary(self, pos: int) -> bool:
        return pos == len(self.data) or (self.data[pos] & 0xC0) != 0x80

    def take(self, length: int) -> bytes:
        end = self.offset + length
        if end > len(self.data) or not self._is_boundary(end):
            raise IdError(BAD_LENGTH)
        out = self.data[self.offset : end]
        self.offset = end
        return out

    def decode(self, width: int, max_value: int, nbytes: int) -> int:
        field = self.take(width)
        if field.translate(None, _ALPHABET_BYTES):  # something outside base62 is left
            raise IdError(BASE62)
        value = 0
        for digit in field.translate(_TO_DIGIT):  # the value only grows: one range check at the end
            value = value * 62 + digit
        if value > max_value:
            raise IdError(BASE62)
        return _swap(value, nbytes)

    def remaining(self) -> int:
        return len(self.data) - self.offset


def _open(raw: str, expected_prefix: str) -> _Cursor:
    if raw == "":
        raise IdError(BAD_LENGTH)
    if "_" not in raw:
        raise IdError(BAD_FORMAT)
    prefix, rest = raw.split("_", 1)
    if prefix not in RESOURCE_TYPES:
        raise IdError(f"unrecognized resource type: {prefix}")
    cursor = _Cursor(rest.encode("utf-8", "surrogatepass"))
    if cursor.take(1) != b"1":
        raise IdError(BAD_VERSION)
    if prefix != expected_prefix:
        raise IdError(TYPE_MISMATCH)
    return cursor


#: A well-formed invocation id: version 1, then 11 + 22 base62 characters.
_WELL_FORMED_INVOCATION_ID = re.compile("inv_1([0-9a-zA-Z]{11})([0-9a-zA-Z]{22})")


def _base62(text: str) -> int:
    value = 0
    for digit in text.encode("ascii").translate(_TO_DIGIT):
        value = value * 62 + digit
    return value


def parse_invocation_id(raw: str) -> InvocationId:
    """Parse an ``inv_`` id or raise :class:`IdError` with Restate's reason.

    Well-formed ids (nearly all) take one regex match; anything else walks the cursor, which
    finds the first problem in the order Restate reports it.
    """
    match = _WELL_FORMED_INVOCATION_ID.fullmatch(raw)
    if match is not None:
        partition_key, uuid = _base62(match[1]), _base62(match[2])
        if partition_key <= U64_MAX and uuid <= U128_MAX:
            return InvocationId(_swap(partition_key, 8), _swap(uuid, 16))
    return _parse_invocation_id_by_cursor(raw)


def _parse_invocation_id_by_cursor(raw: str) -> InvocationId:
    cursor = _open(raw, INVOCATION_PREFIX)
    partition_key = cursor.decode(WIDTH_U64, U64_MAX, 8)
    uuid = cursor.decode(WIDTH_U128, U128_MAX, 16)
    if cursor.remaining():
        raise IdError(BAD_LENGTH)
    return InvocationId(partition_key, uuid)


def parse_deployment_id(raw: str) -> int:
    """Parse a ``dp_`` id into its ULID, or raise :class:`IdError` with Restate's reason."""
    cursor = _open(raw, DEPLOYMENT_PREFIX)
    uuid = cursor.decode(WIDTH_U128, U128_MAX, 16)
    if cursor.remaining():
        raise IdError(BAD_LENGTH)
    return uuid


def partition_key_of(raw: str) -> int:
    """The partition key of a well-formed invocation id (the 11 characters after ``inv_1``)."""
    return parse_invocation_id(raw).partition_key


def key_partition_key(key: str) -> int:
    """A stable u64 for a virtual-object or workflow key: every call on a key shares a partition.

    Restate hashes the key too (with xxh3); the model uses blake2b, so keyed partition keys
    differ from a real server's while keeping the property that matters: same key, same partition.
    """
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


#: Random bytes to base62 characters in one ``bytes.translate`` (byte % 62: a slight bias to the
#: first eight characters, harmless for ids). A field's leading character is drawn below the
#: leading character of the type's maximum ('l' for u64, '7' for u128) so the value always fits.
_TO_CHAR = bytes(ord(ALPHABET[b % 62]) for b in range(256))
_LEAD_U64 = [ALPHABET[b % ALPHABET.index("l")] for b in range(256)]
_LEAD_U128 = [ALPHABET[b % ALPHABET.index("7")] for b in range(256)]
_PREFIX_CACHE_MAX = 65_536
#: ``random.Random``'s state: version 3, 624 Mersenne Twister words and the index into them.
_STATE_VERSION = 3
_STATE_WORDS = 625
_STATE_BYTES = 4 * _STATE_WORDS


class IdGenerator:
    """Reproducible ids from a seeded random source.

    Deployment ids are ULIDs from the virtual clock, as Restate's are. Invocation ids get a random
    uuid field (Restate's are random too) written straight as base62 text from random bytes: this
    is the simulator's hottest path, and encoding two big integers cost four times as much.
    """

    __slots__ = ("_rng", "_prefixes", "_keys")

    def __init__(self, seed: int | str | None = 0, partition_keys: tuple[int, int] | None = None) -> None:
        """``partition_keys`` (low, high): new unkeyed ids get partition keys in ``[low, high)`` only
        (a shard of a bigger world owns a range of partitions); None: any u64."""
        self._rng = random.Random(seed)
        self._prefixes: dict[int, str] = {}  # partition key -> "inv_1" + its 11 characters
        self._keys: tuple[int, int] | None = None
        if partition_keys is not None:
            low, high = partition_keys
            self._keys = (low, high - low)

    def copy(self) -> IdGenerator:
        """A generator at this one's position: both hand out the same ids from here on."""
        twin = IdGenerator.__new__(IdGenerator)
        twin._rng = random.Random.__new__(random.Random)  # unseeded: setstate gives it the state
        twin._rng.setstate(self._rng.getstate())
        twin._prefixes = self._prefixes  # a cache of pure values: shared
        twin._keys = self._keys
        return twin

    @property
    def position(self) -> str:
        """Where the generator stands, as text (:meth:`move_to` takes it): base64 of its state."""
        version, words, gauss = self._rng.getstate()
        assert version == _STATE_VERSION and gauss is None, "only getrandbits and randbytes draw from it"
        return base64.b64encode(struct.pack(f"<{len(words)}I", *words)).decode("ascii")

    def move_to(self, position: str) -> None:
        """Continue from a :attr:`position`; ``ValueError`` (saying why) when it is not one."""
        try:
            raw = base64.b64decode(position.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise ValueError("is not base64") from None
        if len(raw) != _STATE_BYTES:
            raise ValueError(f"must decode to {_STATE_BYTES} bytes, got {len(raw)}")
        words = struct.unpack(f"<{_STATE_WORDS}I", raw)
        if words[-1] > _STATE_WORDS - 1:
            raise ValueError("is not a generator's position (its index is out of range)")
        self._rng.setstate((_STATE_VERSION, words, None))

    def ulid(self, now_ms: int) -> int:
        return ((now_ms & ((1 << 48) - 1)) << 80) | self._rng.getrandbits(80)

    def partition_key(self) -> int:
        return self._rng.getrandbits(64)

    def invocation_id(self, now_ms: int, partition_key: int | None = None) -> str:
        """A new ``inv_`` id: a random partition key unless one is given (keyed calls, restarts)."""
        raw = self._rng.randbytes(33)
        text = raw.translate(_TO_CHAR).decode("ascii")
        uuid = _LEAD_U128[raw[11]] + text[12:]
        if partition_key is None:
            if self._keys is None:
                return "inv_1" + _LEAD_U64[raw[0]] + text[1:11] + uuid
            low, span = self._keys
            partition_key = low + int.from_bytes(raw[:8]) % span
            return "inv_1" + _u64_text(int.from_bytes(partition_key.to_bytes(8, "little"))) + uuid
        prefix = self._prefixes.get(partition_key)
        if prefix is None:
            prefix = encode_invocation_id(partition_key, 0)[:16]
            if len(self._prefixes) < _PREFIX_CACHE_MAX:
                self._prefixes[partition_key] = prefix
        return prefix + uuid

    def deployment_id(self, now_ms: int) -> str:
        return encode_deployment_id(self.ulid(now_ms))
