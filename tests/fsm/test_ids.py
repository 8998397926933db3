from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm import ids
from fsm.ids import (
    ALPHABET,
    U64_MAX,
    U128_MAX,
    IdError,
    IdGenerator,
    encode_deployment_id,
    encode_invocation_id,
    parse_deployment_id,
    parse_invocation_id,
    partition_key_of,
)

RECORDED = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9"


def test_recorded_ids_round_trip() -> None:
    assert str(parse_invocation_id(RECORDED)) == RECORDED
    assert encode_deployment_id(parse_deployment_id("dp_16hyvaGLkmYCmSH4nzeUDZv")) == "dp_16hyvaGLkmYCmSH4nzeUDZv"


def test_deployment_ulid_carries_the_recording_time() -> None:
    # The byte swap is right: the ULID's 48-bit timestamp of a recorded deployment is Nov 2026.
    assert parse_deployment_id("dp_16hyvaGLkmYCmSH4nzeUDZv") >> 80 == 1_795_811_744_090


def test_same_key_same_partition_key_in_recorded_ids() -> None:
    a = parse_invocation_id("inv_1hkQadOGD9wm10sVna5BHCWNM8vOqH9hDk")
    b = parse_invocation_id("inv_1hkQadOGD9wm00qT8N0UIMO9o1rkXLmwV7")
    assert a.partition_key == b.partition_key


@given(st.integers(0, U64_MAX), st.integers(0, U128_MAX))
def test_invocation_ids_round_trip(pk: int, uuid: int) -> None:
    text = encode_invocation_id(pk, uuid)
    assert len(text) == 38
    assert parse_invocation_id(text) == (pk, uuid)


@given(st.integers(0, U128_MAX))
def test_deployment_ids_round_trip(uuid: int) -> None:
    text = encode_deployment_id(uuid)
    assert len(text) == 26
    assert parse_deployment_id(text) == uuid


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "bad length"),
        ("xyz", "bad format"),
        ("KEEP", "bad format"),
        ("foo_1abc", "unrecognized resource type: foo"),
        ('{"Id":"dp_16cR', 'unrecognized resource type: {"Id":"dp'),
        ("inv_", "bad length"),
        ("inv_bogus", "unrecognized codec version"),
        ("inv_2drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9", "unrecognized codec version"),
        ("dp_16hyvaGLkmYCmSH4nzeUDZv", "id doesn't match the expected type"),
        ("sub_1abc", "id doesn't match the expected type"),
        ("inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e", "bad length"),
        (RECORDED + "x", "bad length"),
        ("inv_1drCQQYKZl9", "bad length"),
        ("inv_1ZZZZZZZZZZZ0000000000000000000000", "base62 decode error"),  # overflows u64
        ("inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e!", "base62 decode error"),
        ("inv_1drCQ-YKZl9p7MIOJSFmvUm5T2w3LPR8e9", "base62 decode error"),
        ("inv_1é", "bad length"),  # a field cut inside a multi-byte character
        ("inv_é", "bad length"),
        # lengths count UTF-8 bytes, as restate-server 1.7.12 answered (asked 2026-12-05)
        ("inv_10000000000é0000000000000000000000", "bad length"),
        ("inv_1000000000é00000000000000000000000", "base62 decode error"),
        ("inv_10000000000000000000000000000000é", "base62 decode error"),
        # the version is read before the type is compared (restate-server 1.7.12 answers so, asked 2026-12-05)
        ("dp_bogus", "unrecognized codec version"),
        ("dp_2hyvaGLkmYCmSH4nzeUDZv", "unrecognized codec version"),
    ],
)
def test_invocation_id_failures_name_restates_reason(raw: str, reason: str) -> None:
    with pytest.raises(IdError) as caught:
        parse_invocation_id(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("dp_bogus", "unrecognized codec version"),
        ("Id", "bad format"),
        ("", "bad length"),
        (RECORDED, "id doesn't match the expected type"),
        ("dp_16hyvaGLkmYCmSH4nzeUDZ", "bad length"),
        ("dp_16hyvaGLkmYCmSH4nzeUDZvv", "bad length"),
        ("dp_1ZZZZZZZZZZZZZZZZZZZZZZ", "base62 decode error"),  # overflows u128
        ("inv_bogus", "unrecognized codec version"),  # the version is read before the type is compared
    ],
)
def test_deployment_id_failures(raw: str, reason: str) -> None:
    with pytest.raises(IdError) as caught:
        parse_deployment_id(raw)
    assert caught.value.reason == reason


def test_generation_is_reproducible_from_a_seed() -> None:
    a, b = IdGenerator(42), IdGenerator(42)
    assert [a.invocation_id(1_000) for _ in range(5)] == [b.invocation_id(1_000) for _ in range(5)]
    assert IdGenerator(1).invocation_id(1_000) != IdGenerator(2).invocation_id(1_000)


