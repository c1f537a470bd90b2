"""Alerts by email: a shop needs re-authorisation, a job keeps failing, the day's API budget is
nearly spent, a record was dead-lettered.

Each condition is a row in `alert_state`: opened once, mailed once, and mailed again only after it
cleared and came back. A mail server that cannot be reached is logged and the alert stays unsent,
to go out on a later check: nothing crashes, nothing is lost. Bodies are built from names, counts
and redacted error messages only: never from credentials.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.security import redact
from shopbridge.store import alerts as store
from shopbridge.store import ratelimit, schedules, webhooks
from shopbridge.store.db import Database
from shopbridge.store.runs import DeadLetter
from shopbridge.sync.budget import daily_budget

log = logging.getLogger("shopbridge.alerts")


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host and self.settings.alert_to)

    def send(self, subject: str, body: str) -> bool:
        """Send one message; False (and one clear log line) when the server cannot take it."""
        s = self.settings
        if not self.configured:
            return False
        message = EmailMessage()
        message["From"] = s.alert_from
        message["To"] = s.alert_to or ""
        message["Subject"] = redact(subject)
        message.set_content(redact(body))
        try:
            self._deliver(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning(
                "alert email not sent: SMTP server %s:%s unreachable or refused (%s); "
                "it will be retried on the next check",
                s.smtp_host, s.smtp_port, redact(str(exc)) or type(exc).__name__,
            )
            return False
        return True

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host is not None
        timeout = s.smtp_timeout_seconds
        smtp: smtplib.SMTP
        if s.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
        with smtp:
            if s.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user and s.smtp_password is not None:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(message)


def check_conditions(database: Database, settings: Settings) -> None:
    """Open and clear the conditions that can be read from the store's current state."""
    shops = schedules.shops(database)
    names = {shop.id: shop.name for shop in shops}
    # Re-authorisation.
    wanted = {f"reauth:{shop.id}" for shop in shops if shop.status == "reauth_required"}
    for shop in shops:
        key = f"reauth:{shop.id}"
        if key in wanted:
            store.raise_alert(
                database, key, "reauth",
                f"shopbridge: shop {shop.name} needs re-authorisation",
                f"Etsy no longer accepts the grant of shop {shop.name!r}; its jobs are paused.\n"
                f"Its owner should run: shopbridge shop reauth {shop.name}\n",
            )
    _clear_others(database, "reauth", wanted)
    # Jobs failing in a row.
    wanted = set()
    for (shop_id, stream), row in schedules.rows(database).items():
        if row.failures_in_row >= settings.alert_failures_in_row and shop_id in names:
            key = f"failing:{shop_id}:{stream}"
            wanted.add(key)
            store.raise_alert(
                database, key, "failing",
                f"shopbridge: {stream} of {names[shop_id]} failed {row.failures_in_row} times",
                f"The {stream} job of shop {names[shop_id]!r} failed {row.failures_in_row} "
                f"times in a row. See: shopbridge runs list --shop {names[shop_id]} --failed\n",
            )
    _clear_others(database, "failing", wanted)
    # Daily API budget.
    wanted = set()
    budget = daily_budget(settings.api_daily_limit, settings.api_budget_reserve)
    for key_id in sorted({shop.api_key_id for shop in shops}):
        used = ratelimit.usage_today(database, key_id)
        if used >= settings.alert_budget_fraction * budget:
            key = f"budget:{key_id}"
            members = ", ".join(s.name for s in shops if s.api_key_id == key_id)
            wanted.add(key)
            store.raise_alert(
                database, key, "budget",
                f"shopbridge: API key {key_id} spent {used} of {budget} calls today",
                f"API key {key_id} (shops: {members}) "
                f"has used {used} calls in the last 24 hours; the scheduler's budget is {budget} "
                f"(limit {settings.api_daily_limit} minus the manual reserve). "
                "See: shopbridge budget\n",
            )
    _clear_others(database, "budget", wanted)
    webhooks_stopped(database)


# A shop whose webhooks arrived before and have not for this long, while its polls still find
# new orders, has lost its webhooks (an endpoint disabled on Etsy's side, a secret rotated there
# and not here, a proxy in the way): polling keeps its orders coming, only slower.
HOOKS_SILENT_AFTER = timedelta(hours=1)


def webhooks_stopped(database: Database, now: datetime | None = None) -> None:
    now = now or utcnow()
    names = {shop.id: shop.name for shop in schedules.shops(database)
             if shop.status == "connected"}
    wanted = set()
    for shop_id, seen in webhooks.last_accepted(database).items():
        if shop_id not in names or now - seen < HOOKS_SILENT_AFTER:
            continue
        polled = webhooks.orders_polled_since(database, shop_id, seen)
        if not polled:
            continue  # a quiet shop, not lost webhooks
        key = f"hooks:{shop_id}"
        wanted.add(key)
        name = names[shop_id]
        store.raise_alert(
            database, key, "hooks",
            f"shopbridge: webhooks of {name} stopped arriving",
            f"No webhook from Etsy has reached shop {name!r} since {seen:%Y-%m-%d %H:%M} UTC, "
            f"while its polls have brought {polled} new orders since: they come late, not "
            "lost. Check the endpoint in Etsy's webhook portal and the secret "
            f"(shopbridge shop settings {name} --webhook-secret-stdin). "
            f"See: shopbridge shop show {name}\n",
        )
    _clear_others(database, "hooks", wanted)


def dead_lettered(database: Database, letters: list[DeadLetter], names: dict[int, str]) -> None:
    for letter in letters:
        shop = names.get(letter.shop_id, str(letter.shop_id))
        store.raise_alert(
            database, f"dead:{letter.id}", "dead",
            f"shopbridge: {letter.entity} {letter.external_id} of {shop} gave up after "
            f"{letter.attempts} attempts",
            f"Record {letter.entity} {letter.external_id} of shop {shop!r} failed "
            f"{letter.attempts} times and will not be retried automatically.\n"
            f"Last error: {redact(letter.error)}\nSee: shopbridge errors list\n",
        )


def deliver(database: Database, mailer: Mailer) -> int:
    """Mail every open, unsent alert; returns how many went out."""
    if not mailer.configured:
        return 0
    sent = []
    for alert in store.unsent(database):
        if not mailer.send(alert.subject, alert.body):
            break  # the server is down: try the rest on the next check
        sent.append(alert.key)
    if sent:
        store.mark_sent(database, sent)
    return len(sent)


def _clear_others(database: Database, kind: str, wanted: set[str]) -> None:
    for key in store.open_keys(database, kind) - wanted:
        store.clear(database, key)
