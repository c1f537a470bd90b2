"""webhooks: signing secrets, deliveries (dedupe and work queue), counters

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-04 19:15:00

`webhook_secret` holds each shop's signing secrets (encrypted; a rotated one until its grace
ends); `webhook_delivery` is one row per accepted delivery, UNIQUE per (shop, webhook-id), and the
queue the webhook job works from; `webhook_stat` counts deliveries per shop and outcome.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shopbridge.store.types

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = shopbridge.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_secret",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("retire_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_webhook_secret_shop_id_shop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secret")),
    )
    op.create_index(op.f("ix_webhook_secret_shop_id"), "webhook_secret", ["shop_id"], unique=False)
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("receipt_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_webhook_delivery_shop_id_shop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("shop_id", "webhook_id", name=op.f("uq_webhook_delivery_shop_id_webhook_id")),
    )
    op.create_index("ix_webhook_delivery_status_shop", "webhook_delivery", ["status", "shop_id"], unique=False)
    op.create_index(op.f("ix_webhook_delivery_received_at"), "webhook_delivery", ["received_at"], unique=False)
    op.create_table(
        "webhook_stat",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "reason", name=op.f("pk_webhook_stat")),
    )


def downgrade() -> None:
    op.drop_table("webhook_stat")
    op.drop_index(op.f("ix_webhook_delivery_received_at"), table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_status_shop", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_webhook_secret_shop_id"), table_name="webhook_secret")
    op.drop_table("webhook_secret")
