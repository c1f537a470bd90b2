"""The seeded data of a sandboxed site: products (simple and variable), customers, orders.

The same seed and start time give the same site. Orders carry every line type WooCommerce has:
line items (some variations, some sold from the parent's stock), shipping, fees (some negative),
coupons, tax lines; some are refunded in part or in full; about a third are guests.
"""

from __future__ import annotations

import hashlib
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from .world import Attribute, Customer, Line, Order, Product, Variation

if TYPE_CHECKING:
    from .world import WooSandbox

FIRST = (
    "Anna",
    "Ben",
    "Chloé",
    "Dario",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katrin",
    "Luca",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sven",
    "Tara",
    "Uwe",
)
LAST = (
    "Müller",
    "Schmidt",
    "O'Brien",
    "Rossi",
    "Dubois",
    "Novak",
    "García",
    "Jensen",
    "Kowalski",
    "Smith",
    "Nguyen",
    "Fischer",
    "Weber",
    "Larsen",
    "Costa",
)
CITIES = (
    ("Berlin", "10115", "DE"),
    ("München", "80331", "DE"),
    ("Wien", "1010", "AT"),
    ("Paris", "75001", "FR"),
    ("Milano", "20121", "IT"),
    ("Amsterdam", "1012", "NL"),
)
NOUNS = (
    "Mug",
    "Scarf",
    "Candle",
    "Notebook",
    "Tote Bag",
    "Poster",
    "Teapot",
    "Blanket",
    "Pendant",
    "Soap",
)
ADJECTIVES = ("Linen", "Ceramic", "Hand-dyed", "Vintage", "Oak", "Woollen", "Copper", "Tea &amp;")
STREETS = ("Hauptstraße", "Rue de la Paix", "Via Roma", "Keizersgracht")
SIZES = ("S", "M", "L", "XL")
COLOURS = ("Red", "Blue", "Green", "Black", "Natural")
SHIPPING = (
    ("flat_rate", "Flat rate", "4.90"),
    ("free_shipping", "Free shipping", "0.00"),
    ("local_pickup", "Local pickup", "0.00"),
)
COUPONS = (("summer10", Decimal("0.10")), ("welcome5", Decimal("0.05")))


def _rng(world: WooSandbox, label: str) -> random.Random:
    return random.Random(f"{world.config.seed}:{label}")


def money(world: WooSandbox, value: Decimal) -> Decimal:
    step = Decimal(1).scaleb(-world.config.decimals)
    return value.quantize(step, rounding=ROUND_HALF_UP)


def generate(world: WooSandbox) -> None:
    cfg = world.config
    now = world.now()
    start = now - cfg.history_days * 86400
    rng = _rng(world, "catalog")
    for index in range(cfg.products):
        created = start - rng.randint(1, 90) * 86400
        _product(world, rng, index, created)
    rng = _rng(world, "customers")
    wanted = cfg.customers if cfg.customers is not None else max(1, cfg.orders // 3)
    for _ in range(wanted):
        _customer(world, rng, start - rng.randint(0, 30) * 86400)
    rng = _rng(world, "orders")
    if cfg.orders:
        times = sorted(rng.randint(start, now - 60) for _ in range(cfg.orders))
        for created in times:
            _order(world, rng, created, now)


def _product(world: WooSandbox, rng: random.Random, index: int, created: int) -> Product:
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {index + 1}"
    pid = world.post_id()
    sku = f"WOO-{index + 1:04d}"
    price = money(world, Decimal(rng.randint(500, 9000)) / 100)
    variable = rng.random() < 0.4
    if not variable:
        manage = rng.random() < 0.85
        product = Product(
            pid,
            name,
            "simple",
            sku,
            price,
            manage,
            rng.randint(0, 40) if manage else None,
            created,
            created,
            description=f"<p>{name}, made by hand.</p>",
        )
        world.products[pid] = product
        return product
    parent_manages = rng.random() < 0.3
    product = Product(
        pid,
        name,
        "variable",
        sku,
        None,
        parent_manages,
        rng.randint(5, 60) if parent_manages else None,
        created,
        created,
        description=f"<p>{name} in several sizes and colours.</p>",
    )
    sizes = rng.sample(SIZES, rng.randint(1, 3))
    colours = rng.sample(COLOURS, rng.randint(1, 2))
    product.attributes = [Attribute("Size", sizes), Attribute("Colour", colours)]
    for size in sizes:
        for colour in colours:
            vid = world.post_id()
            own = not parent_manages or rng.random() < 0.3
            variation = Variation(
                vid,
                pid,
                f"{sku}-{size}-{colour[:3].upper()}",
                money(world, price + Decimal(SIZES.index(size))),
                [("Size", size), ("Colour", colour)],
                own,
                rng.randint(0, 25) if own else None,
                created,
                created,
            )
            world.variations[vid] = variation
            product.variations.append(vid)
    world.products[pid] = product
    return product


def _address(rng: random.Random, first: str, last: str, email: str | None) -> dict[str, str]:
    city, postcode, country = rng.choice(CITIES)
    address = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        "address_2": "",
        "city": city,
        "state": "",
        "postcode": postcode,
        "country": country,
        "phone": f"+49 30 {rng.randint(1000000, 9999999)}",
    }
    if email is not None:
        address["email"] = email
    return address


