"""shipments posted to channels (intent before the call), cached carrier lists, ship-by dates

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04 19:00:00

`shipment_post` holds every shipment shopbridge tells a channel about, committed as pending
before the call (one per order and tracking code); `carrier_list` caches a channel's carriers per
origin country; `sales_order.ship_by` is when the channel expects the order to ship.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shopbridge.store.types

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment_post",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("tracking_code", sa.String(length=255), nullable=True),
        sa.Column("tracking_key", sa.String(length=255), nullable=False),
        sa.Column("carrier", sa.String(length=120), nullable=True),
        sa.Column("carrier_sent", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.Column("created_at", shopbridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shopbridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("posted_at", shopbridge.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_shipment_post_order_id_sales_order")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_shipment_post_shop_id_shop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_post")),
        sa.UniqueConstraint(
            "order_id", "tracking_key", name=op.f("uq_shipment_post_order_id_tracking_key")
        ),
    )
    op.create_index(op.f("ix_shipment_post_shop_id"), "shipment_post", ["shop_id"], unique=False)
    op.create_table(
        "carrier_list",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("carriers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("fetched_at", shopbridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "country", name=op.f("pk_carrier_list")),
    )
    # A plain ADD COLUMN (nullable): rebuilding sales_order would drop a table others reference.
    op.add_column(
        "sales_order",
        sa.Column("ship_by", shopbridge.store.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("sales_order", "ship_by")  # SQLite 3.35+ drops a column in place
    op.drop_table("carrier_list")
    op.drop_index(op.f("ix_shipment_post_shop_id"), table_name="shipment_post")
    op.drop_table("shipment_post")
