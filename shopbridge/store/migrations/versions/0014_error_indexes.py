"""indexes of the error queue: open errors per shop (the overview), and its keyset pages

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 20:05:00

With 100,000 queued errors on SQLite the overview's per-shop count took 29 ms and an errors page
11-15 ms without them, 6 ms and 1 ms with them (bench/WEB-RESULTS.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_error", schema=None) as batch_op:
        batch_op.create_index("ix_sync_error_status_shop", ["status", "shop_id"], unique=False)
        batch_op.create_index(
            "ix_sync_error_status_seen", ["status", "first_seen", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_error", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_error_status_seen")
        batch_op.drop_index("ix_sync_error_status_shop")
