from __future__ import annotations

import pytest

from fsm.errors import InvalidArgument
from fsm.requests import KEEP, LATEST, DeploymentById, RawQuery, parse_deployment, parse_from, parse_query_string
from tests.refusals import answer, refused

PREFIX = "Failed to deserialize query string: "


@pytest.mark.parametrize(
    ("raw", "value"),
    [(None, 0), ("0", 0), ("01", 1), ("+1", 1), ("4294967295", 4294967295), (7, 7), ("0000000000007", 7)],
)
def test_from_parses_like_rust_u32(raw: str | int | None, value: int) -> None:
    assert parse_from(raw) == value


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("abc", "from: invalid digit found in string"),
        ("-1", "from: invalid digit found in string"),
        (-1, "from: invalid digit found in string"),
        ("1.5", "from: invalid digit found in string"),
        (" 1", "from: invalid digit found in string"),
        ("+", "from: invalid digit found in string"),
        ("", "from: cannot parse integer from empty string"),
        ("4294967296", "from: number too large to fit in target type"),
        (4294967296, "from: number too large to fit in target type"),
        ("99999999999x", "from: number too large to fit in target type"),
        ("4294967295x", "from: invalid digit found in string"),  # Rust checks the digit first
        ("٣", "from: invalid digit found in string"),
    ],
)
def test_from_failures_carry_rusts_message(raw: str | int, detail: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_from(raw)
    assert caught.value.message == PREFIX + detail
    assert (caught.value.http_status, caught.value.reason, caught.value.check) == (400, "INVALID_QUERY_STRING", 1)


def test_from_rejects_other_python_types() -> None:
    for value, kind in ((1.0, "float"), (True, "bool"), (b"1", "bytes")):
        err = refused(lambda value=value: parse_from(value), InvalidArgument)  # type: ignore[misc]
        assert answer(err) == (
            400,
            "INVALID_QUERY_STRING",
            PREFIX + f"from: expected an integer or a string, got {kind}",
        )


def test_deployment_selector() -> None:
    assert parse_deployment(None) is LATEST
    assert parse_deployment("latest") is LATEST and parse_deployment("Latest") is LATEST
    assert parse_deployment("keep") is KEEP and parse_deployment("Keep") is KEEP
    assert parse_deployment("dp_16hyvaGLkmYCmSH4nzeUDZv") == DeploymentById("dp_16hyvaGLkmYCmSH4nzeUDZv")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("KEEP", "bad format"), ("xyz", "bad format"), ("", "bad length"), ("dp_bogus", "unrecognized codec version")],
)
def test_malformed_deployment(raw: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_deployment(raw)
    assert caught.value.message == f"The query parameter 'deployment' is invalid. Reason: {reason}"
    assert (caught.value.http_status, caught.value.reason, caught.value.check) == (400, "INVALID_DEPLOYMENT_ID", 3)


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("", RawQuery(None, None)),
        ("from=3", RawQuery(3, None)),
        ("FROM=1", RawQuery(None, None)),  # keys are case-sensitive; unknown keys are ignored
        ("unknown=1&from=2", RawQuery(2, None)),
        ("from=1&deployment[Id]=dp_16cRnGpcnx76y3EtKOfifDP", RawQuery(1, None)),
        ("deployment=%7B%22Id%22%7D", RawQuery(None, '{"Id"}')),
        ("fr%6Fm=4", RawQuery(4, None)),
        ("&&from=5&", RawQuery(5, None)),
        ("deployment=", RawQuery(None, "")),
    ],
)
def test_query_string(query: str, parsed: RawQuery) -> None:
    assert parse_query_string(query) == parsed


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("from=1&from=2", "duplicate field `from`"),
        ("deployment=keep&deployment=latest", "duplicate field `deployment`"),
        ("from=+1", "from: invalid digit found in string"),  # + is a space in a query string
        ("from=%201", "from: invalid digit found in string"),
        ("from", "from: cannot parse integer from empty string"),
        ("from=abc&from=1", "from: invalid digit found in string"),
    ],
)
def test_query_string_failures(query: str, detail: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_query_string(query)
    assert caught.value.message == PREFIX + detail
    assert (caught.value.http_status, caught.value.reason, caught.value.check) == (400, "INVALID_QUERY_STRING", 1)


def test_a_plus_in_the_query_string_is_one_space() -> None:
    # 21 base62 characters and a '+': the 22-character field ends with a space.
    query = "deployment=dp_1" + "1" * 21 + "+"
    assert parse_query_string(query).deployment == "dp_1" + "1" * 21 + " "


def test_invalid_utf8_in_the_query_string_is_replaced_not_fatal() -> None:
    assert parse_query_string("deployment=%FF").deployment == "\ufffd"
    err = refused(lambda: parse_query_string("from=%FF"), InvalidArgument)
    assert answer(err) == (400, "INVALID_QUERY_STRING", PREFIX + "from: invalid digit found in string")


def test_a_query_that_is_not_a_string_names_its_type() -> None:
    err = refused(lambda: parse_query_string(5), InvalidArgument)  # type: ignore[arg-type]
    assert answer(err) == (400, "INVALID_QUERY_STRING", PREFIX + "expected a string, got int")


def test_the_selectors_name_themselves() -> None:
    assert (repr(KEEP), repr(LATEST)) == ("KEEP", "LATEST")


@pytest.mark.parametrize("raw", ["1:", "\ud800"])  # ':' follows '9'; a lone surrogate is 3 bytes, none a digit
def test_from_refuses_what_is_not_an_ascii_digit(raw: str) -> None:
    err = refused(lambda: parse_from(raw), InvalidArgument)
    assert (*answer(err), err.check) == (400, "INVALID_QUERY_STRING", PREFIX + "from: invalid digit found in string", 1)


def test_a_deployment_that_is_not_a_string_is_check_3() -> None:
    err = refused(lambda: parse_deployment(5), InvalidArgument)  # type: ignore[arg-type]
    assert (*answer(err), err.check) == (
        400,
        "INVALID_DEPLOYMENT_ID",
        "The query parameter 'deployment' is invalid. Reason: expected a string, got int",
        3,
    )
