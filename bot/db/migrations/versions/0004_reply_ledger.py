"""The reply ledger: who answered, through which channel and page, deadline met, reopenings,
breaches; deadline warnings and their notifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("page_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("category", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("staff_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("met_deadline", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("reopened_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("breached_at", sa.DateTime(), nullable=True))
    # questions opened before this revision take their channel and page from the conversation
    op.execute(
        "UPDATE questions SET channel = (SELECT c.channel FROM conversations c "
        "WHERE c.id = questions.conversation_id), page_id = (SELECT c.page_id FROM "
        "conversations c WHERE c.id = questions.conversation_id)"
    )
    op.create_table(
        "deadline_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_deadline_warnings_question_id_questions"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_deadline_warnings_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_warnings")),
        sa.UniqueConstraint("question_id", "kind", name=op.f("uq_deadline_warnings_question_id")),
    )
    op.create_index(
        "ix_deadline_warnings_created", "deadline_warnings", ["created_at"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["deadline_warnings.id"],
            name=op.f("fk_notifications_warning_id_deadline_warnings"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notifications_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["status", "conversation_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_pending", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_deadline_warnings_created", table_name="deadline_warnings")
    op.drop_table("deadline_warnings")
    with op.batch_alter_table("questions") as batch:
        for column in (
            "breached_at",
            "reopen_count",
            "reopened_at",
            "met_deadline",
            "staff_id",
            "category",
            "page_id",
            "channel",
        ):
            batch.drop_column(column)