def _customer(world: WooSandbox, rng: random.Random, created: int) -> Customer:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    uid = world.user_id()
    email = f"{first.lower()}.{uid}@example.com".replace("é", "e")
    billing = _address(rng, first, last, email)
    shipping = {k: v for k, v in billing.items() if k != "email"}
    customer = Customer(
        uid, email, first, last, email.split("@")[0], billing, shipping, created, created
    )
    world.customers[uid] = customer
    return customer


def _sellable(world: WooSandbox, rng: random.Random) -> tuple[Product, Variation | None]:
    product = world.products[rng.choice(list(world.products))]
    if product.type == "variable" and product.variations:
        return product, world.variations[rng.choice(product.variations)]
    return product, None


def _restock_for(
    world: WooSandbox, product: Product, variation: Variation | None, qty: int, when: int
) -> None:
    """No backorders: before a sale the stock it sells from must hold it, so a seller who ran
    out restocks first (stock never goes below zero, as on a site without backorders)."""
    holder: Product | Variation | None = None
    if variation is not None and variation.manage_stock:
        holder = variation
    elif product.manage_stock:
        holder = product
    if holder is not None and (holder.stock_quantity or 0) < qty:
        holder.stock_quantity = (holder.stock_quantity or 0) + qty + 20
        holder.modified = max(holder.modified, when)


