"""Structured logs keep their evidence: a traceback survives --log-json, redacted."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shopbridge.observability import JsonFormatter, setup_logging
from shopbridge.security import RedactingFilter, register_secret


@pytest.fixture
def root_restored() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def fail_with_secret(secret: str) -> None:
    raise RuntimeError(f"token endpoint said no to {secret}")


@pytest.mark.parametrize("as_json", [True, False])
def test_traceback_is_kept_and_redacted(as_json: bool, root_restored: logging.Logger) -> None:
    secret = "json-log-secret-0042"
    register_secret(secret)
    setup_logging(as_json)
    stream = io.StringIO()
    handler = root_restored.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("shopbridge.test.json")
    try:
        fail_with_secret(secret)
    except RuntimeError:
        log.exception("refresh of %s failed", "shop7")
    log.info("stack here", stack_info=True)
    out = stream.getvalue()
    assert secret not in out
    if as_json:
        first, second = (json.loads(line) for line in out.splitlines())
        assert first["message"] == "refresh of shop7 failed"
        assert "Traceback (most recent call last)" in first["exception"]
        assert "in fail_with_secret" in first["exception"]
        assert "RuntimeError: token endpoint said no to ***" in first["exception"]
        assert "test_traceback_is_kept_and_redacted" in second["stack"]
    else:
        assert "Traceback (most recent call last)" in out
        assert "RuntimeError: token endpoint said no to ***" in out


def test_json_formatter_alone_redacts_a_raw_exception() -> None:
    # A handler without the filter (a library's own) still never prints the secret.
    register_secret("unfiltered-secret-77")
    try:
        raise ValueError("unfiltered-secret-77")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None,
                                   (type(exc), exc, exc.__traceback__))
    line = json.loads(JsonFormatter().format(record))
    assert "unfiltered-secret-77" not in line["exception"]
    assert "ValueError: ***" in line["exception"]
    assert RedactingFilter().filter(record)
