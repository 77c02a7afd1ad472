"""room graph and incremental progress

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 04:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "progress",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("upto_item_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "room_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("target", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "target_key", name="uq_room_link"),
    )
    op.create_index("ix_room_link_target", "room_links", ["target_key"])
    op.create_table(
        "room_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("target", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "target_key", name="uq_room_alias"),
    )


def downgrade() -> None:
    op.drop_table("room_aliases")
    op.drop_index("ix_room_link_target", table_name="room_links")
    op.drop_table("room_links")
    op.drop_table("progress")
