"""Members' feedback on bot answers, per FAQ entry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("faq_slug", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("answer_message_id", sa.Integer(), nullable=False),
        sa.Column("member_message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_faq_feedback_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["answer_message_id"],
            ["messages.id"],
            name=op.f("fk_faq_feedback_answer_message_id_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["member_message_id"],
            ["messages.id"],
            name=op.f("fk_faq_feedback_member_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_feedback")),
        sa.UniqueConstraint("member_message_id", name=op.f("uq_faq_feedback_member_message_id")),
    )
    op.create_index("ix_faq_feedback_slug", "faq_feedback", ["faq_slug", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_faq_feedback_slug", table_name="faq_feedback")
    op.drop_table("faq_feedback")
