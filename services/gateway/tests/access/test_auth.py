"""Which token a client sent, and whether it is ours."""

from starlette.requests import Request

from gempool.gateway.access.auth import TokenSet, presented_token
from gempool.gateway.pipeline.upstream import api_root


def request(headers: dict[str, str], query: str = "") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": query.encode()}
    )


def test_token_sources_in_order() -> None:
    assert presented_token(request({"x-goog-api-key": "g"}, "key=q")) == ("g", "gemini")
    assert presented_token(request({"Authorization": "Bearer b"})) == ("b", "bearer")
    assert presented_token(request({"Authorization": "bearer  b2 "})) == ("b2", "bearer")
    assert presented_token(request({}, "key=q")) == ("q", "gemini")
    assert presented_token(request({"Authorization": "Basic xyz"})) == ("", "")


def test_token_set() -> None:
    tokens = TokenSet(["alpha", "", "beta"])
    assert len(tokens) == 2
    assert tokens.check("alpha") and tokens.check("beta")
    assert not tokens.check("alph") and not tokens.check("") and not tokens.check("alpha ")


def test_api_root_strips_the_version() -> None:
    assert (
        api_root("https://generativelanguage.googleapis.com/v1beta")
        == "https://generativelanguage.googleapis.com"
    )
    assert api_root("https://proxy.example/gemini/v1beta/") == "https://proxy.example/gemini"
    assert api_root("https://proxy.example/gemini/v1") == "https://proxy.example/gemini"
    assert api_root("https://proxy.example") == "https://proxy.example"
