"""case.toml keys the desk dropped: [client] emails, [package] (output, page_size,
date_order, languages), [redact] patterns, a screenshot's date_order and a document's
highlight, and the time of day of a date set by hand, so an imported case exports and
builds as it came

Revision ID: case_toml_keys
Revises: login_attempts
Create Date: 2026-11-30 05:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'case_toml_keys'
down_revision: Union[str, Sequence[str], None] = 'login_attempts'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CASES = [('client_emails', sa.Text()), ('package_output', sa.String(length=300)),
         ('page_size', sa.String(length=50)), ('date_order', sa.String(length=3)),
         ('languages', sa.Text()), ('redact_patterns', sa.Text())]


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, kind in CASES:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=''))
    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_order', sa.String(length=3), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('manual_time', sa.Time(), nullable=True))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('highlight', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('manual_time', sa.Time(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('manual_time')
        batch_op.drop_column('highlight')
    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.drop_column('manual_time')
        batch_op.drop_column('date_order')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, _ in reversed(CASES):
            batch_op.drop_column(name)
