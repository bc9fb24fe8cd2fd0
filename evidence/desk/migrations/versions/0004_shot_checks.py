"""shot_checks: each screenshot's check, written as soon as its OCR is done

Revision ID: shot_checks
Revises: edit_documents
Create Date: 2026-11-30 02:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'shot_checks'
down_revision: Union[str, Sequence[str], None] = 'edit_documents'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('shot_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('file', sa.String(length=300), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'file'),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_shot_checks_job_id'), 'shot_checks', ['job_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_shot_checks_job_id'), table_name='shot_checks')
    op.drop_table('shot_checks')
