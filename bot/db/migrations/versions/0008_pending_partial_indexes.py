"""The pending-work indexes hold the pending rows only: (conversation_id, id) where pending.

The claim (``bot.ops.sql.claim_head_of_line``) reads each conversation's first pending item
from them; they no longer grow with every job and reply ever handled.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("dispatch_jobs", "outbox")


def upgrade() -> None:
    pending = sa.text("status = 'pending'")
    for table in TABLES:
        op.drop_index(f"ix_{table}_pending", table_name=table)
        op.create_index(
            f"ix_{table}_pending",
            table,
            ["conversation_id", "id"],
            postgresql_where=pending,
            sqlite_where=pending,
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_pending", table_name=table)
        op.create_index(f"ix_{table}_pending", table, ["status", "conversation_id", "id"])
