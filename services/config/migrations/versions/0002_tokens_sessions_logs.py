"""client tokens, admin sessions, log batch ids, job leases; token name on error logs; stats indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
At = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("tokens_revision", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("error_logs") as batch:
        batch.add_column(sa.Column("token_name", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_request_logs_token_at", "request_logs", ["token_name", "at"])
    op.create_index("ix_request_logs_key_at", "request_logs", ["key_masked", "at"])
    op.create_table(
        "client_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("hint", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("allowed_models", sa.Text(), nullable=False),
        sa.Column("rpm_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("last_used_at", At, nullable=True),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("expires_at", At, nullable=False, index=True),
    )
    op.create_table(
        "log_batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("at", At, nullable=False, index=True),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", At, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "log_batches", "admin_sessions", "client_tokens"):
        op.drop_table(table)
    op.drop_index("ix_request_logs_key_at", "request_logs")
    op.drop_index("ix_request_logs_token_at", "request_logs")
    with op.batch_alter_table("error_logs") as batch:
        batch.drop_column("token_name")
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("tokens_revision")
