"""re-exports: message identity across exports, chats per export, assumed time zones

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("assumed_timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("exported_on", sa.String(length=10), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("chat_tag", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("previous_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_items_previous", "items", ["previous_id"], ["id"])
        batch.create_index("ix_item_message", ["message_id"])
    op.create_table(
        "source_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("chat_tag", sa.String(length=32), nullable=True),
        sa.Column("chat_title", sa.LargeBinary(), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.DateTime(), nullable=True),
        sa.Column("last_date", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "chat_id", name="uq_source_chat"),
    )


def downgrade() -> None:
    op.drop_table("source_chats")
    with op.batch_alter_table("items") as batch:
        batch.drop_index("ix_item_message")
        batch.drop_constraint("fk_items_previous", type_="foreignkey")
        batch.drop_column("previous_id")
        batch.drop_column("chat_tag")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("exported_on")
        batch.drop_column("assumed_timezone")