def test_generated_invocation_keeps_the_partition_key() -> None:
    pk = parse_invocation_id(RECORDED).partition_key
    new = IdGenerator(3).invocation_id(5, pk)
    assert new[:16] == RECORDED[:16] and new != RECORDED


def test_encoding_rejects_out_of_range_integers() -> None:
    with pytest.raises(ValueError):
        encode_invocation_id(-1, 0)
    with pytest.raises(ValueError):
        encode_deployment_id(U128_MAX + 1)


@given(st.text(alphabet=ALPHABET, min_size=33, max_size=33))
def test_the_well_formed_fast_path_agrees_with_the_cursor(digits: str) -> None:
    raw = "inv_1" + digits  # every such string matches the fast path's pattern; some overflow
    try:
        expected: object = ids._parse_invocation_id_by_cursor(raw)
    except IdError as exc:
        expected = exc.reason
    try:
        got: object = parse_invocation_id(raw)
    except IdError as exc:
        got = exc.reason
    assert got == expected


def test_deployment_ulids_carry_the_clock_in_their_top_48_bits() -> None:
    generator = IdGenerator(7)
    for now_ms in (1_795_811_744_091, 1_795_811_744_090):  # an odd and an even millisecond
        for _ in range(16):
            ulid = generator.ulid(now_ms)
            assert ulid >> 80 == now_ms and ulid <= U128_MAX
        assert parse_deployment_id(generator.deployment_id(now_ms)) >> 80 == now_ms
    assert generator.ulid((1 << 48) + 5) >> 80 == 5  # a ULID's time is 48 bits: it wraps, never overflows


def test_generated_partition_keys_are_u64() -> None:
    generator = IdGenerator(5)
    keys = [generator.partition_key() for _ in range(32)]
    assert all(0 <= key <= U64_MAX for key in keys) and max(keys) > U64_MAX // 2


def test_the_partition_key_of_an_id_and_of_a_key() -> None:
    assert ids.partition_key_of(encode_invocation_id(5, 7)) == 5
    assert ids.partition_key_of(RECORDED) == parse_invocation_id(RECORDED).partition_key
    assert ids.key_partition_key("a") == ids.key_partition_key("a") != ids.key_partition_key("b")
    assert 0 <= ids.key_partition_key("a") <= U64_MAX


def test_encoding_names_the_range_it_needs() -> None:
    with pytest.raises(ValueError) as caught:
        encode_deployment_id(-1)
    assert str(caught.value) == "uuid must be a u128"
    with pytest.raises(ValueError) as caught:
        encode_invocation_id(U64_MAX + 1, 0)
    assert str(caught.value) == "partition key must be a u64 and uuid a u128"


def test_an_id_is_split_at_its_first_underscore() -> None:
    with pytest.raises(IdError) as caught:
        parse_deployment_id("dp_1" + "_" * 22)  # prefix dp, version 1, then a field of 22 '_'
    assert caught.value.reason == str(caught.value) == "base62 decode error"


def test_a_lone_surrogate_is_read_as_its_utf8_bytes() -> None:
    # Each '\ud800' is 3 bytes: the 11-byte partition key field ends inside the fourth one.
    with pytest.raises(IdError) as caught:
        parse_invocation_id("inv_1" + "\ud800" * 11)
    assert caught.value.reason == "bad length"


def test_the_default_seed_is_0() -> None:
    assert IdGenerator().invocation_id(0) == IdGenerator(0).invocation_id(0)


def test_well_formed_invocation_ids_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """One regex match for a well-formed id, the largest fields included: the cursor is for the rest."""

    def no_cursor(raw: str) -> ids.InvocationId:
        raise AssertionError(f"{raw} walked the cursor")

    monkeypatch.setattr(ids, "_parse_invocation_id_by_cursor", no_cursor)
    for partition_key, uuid in ((0, 0), (U64_MAX, 1), (1, U128_MAX), (12_345, 678_910)):
        assert parse_invocation_id(encode_invocation_id(partition_key, uuid)) == (partition_key, uuid)


def test_a_generator_confined_to_a_partition_key_range_draws_only_there() -> None:
    low, high = 5 << 60, (5 << 60) + (1 << 40)
    confined = IdGenerator(7, (low, high))
    drawn = [partition_key_of(confined.invocation_id(0)) for _ in range(2000)]
    assert all(low <= pk < high for pk in drawn) and len(set(drawn)) == len(drawn)
    assert min(drawn) < low + (1 << 38) and max(drawn) > high - (1 << 38)  # the whole range, not a corner
    twin = confined.copy()
    assert twin.invocation_id(0) == confined.invocation_id(0)
    assert partition_key_of(IdGenerator(7, (low, high)).invocation_id(0, partition_key=3)) == 3  # keyed: as asked
