"""inbox: inbound replies to takedown notices, each remembered once

`takedown inbox` (takedown/inbox.py) reads replies from a Maildir or an IMAP folder. Each message is kept
here under its source key (IMAP host/user/folder/UIDVALIDITY/UID, or the Maildir file's unique name) so it
is processed once, with the notice it was matched to (or none: unmatched, for a human), what it was taken
to say, and its sender, subject and the start of its text sealed with the data key.

Revision ID: 0015_inbox
Revises: 0014_reupload
Create Date: 2026-12-05 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_inbox"
down_revision = "0014_reupload"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=400), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("sent_date", sa.DateTime(), nullable=True),
        sa.Column("from_addr", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.LargeBinary(), nullable=False),
        sa.Column("snippet", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("matched_by", sa.String(length=20), nullable=True),
        sa.Column("ticket", sa.String(length=100), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("suggested_notice_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["suggested_notice_id"], ["notices.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key"),
    )
    op.create_index("ix_inbox_message_id", "inbox_messages", ["message_id"])
    op.create_index("ix_inbox_status", "inbox_messages", ["status"])


def downgrade() -> None:
    op.drop_index("ix_inbox_status", table_name="inbox_messages")
    op.drop_index("ix_inbox_message_id", table_name="inbox_messages")
    op.drop_table("inbox_messages")
