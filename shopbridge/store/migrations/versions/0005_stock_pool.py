"""the stock pool: warehouse default, keyed stock moves, per-shop offers, outbox listing

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-03 13:47:02

Stock moves gain a kind (initial, opening, reserve, release, sale, adjust), the order line and
shop that made them, and who made them; a move driven by an order line is unique per (line,
kind) and a variant has at most one initial move. Moves written before this revision were the
catalog's first stock ("initial import": kind initial, its shop found through the listing
binding) or manual (kind adjust).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shopbridge.store.types

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INITIAL = sa.text("kind = 'initial'")


def upgrade() -> None:
    op.create_table(
        "stock_offer",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("buffer", sa.Integer(), nullable=False),
        sa.Column("offer_percent", sa.Integer(), nullable=False),
        sa.Column("max_offer", sa.Integer(), nullable=True),
        sa.Column("push_stock", sa.Boolean(), nullable=False),
        sa.Column("updated_at", shopbridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_stock_offer_shop_id_shop")),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_stock_offer")),
    )
    op.create_table(
        "stock_offer_source",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shop.id"], name=op.f("fk_stock_offer_source_shop_id_shop")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
            name=op.f("fk_stock_offer_source_warehouse_id_warehouse"),
        ),
        sa.PrimaryKeyConstraint("shop_id", "warehouse_id", name=op.f("pk_stock_offer_source")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("binding_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_binding_id_binding"), "binding", ["binding_id"], ["id"]
        )
    # A plain ADD COLUMN: rebuilding warehouse (batch mode) would drop a table that shop and
    # stock rows reference, which SQLite refuses with foreign keys on.
    op.add_column(
        "warehouse",
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    with op.batch_alter_table("stock_move", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="adjust", nullable=False)
        )
        batch_op.add_column(sa.Column("order_line_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shop_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_stock_move_order_line_id_kind"), ["order_line_id", "kind"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_stock_move_order_line_id_order_line"),
            "order_line",
            ["order_line_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_stock_move_shop_id_shop"), "shop", ["shop_id"], ["id"]
        )
    # The catalog's first stock: the earliest "initial import" move of each variant.
    op.execute(
        "UPDATE stock_move SET kind = 'initial' WHERE reason = 'initial import' AND id IN "
        "(SELECT MIN(id) FROM stock_move WHERE reason = 'initial import' GROUP BY variant_id)"
    )
    op.execute(
        "UPDATE stock_move SET shop_id = (SELECT MIN(b.shop_id) FROM binding b "
        "WHERE b.entity = 'listing' AND 'listing ' || b.external_id = stock_move.reference) "
        "WHERE kind = 'initial'"
    )
    with op.batch_alter_table("stock_move", schema=None) as batch_op:
        batch_op.create_index(
            "uq_stock_move_initial",
            ["variant_id"],
            unique=True,
            sqlite_where=INITIAL,
            postgresql_where=INITIAL,
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_move", schema=None) as batch_op:
        batch_op.drop_index("uq_stock_move_initial", sqlite_where=INITIAL, postgresql_where=INITIAL)
        batch_op.drop_constraint(batch_op.f("fk_stock_move_shop_id_shop"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_stock_move_order_line_id_order_line"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_stock_move_order_line_id_kind"), type_="unique")
        batch_op.drop_column("actor")
        batch_op.drop_column("shop_id")
        batch_op.drop_column("order_line_id")
        batch_op.drop_column("kind")
    with op.batch_alter_table("warehouse", schema=None) as batch_op:
        batch_op.drop_column("is_default")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_binding_id_binding"), type_="foreignkey")
        batch_op.drop_column("binding_id")
    op.drop_table("stock_offer_source")
    op.drop_table("stock_offer")
