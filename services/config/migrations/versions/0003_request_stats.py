"""hourly request statistics (request_stats), filled from the request logs already stored

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

At = sa.DateTime(timezone=True)

BACKFILL = """
INSERT INTO request_stats (hour, model, key_masked, token_name, calls, success, tokens_in, tokens_out,
                           latency_seconds)
SELECT {hour} AS h, model, key_masked, token_name, count(*), sum(CASE WHEN status = 200 THEN 1 ELSE 0 END),
       sum(tokens_in), sum(tokens_out), sum(latency_seconds)
FROM request_logs GROUP BY h, model, key_masked, token_name
"""
HOUR = {
    "postgresql": "date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', at)",
}


def upgrade() -> None:
    op.create_table(
        "request_stats",
        sa.Column("hour", At, primary_key=True),
        sa.Column("model", sa.String(128), primary_key=True),
        sa.Column("key_masked", sa.String(64), primary_key=True),
        sa.Column("token_name", sa.String(128), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("success", sa.BigInteger(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
    )
    op.execute(BACKFILL.format(hour=HOUR[op.get_bind().dialect.name]))


def downgrade() -> None:
    op.drop_table("request_stats")
