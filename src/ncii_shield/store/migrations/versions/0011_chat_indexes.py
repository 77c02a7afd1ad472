"""chat indexes: a re-export's messages and an export's chats are looked up by chat, not by scanning

Without them, finding a message's earlier version read every stored message with the same message id (every
chat numbers its messages from 1), and summarising an export's chats read all its messages once per chat:
both grew with the number of chats times the number of messages (bench/scan_scale.py --messages).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:10:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_chat_message", "items", ["chat_id", "message_id"])
    op.create_index("ix_item_tag_message", "items", ["chat_tag", "message_id"])
    op.create_index("ix_source_chat_chat", "source_chats", ["chat_id"])
    op.create_index("ix_source_chat_tag", "source_chats", ["chat_tag"])


def downgrade() -> None:
    op.drop_index("ix_source_chat_tag", table_name="source_chats")
    op.drop_index("ix_source_chat_chat", table_name="source_chats")
    op.drop_index("ix_item_tag_message", table_name="items")
    op.drop_index("ix_item_chat_message", table_name="items")
