"""recording.matrix: the probes are fixed by their inputs, so two runs probe the same things in order."""

from __future__ import annotations

import pytest

from recording.matrix import ODD_OP_QUERIES, malformed_ids, op_plan, restart_queries, unknown_variant
from recording.world import INV_ID_RE

from .fakes import INV_A

DP = {
    "D1": "dp_11111111111111111111111",
    "D4_fake_proto5": "dp_14444444444444444444444",
    "D2": "dp_12222222222222222222222",
    "D3_other": "dp_13333333333333333333333",
    "D5_lonely": "dp_15555555555555555555555",
}
UNKNOWN = "dp_11111111111111111111121"


def test_restart_queries_for_a_short_journal_without_extras() -> None:
    qs = restart_queries(2, DP, UNKNOWN, extras=False)
    assert qs[:6] == ["", "from=0", "from=1", "from=2", "from=3", "from=4"]  # 0..max(len+1, 4)
    assert qs[6:12] == [f"from={v}" for v in (1000, 65536, 2147483647, 2147483648, 4294967294, 4294967295)]
    assert qs[12:16] == ["deployment=Keep", "deployment=Latest", "deployment=keep", "deployment=latest"]
    assert qs[16:21] == [f"deployment={DP[n]}" for n in ("D1", "D4_fake_proto5", "D2", "D3_other", "D5_lonely")]
    assert qs[21:24] == [f"deployment={UNKNOWN}", "deployment=dp_bogus", "deployment=xyz"]
    assert qs[24] == "from=1&deployment=Keep" and qs[32] == "from=0&deployment=Keep"
    assert qs[-5:] == ["from=-1", "from=abc", "from=", "from=1.5", "from=4294967296"]
    assert len(qs) == 1 + 5 + 6 + 12 + 2 * 8 + 5
    assert not any(q.startswith("from=1&deployment=keep") for q in qs)  # len-1 probes need len > 2
    assert len(set(qs)) == len(qs)


def test_restart_queries_for_a_longer_journal_probe_from_past_its_end_and_len_minus_one() -> None:
    qs = restart_queries(8, DP, UNKNOWN, extras=False)
    assert [q for q in qs if q.startswith("from=") and q[5:].isdigit() and int(q[5:]) < 100] == [
        f"from={i}" for i in range(10)
    ]
    assert ["from=7&deployment=keep", "from=7&deployment=latest", f"from=7&deployment={DP['D1']}"] == [
        q for q in qs if q.startswith("from=7&")
    ]
    assert len(qs) == 1 + 10 + 6 + 12 + 2 * 8 + 3 + 5


def test_the_extras_add_odd_shapes_and_malformed_deployment_ids() -> None:
    plain = restart_queries(8, DP, UNKNOWN, extras=False)
    qs = restart_queries(8, DP, UNKNOWN, extras=True)
    extra = qs[len(plain) :]
    assert qs[: len(plain)] == plain
    assert len(extra) == 25
    assert extra[:6] == ["from=1&from=2", "from=%201", "from=+1", "from=01", "FROM=1", "unknown=1"]
    assert "from=1&deployment=%7B%22Id%22%3A%22dp_12222222222222222222222%22%7D" in extra
    assert f"deployment={DP['D1']}x" in extra and f"deployment={DP['D1'][:-1]}" in extra
    assert "deployment=dp_21111111111111111111111" in extra
    assert extra[-1] == "from=2&deployment=%6Beep"


@pytest.mark.parametrize(
    ("some_id", "pos", "expected"),
    [("abc", 0, "bbc"), ("a9c", 1, "aac"), ("azc", 1, "aAc"), ("aZc", 1, "a0c"), ("xyz", 2, "xyA")],
)
def test_unknown_variant_moves_one_character_on_in_base62(some_id: str, pos: int, expected: str) -> None:
    assert unknown_variant(some_id, pos) == expected


def test_an_unknown_variant_of_an_id_is_still_well_formed() -> None:
    variant = unknown_variant(INV_A, len(INV_A) - 1)
    assert variant == INV_A[:-1] + "B"
    assert INV_ID_RE.match(variant)


def test_malformed_ids_are_distinct_and_only_the_overflowing_ones_have_the_right_shape() -> None:
    ids = malformed_ids(INV_A, DP["D1"])
    assert len(ids) == 15 and len(set(ids)) == 15
    # these two parse as base62 of the right length, but their values overflow (the server refuses them)
    assert [i for i in ids if INV_ID_RE.match(i)] == [
        "inv_1ZZZZZZZZZZZaaaaAAAAAAAAAAAAAAAAAA",
        "inv_1aaaaaaaaaaaZZZZZZZZZZZZZZZZZZZZZZ",
    ]
    assert ids[:6] == ["inv_bogus", "not-an-id", INV_A[:-1], INV_A + "x", "inv_2" + INV_A[5:], DP["D1"]]
    assert ids[10] == "inv_1aaaaaaaaaaa!aaaAAAAAAAAAAAAAAAAAA"
    assert ids[-1] == "inv-1" + INV_A[5:]


def test_the_operation_plan() -> None:
    plan = op_plan(DP, UNKNOWN)
    assert plan[:2] == [("purge", None, None), ("purge_journal", None, None)]
    assert [d for op, d, _ in plan if op == "resume"] == [
        None,
        "Keep",
        "keep",
        "Latest",
        "latest",
        *(DP[n] for n in ("D1", "D4_fake_proto5", "D2", "D3_other", "D5_lonely")),
        UNKNOWN,
        "dp_bogus",
        "xyz",
        "",
    ]
    assert plan[-3:] == [("pause", None, None), ("cancel", None, None), ("kill", None, None)]
    assert len(plan) == 2 + 14 + 3
    assert all(raw is None for _, _, raw in plan)
    assert [raw for _, _, raw in ODD_OP_QUERIES] == [
        "deployment=keep&deployment=latest",
        "DEPLOYMENT=latest",
        "deployment=%6Beep",
        "foo=bar",
    ]
