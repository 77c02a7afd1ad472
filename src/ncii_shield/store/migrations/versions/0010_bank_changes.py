"""bank change counter: what tells a persisted bank index whether the banks changed since it was saved

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO bank_counter (id, value) VALUES (1, 0)")
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("removed_at", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("version")
    op.drop_table("bank_counter")
