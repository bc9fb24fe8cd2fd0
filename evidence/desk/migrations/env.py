"""Alembic environment: run by db.migrate() with an open connection (no alembic.ini)."""
from alembic import context
from sqlalchemy import create_engine

from evidence.desk.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic -x url=… revision --autogenerate` while developing
    with create_engine(context.get_x_argument(as_dictionary=True)["url"]).connect() as conn:
        _run(conn)
