"""What gets probed: the query strings of restart-as-new, the ids that do not exist or do not parse,
and the plan of the other operations. Pure: the same inputs give the same probes in the same order.
"""

from __future__ import annotations

import json
import urllib.parse

from .world import DEPLOYMENTS

#: Resume's ``deployment`` values besides the deployment ids (None: no parameter).
RESUME_SELECTORS: list[str | None] = [None, "Keep", "keep", "Latest", "latest"]
#: HTTP-only operation shapes, (operation, deployment, raw query string): duplicated or unknown keys.
ODD_OP_QUERIES: list[tuple[str, str | None, str | None]] = [
    ("resume", None, "deployment=keep&deployment=latest"),
    ("resume", None, "DEPLOYMENT=latest"),
    ("resume", None, "deployment=%6Beep"),
    ("cancel", None, "foo=bar"),
]


def restart_queries(journal_len: int, dp: dict[str, str], unknown_dp: str, extras: bool) -> list[str]:
    """Every restart-as-new query string for a target whose journal has ``journal_len`` entries.

    ``dp`` maps our deployment names to ids; ``extras`` adds the odd shapes and malformed
    deployment ids (probed on one target only).
    """
    ids = [dp[n] for n, _ in DEPLOYMENTS]
    qs = [""]
    qs += [f"from={i}" for i in range(0, max(journal_len + 2, 5))]
    qs += [f"from={v}" for v in (1000, 65536, 2147483647, 2147483648, 4294967294, 4294967295)]
    deps = ["Keep", "Latest", "keep", "latest"] + ids + [unknown_dp, "dp_bogus", "xyz"]
    qs += [f"deployment={d}" for d in deps]
    for f in (1, 0):
        qs += [f"from={f}&deployment={d}" for d in ["Keep", "Latest"] + ids + [unknown_dp]]
    if journal_len > 2:
        qs += [f"from={journal_len - 1}&deployment={d}" for d in ("keep", "latest", dp["D1"])]
    qs += ["from=-1", "from=abc", "from=", "from=1.5", "from=4294967296"]
    if extras:
        d1, d2 = dp["D1"], dp["D2"]
        qs += [
            "from=1&from=2",
            "from=%201",
            "from=+1",
            "from=01",
            "FROM=1",
            "unknown=1",
            f"from=1&deployment[Id]={d2}",
            "from=1&deployment=Id",
            "from=1&deployment=" + urllib.parse.quote(json.dumps({"Id": d2}, separators=(",", ":")), safe=""),
            "from=1&deployment=KEEP",
            "from=1&deployment=",
            "deployment=LATEST",
            "deployment=Keep&deployment=Latest",
            f"deployment={d1}x",
            f"deployment={d1[:-1]}",
            "deployment=dp_",
            "deployment=dp_1",
            "deployment=dp_1" + "!" * 22,
            "deployment=dp_1" + "Z" * 22,
            "deployment=dp_2" + d1[4:],
            "deployment=foo_1abc",
            "deployment=sub_1" + d1[4:],
            f"deployment=inv_1{d1[4:]}00000000000",
            f"deployment=%20{d1}",
            "from=2&deployment=%6Beep",
        ]
    return qs


def unknown_variant(some_id: str, pos: int) -> str:
    """``some_id`` with the character at ``pos`` moved one step on in base62: well-formed, unknown."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    c = some_id[pos]
    repl = alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    return some_id[:pos] + repl + some_id[pos + 1 :]


def malformed_ids(real: str, dp1: str) -> list[str]:
    """Invocation ids that do not parse, each for another reason, built around a real one."""
    return [
        "inv_bogus",
        "not-an-id",
        real[:-1],
        real + "x",
        "inv_2" + real[5:],
        dp1,
        "KEEP",
        "inv_",
        "inv_1",
        "foo_1" + real[5:],
        "inv_1" + real[5:16] + "!" + real[17:],
        "inv_1ZZZZZZZZZZZ" + real[16:],
        "inv_1" + real[5:16] + "Z" * 22,
        "sub_1" + real[5:],
        "inv-1" + real[5:],
    ]


def op_plan(dp: dict[str, str], unknown_dp: str) -> list[tuple[str, str | None, str | None]]:
    """The operations probed in every state, in order: (operation, resume's deployment, raw query string)."""
    resume_deps = RESUME_SELECTORS + [dp[n] for n, _ in DEPLOYMENTS] + [unknown_dp, "dp_bogus", "xyz", ""]
    plan: list[tuple[str, str | None, str | None]] = [("purge", None, None), ("purge_journal", None, None)]
    plan += [("resume", d, None) for d in resume_deps]
    plan += [("pause", None, None), ("cancel", None, None), ("kill", None, None)]
    return plan
