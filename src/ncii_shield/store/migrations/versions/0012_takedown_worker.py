"""takedown worker: a lease per notice, the send in flight, and each notice's clocks

A worker takes a notice with one UPDATE ... WHERE the lease is free or expired (lease_owner, lease_until),
records the send before talking to SMTP (sending_at, outbox_id: the Message-ID it will carry, kept across
retries so a re-send after a crash is the same message), and keeps the notice's clocks: when the platform's
deadline falls (due_at), when to re-send (resend_at) and recheck (check_at), when a failed send is retried
(next_attempt_at), when to escalate (escalate_at: only where the registry names a regulator)
and when it was. All set from the database's clock, never a worker's.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 05:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TIMES = (
    "lease_until",
    "sending_at",
    "next_attempt_at",
    "due_at",
    "resend_at",
    "check_at",
    "escalate_at",
    "escalated_at",
)


def upgrade() -> None:
    op.add_column("notices", sa.Column("lease_owner", sa.String(length=100), nullable=True))
    for name in _TIMES:
        op.add_column("notices", sa.Column(name, sa.DateTime(), nullable=True))
    op.add_column("notices", sa.Column("outbox_id", sa.String(length=300), nullable=True))
    op.add_column("notices", sa.Column("send_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("notices", sa.Column("resends", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_notice_status", "notices", ["status"])


def downgrade() -> None:
    op.drop_index("ix_notice_status", table_name="notices")
    with op.batch_alter_table("notices") as batch:
        for name in ("resends", "send_attempts", "outbox_id", *reversed(_TIMES), "lease_owner"):
            batch.drop_column(name)
