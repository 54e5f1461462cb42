"""A gate's answer is compared with the question's latest answer, not with every earlier
one: the unique (…, digest) constraint goes, an index finds a question's latest answer.

Revision ID: 0010
Revises: 0009
"""

from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

QUESTION = ["tenant_id", "scope", "sha", "environment", "evaluated_at"]
ANSWER = ["tenant_id", "scope", "policy_version", "repository", "sha", "environment", "digest"]


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_constraint("gate_evaluations_answer", "gate_evaluations", schema=schema)
    op.create_index("gate_evaluations_question", "gate_evaluations", QUESTION, schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("gate_evaluations_question", "gate_evaluations", schema=schema)
    op.create_unique_constraint(
        "gate_evaluations_answer", "gate_evaluations", ANSWER, schema=schema
    )
