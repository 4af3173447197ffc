"""FAQ edit history, draft entries made from staff answers, the bot's topic guess on handoff.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("topic_guess", sa.String(length=64), nullable=True))
    op.create_table(
        "faq_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slug"], ["faq_entries.slug"], name=op.f("fk_faq_revisions_slug_faq_entries")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_faq_revisions_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_revisions")),
    )
    op.create_index("ix_faq_revisions_slug", "faq_revisions", ["slug", "id"], unique=False)
    op.create_table(
        "faq_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_faq_drafts_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_faq_drafts_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_faq_drafts_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_drafts")),
        sa.UniqueConstraint("message_id", name=op.f("uq_faq_drafts_message_id")),
    )


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("topic_guess")
    op.drop_table("faq_drafts")
    op.drop_index("ix_faq_revisions_slug", table_name="faq_revisions")
    op.drop_table("faq_revisions")
