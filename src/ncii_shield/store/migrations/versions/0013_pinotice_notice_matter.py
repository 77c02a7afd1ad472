"""notices: what a notice is about (intimate_image | personal_information)

A case's confirmed hits are split into a notice about intimate images and a notice about messages exposing
the person's personal details (takedown/drafting.py). The two rest on different laws and so run on different
clocks: the TAKE IT DOWN Act's 48 hours cover intimate depictions only. The clock is worked out from the
notice's matter (takedown/clocks.py); existing notices were all drafted as one kind and keep the default.

Revision ID: 0013_pinotice
Revises: 0012
Create Date: 2026-12-05 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_pinotice"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notices",
        sa.Column("matter", sa.String(length=30), nullable=False, server_default="intimate_image"),
    )


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("matter")
