"""client_tokens.key_tag: a team token may be served only by keys carrying a tag

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client_tokens") as table:
        table.add_column(sa.Column("key_tag", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("client_tokens") as table:
        table.drop_column("key_tag")
