"""The shop's payment account ledger (getShopPaymentAccountLedgerEntries), built from receipts.

Like Etsy's, it is append-only and dated: a paid receipt adds a payment entry and its processing
fee, every refund adds a refund entry (whether or not the receipt's update time moved, so this is
where refunds on shipped orders show). Entries are rebuilt only when the shop's money changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import percent_of
from .records import Receipt, Shop

PAYMENT_ID_OFFSET = 4_000_000_000  # a receipt's Etsy Payments id, as getShopPaymentByReceiptId


def payment_id_of(receipt_id: int) -> int:
    return receipt_id + PAYMENT_ID_OFFSET


def receipt_id_of_payment(payment: int) -> int:
    return payment - PAYMENT_ID_OFFSET


def fees(r: Receipt, currency: str) -> int:
    return percent_of(r.grandtotal(), Decimal("0.065")) + (25 if currency != "JPY" else 40)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    entry_id: int
    created: int
    amount: int  # minor units, + credits the shop
    ledger_type: str
    description: str
    receipt_id: int
    parent_entry_id: int | None = None
    refund_index: int | None = None  # which of the receipt's refunds


@dataclass(frozen=True, slots=True)
class Ledger:
    entries: list[LedgerEntry]  # by (created, entry_id)
    balances: list[int]  # the balance after each entry


def build(shop: Shop, receipts: list[Receipt]) -> Ledger:
    entries: list[LedgerEntry] = []
    for r in receipts:
        if not r.is_paid:
            continue
        paid = r.paid_at or r.created
        base = r.receipt_id * 100
        entries.append(
            LedgerEntry(base + 1, paid, r.grandtotal(), "PAYMENT", "Payment", r.receipt_id)
        )
        entries.append(
            LedgerEntry(
                base + 2,
                paid,
                -fees(r, shop.currency),
                "PROCESSING_FEE",
                "Processing fee",
                r.receipt_id,
                parent_entry_id=base + 1,
            )
        )
        for k, refund in enumerate(r.refunds[:97]):
            entries.append(
                LedgerEntry(
                    base + 3 + k,
                    refund.created,
                    -refund.amount,
                    "REFUND",
                    "Refund",
                    r.receipt_id,
                    refund_index=k,
                )
            )
    entries.sort(key=lambda e: (e.created, e.entry_id))
    balances, balance = [], 0
    for entry in entries:
        balance += entry.amount
        balances.append(balance)
    return Ledger(entries, balances)
