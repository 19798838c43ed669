"""Every Redis key name the keypool uses, built in one place under REDIS_PREFIX."""


class Names:
    def __init__(self, prefix: str) -> None:
        self.root = f"{prefix}keypool:"

    def ring(self, ring: str) -> str:
        """List of key_ids a lease rotates over."""
        return f"{self.root}ring:{ring}"

    def rings(self) -> str:
        """Set of the ring list names currently written."""
        return f"{self.root}rings"

    def rings_revision(self) -> str:
        return f"{self.root}rings:rev"

    def rotation(self, ring: str, model: str) -> str:
        """Next position of the round robin of ``ring`` for ``model``."""
        return f"{self.root}rr:{ring}:{model}"

    def retry_rotation(self, ring: str, model: str) -> str:
        """Next position of the retries' rotation (first attempts keep their own)."""
        return f"{self.root}rr-retry:{ring}:{model}"

    def outcomes(self, key_id: str = "") -> str:
        """Hash model -> the key's last outcome for it: "s|at_ms" (a success) or
        "c|length_ms|until_ms" (a cooldown; length 0 when it does not back off).

        Without a key_id: the prefix a Lua script appends key_ids to.
        """
        return f"{self.root}last:{key_id}"

    def cooldown(self, model: str, key_id: str) -> str:
        """Exists (with a TTL) while ``key_id`` cools for ``model``; its value is the reason."""
        return f"{self.root}cd:{model}:{key_id}"

    def cooldowns(self, key_id: str) -> str:
        """Hash model -> "until_ms|reason" of a key's cooldowns, for listing and clearing."""
        return f"{self.root}cds:{key_id}"

    def retired(self) -> str:
        """Hash key_id -> "at_ms|reason"."""
        return f"{self.root}retired"

    def failures(self) -> str:
        """Hash key_id -> consecutive failures."""
        return f"{self.root}failures"

    def last_error(self) -> str:
        return f"{self.root}lasterror"

    def exhausted(self) -> str:
        """Hash "ring|model" -> ms until which every key of the ring cools for the model."""
        return f"{self.root}exhausted"

    def uses(self, width: int, bucket: int) -> str:
        """Hash key_id -> uses within one ``width``-second bucket."""
        return f"{self.root}uses:{width}:{bucket}"

    def outbox(self) -> str:
        """Hash key_id -> "seq|status|reason": status changes the config service has not recorded yet."""
        return f"{self.root}outbox"

    def outbox_seq(self) -> str:
        """Counter ordering the outbox's changes."""
        return f"{self.root}outbox:seq"

    def lock(self, name: str) -> str:
        """Holds the time of the last claim of ``name`` (e.g. the prober's sweep)."""
        return f"{self.root}lock:{name}"
