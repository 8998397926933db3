"""grpc_server.sql.query: which queries fail on an id that is not one, and DataFusion's messages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from grpc_server.sql import query as sql
from grpc_server.sql import tables
from grpc_server.sql.schema import COLUMNS

GOOD = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM sys_invocation WHERE id = 'bad'",
        "select id from sys_invocation where ID='inv_1' order by id",
        f"SELECT id FROM sys_invocation WHERE id IN ('{GOOD}', 'bad')",
        "SELECT id FROM sys_invocation WHERE 'bad' = id",
        "SELECT i.id FROM sys_invocation i WHERE i.id = '' LIMIT 5",
        "SELECT invocation_id FROM sys_keyed_service_status WHERE invocation_id = 'x';",
    ],
)
def test_a_lookup_by_an_id_that_is_not_one_fails_as_restate_server_does(query: str) -> None:
    with pytest.raises(sql.QueryError) as refused:
        sql.check_id_literals(query)
    assert (refused.value.status, refused.value.message) == (500, sql.BAD_ID)


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT id FROM sys_invocation WHERE id = '{GOOD}'",
        f"SELECT id FROM sys_invocation WHERE id IN ('{GOOD}')",
        "SELECT id FROM sys_invocation WHERE id = 'bad' AND status = 'x'",
        "SELECT id FROM sys_invocation WHERE id = 'bad' OR true",
        "SELECT id FROM sys_invocation WHERE lower(id) = 'bad'",
        "SELECT id FROM sys_invocation WHERE restarted_from = 'bad'",
        "SELECT id FROM sys_invocation_status WHERE id = 'bad' LIMIT 0",
        "SELECT id FROM sys_deployment WHERE id = 'bad'",
    ],
)
def test_other_conditions_filter_as_any_other(query: str) -> None:
    sql.check_id_literals(query)  # nothing raised


def test_an_unknown_column_is_named_without_datafusions_newer_hint() -> None:
    built = tables.build({table: [] for table in COLUMNS})
    with pytest.raises(sql.QueryError) as refused:
        sql.run(built, "SELECT scop FROM sys_invocation")
    assert refused.value.status == 500
    assert refused.value.message.startswith(
        "Datafusion error: Schema error: No field named scop. Valid fields are sys_invocation.id, "
    )
    assert "Did you mean" not in refused.value.message


def test_a_bad_id_is_found_only_once_the_query_plans() -> None:
    built = {"t": pa.table({"x": [1]})}
    with pytest.raises(sql.QueryError) as refused:
        sql.run(built, "SELEC x FROM t WHERE id = 'bad'")
    assert refused.value.status == 400  # the parser speaks first, as restate-server's does
