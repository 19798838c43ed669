"""What a key (or model) does when called: decided by its name or set at run time.

A key named ``<kind>-anything`` behaves as ``kind``; ``/_fake/keys`` overrides that per key.
Kinds: ok, invalid, leaked, suspended[:seconds] (Google's 403 that quotes the whole key, after
that long), quota[:seconds], daily, overload, error500, slow[:seconds] (before the answer),
cut[:events] (a stream's connection breaks after that many events, 2 by default), stall[:seconds]
(a stream goes silent that long after its first event), empty, blocked.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Behaviour:
    kind: str = "ok"
    arg: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Behaviour":
        kind, _, arg = text.partition(":")
        return cls(kind=kind.strip() or "ok", arg=float(arg) if arg else None)


KINDS = {
    "ok",
    "invalid",
    "leaked",
    "suspended",
    "quota",
    "daily",
    "overload",
    "error500",
    "slow",
    "cut",
    "stall",
    "empty",
    "blocked",
}


@dataclass
class Rules:
    """Run-time rules: overrides per key, per model, and a default first-byte delay."""

    keys: dict[str, Behaviour] = field(default_factory=dict)
    models: dict[str, Behaviour] = field(default_factory=dict)
    chunks: int = 3
    chunk_delay: float = 0.0

    def for_call(self, key: str, model: str) -> Behaviour:
        if model in self.models:
            return self.models[model]
        if key in self.keys:
            return self.keys[key]
        prefix = key.split("-", 1)[0]
        return Behaviour(prefix) if prefix in KINDS else Behaviour()