def _order(
    world: WooSandbox, rng: random.Random, created: int, now: int, status: str | None = None
) -> Order:
    cfg = world.config
    rate = Decimal(cfg.tax_rate) / 100
    guest = rng.random() < cfg.guest_share or not world.customers
    if guest:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"guest.{rng.randint(1, 10**6)}@example.org"
        billing = _address(rng, first, last, email)
        customer_id = 0
    else:
        customer = world.customers[rng.choice(list(world.customers))]
        billing = dict(customer.billing)
        customer_id = customer.id
    shipping = {k: v for k, v in billing.items() if k != "email"}
    if rng.random() < 0.1:
        shipping = _address(rng, rng.choice(FIRST), rng.choice(LAST), None)
    coupon = rng.choice(COUPONS) if rng.random() < 0.15 else None
    lines = []
    for _ in range(rng.randint(1, 3)):
        product, variation = _sellable(world, rng)
        qty = rng.randint(1, 3)
        _restock_for(world, product, variation, qty, created)
        unit = variation.regular_price if variation else (product.regular_price or Decimal("9.99"))
        subtotal = money(world, unit * qty)
        total = money(world, subtotal * (1 - coupon[1])) if coupon else subtotal
        line = Line(
            world.item_id(),
            "line_item",
            name=product.name
            + (" - " + ", ".join(v for _, v in variation.attributes) if variation else ""),
            product_id=product.id,
            variation_id=variation.id if variation else 0,
            sku=variation.sku if variation else product.sku,
            quantity=qty,
            subtotal=subtotal,
            total=total,
            subtotal_tax=money(world, subtotal * rate),
            tax=money(world, total * rate),
        )
        if variation:
            line.meta_data = [
                {
                    "id": world.item_id(),
                    "key": k.lower(),
                    "value": v,
                    "display_key": k,
                    "display_value": v,
                }
                for k, v in variation.attributes
            ]
        lines.append(line)
    method = rng.choice(SHIPPING)
    ship_total = Decimal(method[2])
    ship = Line(
        world.item_id(),
        "shipping",
        name=method[1],
        method_id=method[0],
        total=ship_total,
        tax=money(world, ship_total * rate),
    )
    fees = []
    if rng.random() < 0.1:
        fee = Decimal("2.50") if rng.random() < 0.7 else Decimal("-1.00")
        fees.append(
            Line(
                world.item_id(),
                "fee",
                name="Gift wrap" if fee > 0 else "Loyalty discount",
                total=fee,
                tax=money(world, fee * rate),
            )
        )
    coupons = []
    if coupon:
        discount = sum((li.subtotal - li.total for li in lines), Decimal(0))
        coupons.append(
            Line(
                world.item_id(),
                "coupon",
                code=coupon[0],
                total=discount,
                tax=sum((li.subtotal_tax - li.tax for li in lines), Decimal(0)),
            )
        )
    order = Order(
        world.post_id(),
        "pending",
        cfg.currency,
        created,
        created,
        customer_id,
        billing,
        shipping,
        lines,
        [ship],
        fees,
        coupons,
        [],
        order_key="wc_order_"
        + hashlib.sha256(f"{cfg.seed}:{created}:{rng.random()}".encode()).hexdigest()[:13],
    )
    tax_total = sum((li.tax for li in lines), Decimal(0)) + sum((f.tax for f in fees), Decimal(0))
    order.tax_lines = [
        Line(
            world.item_id(),
            "tax",
            code="DE-MWST-1",
            name="MwSt.",
            rate_id=1,
            rate_percent=Decimal(cfg.tax_rate),
            total=tax_total,
            shipping_tax=ship.tax,
        )
    ]
    if rng.random() < 0.05:
        order.customer_note = "Bitte nicht klingeln &amp; beim Nachbarn abgeben."
    world.orders[order.id] = order
    world.add_note(order, "Order created.")
    for line in lines:
        world.adjust_stock(line.product_id, line.variation_id, -line.quantity)
    for line in lines:  # stock reduced when the order is placed: the products changed then
        for pid in (line.product_id, line.variation_id):
            obj = world.products.get(pid) or world.variations.get(pid)
            if obj is not None:
                obj.modified = max(obj.modified, created)
    if status is not None:
        final = status
    else:
        roll = rng.random()
        age = now - created
        if roll < 0.04:
            final = "cancelled"
        elif roll < 0.07:
            final = "failed"
        elif roll < 0.12:
            final = "on-hold"
        elif age > 5 * 86400 or roll > 0.6:
            final = "completed"
        else:
            final = "processing"
    if final in ("processing", "completed", "on-hold"):
        paid_at = created + rng.randint(0, 300)
        order.paid = paid_at
        order.transaction_id = f"txn_{order.id}"
        order.status = "processing" if final != "on-hold" else "on-hold"
        order.modified = paid_at
    if final == "completed":
        done = min(now - 30, created + rng.randint(3600, 5 * 86400))
        order.status = "completed"
        order.completed = max(done, order.modified)
        order.modified = order.completed
    elif final not in ("processing", "on-hold", "pending"):
        order.status = final
        order.modified = min(now - 30, created + rng.randint(60, 86400))
    if order.status in ("completed", "processing") and rng.random() < 0.05:
        total = order.totals()["total"]
        amount = total if rng.random() < 0.4 else money(world, total / 3)
        when = min(now - 10, order.modified + rng.randint(60, 10 * 86400))
        from .world import Refund

        order.refunds.append(Refund(world.post_id(), amount, "Damaged in transit", when))
        if amount == total:
            order.status = "refunded"
        order.modified = max(order.modified, when)
    return order


def new_order(world: WooSandbox, when: int, status: str = "processing") -> Order:
    """An order placed now (control API): paid unless `status` says otherwise."""
    rng = random.Random(f"{world.config.seed}:new:{len(world.orders)}:{when}")
    order = _order(world, rng, when, world.now(), status="pending")
    if status != "pending":
        order.status = status
        if status in ("processing", "completed", "on-hold"):
            order.paid = when
        if status == "completed":
            order.completed = when
    order.modified = when
    return order
