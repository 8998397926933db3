"""The h2load adapter: request framing and how its summary is read and judged (no h2load needed)."""

from __future__ import annotations

import struct

import pytest

from bench import h2load
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2

SUMMARY = """\
finished in 10.24ms, 1952.74 req/s, 229.03KB/s
requests: 20 total, 20 started, 20 done, 19 succeeded, 1 failed, 0 errored, 0 timeout
status codes: 20 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.35KB (2402) total, 210B (210) headers (space savings 87.04%), 900B (900) data
"""


def test_a_request_is_framed_as_one_uncompressed_length_prefixed_message() -> None:
    request = admin_pb2.RestartAsNewRequest(invocation_id="inv_1abc")
    frame = h2load.grpc_frame(request)
    assert frame[0] == 0
    assert struct.unpack(">I", frame[1:5])[0] == len(frame) - 5
    assert admin_pb2.RestartAsNewRequest.FromString(frame[5:]) == request


def test_the_summary_gives_done_succeeded_and_data_bytes() -> None:
    assert h2load.parse_summary(SUMMARY) == (20, 19, 900)
    with pytest.raises(RuntimeError, match="no summary"):
        h2load.parse_summary("connect: Connection refused")


@pytest.mark.parametrize(
    ("finished", "succeeded", "data_bytes", "answer_bytes", "unexpected"),
    [
        (20, 20, 900, 45, 0),  # every call answered with one frame of the expected size
        (20, 20, 855, 45, 1),  # one answer missing: that call was refused
        (20, 20, 899, 45, 2),  # 19 whole frames and a stray byte: two calls answered wrongly
        (20, 19, 900, 45, 1),  # h2load saw one call fail
        (20, 20, 0, 0, 0),  # refusals expected, and nothing came back but trailers
        (20, 20, 45, 0, 20),  # refusals expected, yet a message came back: the scenario is wrong
    ],
)
def test_answers_are_judged_by_size(
    finished: int, succeeded: int, data_bytes: int, answer_bytes: int, unexpected: int
) -> None:
    assert h2load.unexpected_answers(finished, succeeded, data_bytes, answer_bytes) == unexpected
