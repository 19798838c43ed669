"""Upstream health: failures that are the route's, never a key's, counted per route."""

import pytest

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.keypool.classify import Outcome
from gempool.keypool.upstream import Change, UpstreamHealth, route_fault, route_name

GOOGLE_500 = b'{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}'


@pytest.mark.parametrize(
    ("outcome", "fault"),
    [
        (Outcome(0, transport=pb.TRANSPORT_CONNECT_ERROR), True),
        (Outcome(0, transport=pb.TRANSPORT_TIMEOUT), True),
        (Outcome(502, b"<html><title>502 Bad Gateway</title></html>"), True),  # a proxy's
        (Outcome(504, b""), True),
        (Outcome(500, GOOGLE_500), False),  # Google answered: the route works
        (Outcome(429, b"{}"), False),
        (Outcome(400, b"{}"), False),
        (Outcome(0, transport=pb.TRANSPORT_CLIENT_GONE), None),
    ],
)
def test_what_is_the_routes_fault(outcome: Outcome, fault: bool | None) -> None:
    assert route_fault(outcome) is fault


def test_a_route_goes_down_after_threshold_failures_in_a_row_and_up_at_one_answer() -> None:
    health = UpstreamHealth()
    assert [health.failed("direct", 10.0, 3) for _ in range(3)] == [None, None, Change.DOWN]
    assert health.is_down("direct") and health.failed("direct", 11.0, 3) is None  # one DOWN per outage
    assert not health.is_down("http://p1:3128")
    assert health.answered("direct", 10.5) is None, "a late report of an attempt begun before"
    assert health.answered("direct", 11.0) == (Change.UP, 10.0)
    assert not health.is_down("direct") and health.routes == {}
    assert health.answered("direct", 12.0) is None


def test_an_answer_in_between_resets_the_count() -> None:
    health = UpstreamHealth()
    health.failed("direct", 1.0, 3)
    health.failed("direct", 1.0, 3)
    assert health.answered("direct", 1.0) is None
    assert health.failed("direct", 2.0, 3) is None and not health.is_down("direct")


def test_route_names_are_bounded_and_carry_no_secret() -> None:
    assert route_name("") == "direct"
    assert route_name("http://user:s3cret@proxy.example:3128") == "http://proxy.example:3128"
    assert route_name("socks5://p2") == "socks5://p2"
