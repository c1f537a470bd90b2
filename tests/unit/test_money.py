"""Money: exact at the ISO 4217 exponent, never float, never mixing currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopbridge.domain.money import (
    CurrencyMismatchError,
    Money,
    MoneyError,
    currency_exponent,
)

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KRW", "KWD", "BHD", "CLF"]
currencies = st.sampled_from(CURRENCIES)
minor_units = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money.from_minor(draw(minor_units), currency or draw(currencies))


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    currency = draw(currencies)
    return [draw(money(currency)) for _ in range(count)]


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_exponent_per_currency(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent
    assert Money.from_minor(1, currency).amount == Decimal(1).scaleb(-exponent)
    assert Money.zero(currency).amount.as_tuple().exponent == -exponent


@given(minor_units, currencies)
def test_from_etsy_from_minor_and_of_agree(minor: int, currency: str) -> None:
    exponent = currency_exponent(currency)
    etsy = Money.from_etsy({"amount": minor, "divisor": 10**exponent, "currency_code": currency})
    text = str(Decimal(minor).scaleb(-exponent))
    assert etsy == Money.from_minor(minor, currency) == Money.of(text, currency)
    assert etsy.to_minor() == minor


@given(minor_units, currencies, st.integers(min_value=1, max_value=3))
def test_from_etsy_with_a_finer_divisor_is_the_same_amount(
    minor: int, currency: str, extra: int
) -> None:
    divisor = 10 ** (currency_exponent(currency) + extra)
    etsy = Money.from_etsy(
        {"amount": minor * 10**extra, "divisor": divisor, "currency_code": currency}
    )
    assert etsy == Money.from_minor(minor, currency)


@given(minor_units, currencies)
def test_to_minor_round_trips(minor: int, currency: str) -> None:
    value = Money.from_minor(minor, currency)
    assert Money.from_minor(value.to_minor(), currency) == value
    assert isinstance(value.amount, Decimal)


@given(same_currency(3))
def test_addition_is_associative_and_commutative(values: list[Money]) -> None:
    a, b, c = values
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert (a + b) - b == a
    assert a - a == Money.zero(a.currency)
    assert Money.zero(a.currency) - a == -a
    assert a + b + c - c - b == a


@given(same_currency(2))
def test_ordering_agrees_with_amounts(values: list[Money]) -> None:
    a, b = values
    assert (a < b) == (a.amount < b.amount)
    assert (a <= b) == (a.amount <= b.amount)
    assert (a > b) == (a.amount > b.amount)


@given(money(), st.integers(min_value=0, max_value=1000))
def test_multiplying_by_a_quantity_is_exact(value: Money, quantity: int) -> None:
    assert (value * quantity).to_minor() == value.to_minor() * quantity
    assert quantity * value == value * quantity


def test_decimal_factor_rounds_half_even() -> None:
    assert Money.of("0.25", "USD") * Decimal("0.5") == Money.of("0.12", "USD")
    assert Money.of("0.35", "USD") * Decimal("0.5") == Money.of("0.18", "USD")


@given(money(), money())
def test_mixed_currencies_are_refused(a: Money, b: Money) -> None:
    if a.currency == b.currency:
        return
    with pytest.raises(CurrencyMismatchError):
        a + b
    with pytest.raises(CurrencyMismatchError):
        a - b
    with pytest.raises(CurrencyMismatchError):
        a < b  # noqa: B015 - the comparison itself must raise
    with pytest.raises(CurrencyMismatchError):
        Money.zero(a.currency) + b


def test_never_float() -> None:
    with pytest.raises(MoneyError, match="float"):
        Money.of(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="Decimal"):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="integer"):
        Money.from_etsy({"amount": 27.5, "divisor": 100, "currency_code": "USD"})
    with pytest.raises(MoneyError, match="integer"):
        Money.from_minor(2.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of("1.00", "USD") * 1.5  # type: ignore[operator]


@pytest.mark.parametrize("code", ["XYZ", "usd", "", "DOLLARS"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Money.of("1", code)
    with pytest.raises(MoneyError, match="unknown currency"):
        Money.from_minor(1, code)


def test_etsy_currency_code_is_case_insensitive_and_unknown_refused() -> None:
    assert Money.from_etsy({"amount": 1, "divisor": 1, "currency_code": "jpy"}).currency == "JPY"
    with pytest.raises(MoneyError, match="unknown currency"):
        Money.from_etsy({"amount": 1, "divisor": 100, "currency_code": "XXX"})


@pytest.mark.parametrize(
    ("text", "currency"), [("1.005", "USD"), ("1.5", "JPY"), ("0.0001", "KWD")]
)
def test_more_decimals_than_the_currency_allows_are_refused(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        Money.of(text, currency)


@pytest.mark.parametrize(
    "obj",
    [
        {"amount": 1, "divisor": 0, "currency_code": "USD"},
        {"amount": 1, "divisor": -100, "currency_code": "USD"},
        {"amount": True, "divisor": 100, "currency_code": "USD"},
        {"amount": 1, "divisor": 100},
        {"amount": 1, "divisor": 3, "currency_code": "USD"},
        None,
    ],
)
def test_malformed_etsy_money_is_refused(obj: object) -> None:
    with pytest.raises(MoneyError):
        Money.from_etsy(obj)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "abc", "1e30"])
def test_non_finite_unparseable_or_huge_amounts_are_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.of(text, "USD")


def test_amount_is_kept_at_the_exponent_and_negative_zero_is_zero() -> None:
    assert str(Money.of("12.5", "USD")) == "12.50 USD"
    assert str(Money.of(" 3 ", "KWD")) == "3.000 KWD"
    assert str(Money.of("-0", "USD")) == "0.00 USD"
    assert not Money.of("0.00", "EUR")
    assert Money.of("0.01", "EUR")


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([1, 10, 100, 1000, 10_000, 7]),
    st.sampled_from(["USD", "usd", "JPY", "KWD", "CLF", "EUR"]),
)
def test_from_ratio_fast_path_and_cache_agree_with_the_checked_constructor(
    amount: int, divisor: int, currency: str
) -> None:
    """The shared (cached) Money of a ratio is the one the checked constructor builds, spelled
    the same (its repr is part of an order's fingerprint); an inexact ratio is refused every
    time, never cached."""
    try:
        expected = Money(Decimal(amount) / Decimal(divisor), currency.upper())
    except MoneyError:
        for _ in range(2):
            with pytest.raises(MoneyError):
                Money.from_ratio(amount, divisor, currency)
        return
    first = Money.from_ratio(amount, divisor, currency)
    again = Money.from_ratio(amount, divisor, currency)
    assert first == expected and repr(first) == repr(expected)
    assert again is first


@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.integers(min_value=-1000, max_value=1000),
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_times_an_integer_is_the_checked_product(minor: int, factor: int, currency: str) -> None:
    money = Money.from_minor(minor, currency)
    product = money * factor
    expected = Money(money.amount * Decimal(factor), currency)
    assert product == expected and repr(product) == repr(expected)
