"""Alembic environment: the caller passes an open connection (see ``gempool.config.db.migrate``)."""

from alembic import context
from sqlalchemy import Connection, create_engine

from gempool.config.models import Base

config = context.config


def run_online(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_online(connection)
        return
    # `alembic -c services/config/alembic.ini -x url=... upgrade head` by hand.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with -x url=...")
    engine = create_engine(url)
    with engine.connect() as conn:
        run_online(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
main()
