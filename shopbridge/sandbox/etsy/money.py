"""Money as Etsy renders it: integer minor units with a per-currency divisor."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Minor units per major unit; JPY has no minor unit.
DIVISORS: dict[str, int] = {"USD": 100, "EUR": 100, "GBP": 100, "CAD": 100, "AUD": 100, "JPY": 1}


def divisor(currency: str) -> int:
    return DIVISORS[currency]


def money(amount: int, currency: str) -> dict[str, object]:
    """Etsy's Money object for `amount` minor units."""
    return {"amount": amount, "divisor": DIVISORS[currency], "currency_code": currency}


def to_minor(major: float | str | Decimal, currency: str) -> int:
    """Convert a major-unit price (Etsy's float inventory prices) to minor units, half up."""
    value = Decimal(str(major)) * DIVISORS[currency]
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount) / DIVISORS[currency]


def percent_of(amount: int, rate: Decimal) -> int:
    """`rate` (e.g. Decimal("0.08")) of `amount` minor units, rounded half up."""
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
