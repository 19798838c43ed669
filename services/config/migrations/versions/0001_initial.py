"""settings, history, revisions, api keys, request and error logs

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
At = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("updated_at", At, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "settings_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", At, nullable=False, index=True),
    )
    revisions = op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("settings_revision", sa.BigInteger(), nullable=False),
        sa.Column("keys_revision", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(revisions, [{"id": 1, "settings_revision": 0, "keys_revision": 0}])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("api_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("changed_at", At, nullable=False),
    )
    _create_log_tables()


def _create_log_tables() -> None:
    op.create_table(
        "request_logs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", At, nullable=False, index=True),
        sa.Column("token_name", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("dialect", sa.String(32), nullable=False),
        sa.Column("key_masked", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        sa.Column("first_byte_seconds", sa.Float(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
    )
    op.create_index("ix_request_logs_model_at", "request_logs", ["model", "at"])
    op.create_table(
        "error_logs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", At, nullable=False, index=True),
        sa.Column("key_masked", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    for table in ("error_logs", "request_logs", "api_keys", "revisions", "settings_history", "settings"):
        op.drop_table(table)
