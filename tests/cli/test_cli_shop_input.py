"""Mistakes are caught where they are made (issue 13 point 6, issue 18 point 6): each one line
on stderr, exit non-zero, no traceback, nothing stored."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import refused, run

from shopbridge.sandbox.etsy.server import SandboxHandle
from shopbridge.store.db import Database


def shops(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, err = run(capsys, "shop", "list", "--json")
    assert code == 0, err
    return list(json.loads(out))


def add(sandbox: SandboxHandle, name: str, *extra: str) -> list[str]:
    return [
        "shop", "add", "etsy", "--name", name, "--keystring", sandbox.keystring,
        "--shared-secret", sandbox.shared_secret, *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "has no scheme"),
        ("ftp://openapi.etsy.com/x", "only https://"),
        ("127.0.0.1:42459", "has no scheme: write https://HOST (http://127.0.0.1:42459"),
        ("http://[::1", "is not a valid URL"),
        ("http://169.254.169.254", "plain http would send the API keys"),
        ("https://169.254.169.254", "--allow-custom-api-host"),
    ],
)
def test_bad_api_urls_are_one_line(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], url: str,
    reason: str,
) -> None:  # fmt: skip
    line = refused(capsys, *add(sandbox, "crafts", "--api-url", url))
    assert line.startswith("error: --api-url") and reason in line
    assert sandbox.shared_secret not in line
    assert shops(capsys) == []


def test_the_sandbox_on_loopback_is_accepted(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, *add(sandbox, "crafts", "--api-url", sandbox.base_url + "/"))
    assert code == 0, err
    assert [s["api_url"] for s in shops(capsys)] == [sandbox.base_url]


def test_a_config_file_with_plain_http_elsewhere_is_refused_naming_it(
    home: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text('etsy_api_url = "http://example.com"\n')
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    line = refused(capsys, "shop", "list")
    assert str(config) in line and "plain http" in line


# --- shop names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "cannot be empty"),
        (" ", "must start with a letter or a digit"),
        ("a/b", "characters a name may not have ('/')"),
        ("--json", "must start with a letter or a digit"),
        ("-x", "must start with a letter or a digit"),
        ("two\nlines", "characters a name may not have ('\\n')"),
        ("tab\there", "characters a name may not have ('\\t')"),
        ("\x1b[31mred", "characters a name may not have"),
        ("bell\x07", "characters a name may not have"),
        ("x" * 300, "at most 64 characters (300 given)"),
        ("shop ", "must not end with a space"),
    ],
)
def test_bad_shop_names_are_one_line(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], name: str,
    reason: str,
) -> None:  # fmt: skip
    argv = add(sandbox, "placeholder", "--api-url", sandbox.base_url)
    argv[argv.index("placeholder")] = name
    line = refused(capsys, *argv)
    assert reason in line
    assert "\x1b" not in line and "\x07" not in line
    if "\x1b" in name:
        assert "shop name '\\x1b[31mred'" in line  # shown, escaped (one backslash)
    assert shops(capsys) == []


def test_names_are_unique_ignoring_case(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, *add(sandbox, "my shop", "--api-url", sandbox.base_url))
    assert code == 0, err
    line = refused(capsys, *add(sandbox, "MY SHOP", "--api-url", sandbox.base_url))
    assert "a shop named 'my shop' already exists (names are compared ignoring case)" in line
    for good in ("Ünïcode shop 2", "a.b_c-d", "7 seas"):
        code, _out, err = run(capsys, *add(sandbox, good, "--api-url", sandbox.base_url))
        assert code == 0, err
    assert len(shops(capsys)) == 4


# --- the key pair, checked at `shop add` -----------------------------------------------------


def test_a_wrong_keystring_or_shared_secret_is_named_at_add(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = add(sandbox, "crafts", "--api-url", sandbox.base_url)
    wrong_key = list(argv)
    wrong_key[wrong_key.index(sandbox.keystring)] = "a" * 24
    line = refused(capsys, *wrong_key)
    assert "does not know this keystring" in line and "Invalid API key" in line
    wrong_secret = list(argv)
    wrong_secret[wrong_secret.index(sandbox.shared_secret)] = "not-the-secret-at-all"
    line = refused(capsys, *wrong_secret)
    assert "knows the keystring but refused the shared secret" in line
    assert "not-the-secret-at-all" not in line and sandbox.shared_secret not in line
    assert shops(capsys) == []  # nothing stored
    before = sandbox.sandbox.request_counts()
    code, _out, err = run(capsys, *argv)
    assert code == 0, err
    after = sandbox.sandbox.request_counts()
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)} == {
        "ping": 1
    }  # one cheap call
    # `shop credentials` checks the new pair against the shop's API too, and keeps the old one.
    line = refused(capsys, "shop", "credentials", "crafts", "--shared-secret", "wrong-again-123")
    assert "refused the shared secret" in line
    code, _out, err = run(capsys, "shop", "credentials", "crafts", "--shared-secret",
                          sandbox.shared_secret)  # fmt: skip
    assert code == 0, err


def test_an_unreachable_api_at_add_is_one_line_and_can_be_skipped(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    line = refused(capsys, *add(sandbox, "crafts", "--api-url", closed))
    assert "could not check the keys" in line and "--skip-check" in line
    code, _out, err = run(capsys, *add(sandbox, "crafts", "--api-url", closed, "--skip-check"))
    assert code == 0, err


# --- ports, timeouts, counts -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_shop_connect_port_and_timeout(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], busy_port: int
) -> None:
    code, _out, err = run(capsys, *add(sandbox, "crafts", "--api-url", sandbox.base_url))
    assert code == 0, err
    for command in ("connect", "reauth"):
        line = refused(capsys, "shop", command, "crafts", "--port", "70000", "--no-browser")
        assert "--port 70000 is not a TCP port" in line
        line = refused(capsys, "shop", command, "crafts", "--port", "-1", "--no-browser")
        assert "--port -1 is not a TCP port" in line
        line = refused(capsys, "shop", command, "crafts", "--port", str(busy_port),
                       "--no-browser", "--timeout", "1")  # fmt: skip
        assert f"cannot listen on 127.0.0.1:{busy_port}" in line and "--port" in line
        line = refused(capsys, "shop", command, "crafts", "--timeout", "-5", "--no-browser")
        assert "--timeout -5 must be" in line
        line = refused(capsys, "shop", command, "crafts", "--timeout", "0", "--no-browser")
        assert "--timeout 0 must be" in line


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--port", "70000"), "--port 70000 is not a TCP port"),
        (("--port", "-1"), "--port -1 is not a TCP port"),
        (("--receipts", "-5"), "--receipts -5 must be at least 0"),
        (("--listings", "0"), "--listings 0 must be at least 1"),
        (("--shops", "0"), "--shops 0 must be at least 1"),
        (("--qps", "-1"), "--qps -1 must be at least 1"),
        (("--host", "no-such-host.invalid", "--port", "0"), "cannot listen on no-such-host"),
    ],
)
def test_sandbox_options_are_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], reason: str
) -> None:
    assert reason in refused(capsys, "sandbox", "etsy", *args)


def test_sandbox_on_a_busy_port_is_one_line(
    capsys: pytest.CaptureFixture[str], busy_port: int
) -> None:
    line = refused(capsys, "sandbox", "etsy", "--port", str(busy_port))
    assert f"cannot listen on 127.0.0.1:{busy_port}" in line
