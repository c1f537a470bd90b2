"""Exact money: Decimal amounts carried at their currency's ISO 4217 exponent.

Money is never built through float: Etsy sends `{amount, divisor, currency_code}` integers and
WooCommerce sends decimal strings; both become a Decimal quantized to the currency's exponent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

# ISO 4217 active codes whose minor unit is not 2.
_EXPONENT_0 = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
_EXPONENT_3 = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_EXPONENT_4 = frozenset("CLF UYW".split())
# ISO 4217 active codes with a minor unit of 2.
_EXPONENT_2 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK
    LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
    NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER
    ZAR ZMW ZWG""".split()
)


class MoneyError(ValueError):
    """A money value that cannot be represented exactly, or an unknown currency."""


class CurrencyMismatchError(MoneyError):
    """Arithmetic between two different currencies."""


_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2, 2),
    **dict.fromkeys(_EXPONENT_0, 0),
    **dict.fromkeys(_EXPONENT_3, 3),
    **dict.fromkeys(_EXPONENT_4, 4),
}
# One Decimal per currency: quantizing is on the path of every amount of every order.
_QUANTA: dict[str, Decimal] = {code: Decimal(1).scaleb(-e) for code, e in _EXPONENTS.items()}


def currency_exponent(currency: str) -> int:
    """The number of decimal places of `currency` (ISO 4217); unknown codes are refused."""
    try:
        return _EXPONENTS[currency]
    except (KeyError, TypeError):
        raise MoneyError(f"unknown currency code {str(currency)[:12]!r}") from None


def _quantum(currency: str) -> Decimal:
    try:
        return _QUANTA[currency]
    except (KeyError, TypeError):
        raise MoneyError(f"unknown currency code {str(currency)[:12]!r}") from None


# Decimal arithmetic rounds silently past 28 digits; bounding amounts to 18 integer digits keeps
# every sum of a few amounts exact, and a sum that overflows the bound fails loudly instead.
_LIMIT = Decimal(10) ** 18
# Etsy's divisors are powers of ten: shifting the point is exact and cheaper than dividing.
_POWERS_OF_TEN = {10**k: k for k in range(7)}


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency, always at the currency's exponent."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        amount = self.amount
        if not isinstance(amount, Decimal):
            raise MoneyError(f"money amount must be a Decimal, not {type(amount).__name__}")
        if not amount.is_finite():
            raise MoneyError(f"money amount must be finite, got {amount}")
        if abs(amount) >= _LIMIT:
            raise MoneyError(f"money amount out of range: {amount:.6E}")
        exact = amount.quantize(_quantum(self.currency))
        if exact != amount:
            raise MoneyError(
                f"{amount} has more decimals than {self.currency} allows "
                f"({currency_exponent(self.currency)})"
            )
        # -0.00 and 0.00 are the same amount; keep one spelling of it.
        object.__setattr__(self, "amount", exact if exact else abs(exact))

    @classmethod
    def _exact(cls, amount: Decimal, currency: str) -> Money:
        """Money from an amount already at the currency's exponent (a sum, a difference or a
        negation of two checked amounts): only the bound and the zero spelling are checked."""
        if abs(amount) >= _LIMIT:
            raise MoneyError(f"money amount out of range: {amount:.6E}")
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount if amount else abs(amount))
        object.__setattr__(money, "currency", currency)
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def of(cls, value: str | int | Decimal, currency: str) -> Money:
        """From a decimal string (WooCommerce's "12.50"), an int or a Decimal; never a float."""
        if isinstance(value, float):
            raise MoneyError("money is never built from a float")
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, ValueError) as exc:
            raise MoneyError(f"not a decimal amount: {str(value)[:40]!r}") from exc
        return cls(amount, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """From an integer count of the currency's minor unit (cents for USD, yen for JPY)."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise MoneyError(f"minor units must be an integer, got {minor!r}")
        return cls(Decimal(minor).scaleb(-currency_exponent(currency)), currency)

    @classmethod
    def from_etsy(cls, obj: Mapping[str, Any]) -> Money:
        """From Etsy's `{"amount": 2750, "divisor": 100, "currency_code": "USD"}`."""
        try:
            amount, divisor, currency = obj["amount"], obj["divisor"], obj["currency_code"]
        except (KeyError, TypeError) as exc:
            raise MoneyError(f"malformed Etsy money object: {str(obj)[:80]}") from exc
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise MoneyError(f"Etsy money amount must be an integer, got {amount!r}")
        if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor <= 0:
            raise MoneyError(f"Etsy money divisor must be a positive integer, got {divisor!r}")
        if not isinstance(currency, str):
            raise MoneyError(f"Etsy currency code must be a string, got {currency!r}")
        return cls.from_ratio(amount, divisor, currency)

    @classmethod
    def from_ratio(cls, amount: int, divisor: int, currency: str) -> Money:
        """amount / divisor, from checked integers (a positive divisor); exact or refused.

        Money is immutable and a shop's amounts repeat (prices, shipping, zero): each
        (amount, divisor, currency) is built once and then shared (a bounded cache)."""
        key = (amount, divisor, currency)
        money = _RATIOS.get(key)
        if money is not None:
            return money
        code = currency.upper()
        digits = _POWERS_OF_TEN.get(divisor)
        if digits is not None and digits == _EXPONENTS.get(code):
            # amount x 10^-exponent is exact at the currency's exponent by construction
            money = cls._exact(Decimal(amount).scaleb(-digits), code)
        elif digits is not None:
            money = cls(Decimal(amount).scaleb(-digits), code)
        else:
            money = cls(Decimal(amount) / Decimal(divisor), code)
        if len(_RATIOS) >= _RATIOS_MAX:
            _RATIOS.clear()
        _RATIOS[key] = money
        return money

    def to_minor(self) -> int:
        """The amount in the currency's minor unit (cents for USD, yen for JPY)."""
        return int(self.amount.scaleb(currency_exponent(self.currency)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money._exact(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money._exact(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money._exact(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        """Multiply by a quantity; a Decimal factor rounds half-even to the exponent."""
        if type(factor) is int:  # an exact amount times an integer is exact: no rounding
            return Money._exact(self.amount * factor, self.currency)
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError(f"Money can only be multiplied by int or Decimal, not {factor!r}")
        product = (self.amount * factor).quantize(_quantum(self.currency), ROUND_HALF_EVEN)
        return Money(product, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


# Money.from_ratio's cache: (amount, divisor, currency code as sent) -> Money.
_RATIOS: dict[tuple[int, int, str], Money] = {}
_RATIOS_MAX = 8192
