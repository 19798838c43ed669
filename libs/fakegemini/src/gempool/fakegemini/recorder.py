"""Every request the fake received, as it arrived: method, path, query string and every header.

``FakeGemini.calls`` keeps what a route understood (the key it used, the model); this keeps what
crossed the wire, so a test can assert that something (a client's own token) never reached Google.
"""

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    raw: str = ""  # the path as it crossed the wire, undecoded, with its query

    @property
    def control(self) -> bool:
        """A test's own call to the fake's /_fake/ controls, not one from the gateway."""
        return self.path.startswith("/_fake/")

    def wire(self) -> str:
        """Everything recorded, as one text to search."""
        lines = [f"{self.method} {self.path}?{self.query}", *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join(lines)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name), "")


class Recorder:
    """ASGI middleware appending a ``Seen`` for each HTTP request to ``seen``."""

    def __init__(self, app: ASGIApp, seen: list[Seen]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
            query = scope["query_string"].decode("latin-1")
            raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            raw += f"?{query}" if query else ""
            self.seen.append(Seen(scope["method"], scope["path"], query, headers, raw))
        await self.app(scope, receive, send)
