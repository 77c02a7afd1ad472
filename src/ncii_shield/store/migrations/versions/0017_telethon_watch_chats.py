"""telethon: the Telegram chats a monitor account watches, and its sealed StringSession

Revision ID: 0017_telethon
Revises: 0016_hma
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_telethon"
down_revision = "0016_hma"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_kind", sa.String(length=10), nullable=False),
        sa.Column("telegram_id", sa.LargeBinary(), nullable=False),
        sa.Column("access_hash", sa.LargeBinary(), nullable=True),
        sa.Column("title", sa.LargeBinary(), nullable=True),
        sa.Column("chat_type", sa.String(length=40), nullable=True),
        sa.Column("added_how", sa.String(length=20), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("target", sa.LargeBinary(), nullable=False),
        sa.Column("cases", sa.JSON(), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("messages_seen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "telegram_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("session", sa.LargeBinary(), nullable=False),
        sa.Column("account", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("telegram_sessions")
    op.drop_table("watched_chats")
