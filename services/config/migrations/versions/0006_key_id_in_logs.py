"""key_id in request_logs, error_logs and request_stats: statistics group by key, not by its mask

Two keys that look alike masked (AIza...x9Qk) were counted as one. Rows from before keep key_id "".
request_stats also counts 429 answers and retried calls (for the overview); old hours count 0.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

At = sa.DateTime(timezone=True)
SUMS = "calls, success, tokens_in, tokens_out, latency_seconds"


def stats_table(name: str, with_key_id: bool) -> None:
    key_id = [sa.Column("key_id", sa.String(64), primary_key=True, server_default="")] if with_key_id else []
    counts = (
        [
            sa.Column("rate_limited", sa.BigInteger(), nullable=False, server_default="0"),
            sa.Column("retried", sa.BigInteger(), nullable=False, server_default="0"),
        ]
        if with_key_id
        else []
    )
    op.create_table(
        name,
        sa.Column("hour", At, primary_key=True),
        sa.Column("model", sa.String(128), primary_key=True),
        sa.Column("key_masked", sa.String(64), primary_key=True),
        sa.Column("token_name", sa.String(128), primary_key=True),
        *key_id,
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("success", sa.BigInteger(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        *counts,
    )


def upgrade() -> None:
    for table in ("request_logs", "error_logs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("key_id", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_request_logs_key_id_at", "request_logs", ["key_id", "at"])
    # The primary key gains key_id: a new table, filled from the old one.
    stats_table("request_stats_0006", with_key_id=True)
    columns = f"hour, model, key_masked, token_name, {SUMS}"
    op.execute(f"INSERT INTO request_stats_0006 ({columns}) SELECT {columns} FROM request_stats")
    op.drop_table("request_stats")
    op.rename_table("request_stats_0006", "request_stats")


def downgrade() -> None:
    stats_table("request_stats_0005", with_key_id=False)
    sums = ", ".join(f"sum({c})" for c in SUMS.split(", "))
    op.execute(
        f"INSERT INTO request_stats_0005 (hour, model, key_masked, token_name, {SUMS}) "
        f"SELECT hour, model, key_masked, token_name, {sums} FROM request_stats "
        "GROUP BY hour, model, key_masked, token_name"
    )
    op.drop_table("request_stats")
    op.rename_table("request_stats_0005", "request_stats")
    op.drop_index("ix_request_logs_key_id_at", "request_logs")
    for table in ("request_logs", "error_logs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("key_id")
