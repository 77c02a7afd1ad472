"""hma content: a note, the platform's metadata (both sealed) and disable_until_ts per banked signal;
a bank's partial matching ratio

HMA keeps these per banked content; the HMA-compatible API (web/hma_content.py) reads and writes them.
The note and the metadata can name or point at a person (a moderator's words, the platform's content id
and URI), so they are sealed like every other such column. disable_until_ts is HMA's: 1 enabled, 0
disabled, any other value a unix time until which /m/lookup skips the content. banks.matching_ratio is
HMA's matching_enabled_ratio when it is neither 1 nor 0 (accepted only with NCII_HMA_EXACT).

Revision ID: 0016_hma
Revises: 0015_inbox
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_hma"
down_revision = "0015_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_signals") as batch:
        batch.add_column(sa.Column("note", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("hma_metadata", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("disable_until_ts", sa.BigInteger(), nullable=False, server_default="1"))
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("matching_ratio", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("matching_ratio")
    with op.batch_alter_table("bank_signals") as batch:
        batch.drop_column("disable_until_ts")
        batch.drop_column("hma_metadata")
        batch.drop_column("note")
