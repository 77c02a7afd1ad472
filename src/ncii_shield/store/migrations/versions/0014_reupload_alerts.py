"""re-upload alerts a case worker acts on: the re-notice drafted for one, and how it was settled

An alert (a removed image seen again) now carries the notice drafted for the new location (notice_id), where
it stands (status: new, drafted, manual when it could not be drafted automatically, queued once a case
worker approved the draft, dismissed), why (reason: the dismissal's reason or what stopped the draft,
sealed like every free text), and who settled it when (resolved_by, resolved_at). Alerts from before are
left to the case worker (manual), not drafted all at once.

Revision ID: 0014_reupload
Revises: 0013_pinotice
Create Date: 2026-12-05 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_reupload"
down_revision = "0013_pinotice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="new"))
        batch.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key("fk_alerts_notice_id", "notices", ["notice_id"], ["id"], ondelete="SET NULL")
    # Alerts raised before this revision were seen (or not) by people already: they are left to them
    # ("manual", dismissable on the board), never drafted all at once by the first worker pass.
    op.execute("UPDATE alerts SET status = 'manual'")


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("fk_alerts_notice_id", type_="foreignkey")
        for name in ("resolved_at", "resolved_by", "reason", "notice_id", "status"):
            batch.drop_column(name)
