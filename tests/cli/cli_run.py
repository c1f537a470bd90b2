"""Running a CLI command in process and reading what it printed (for the CLI tests)."""

from __future__ import annotations

import pytest

from shopbridge.cli.app import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command's exit code, standard output and standard error."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The command fails with exactly one line on stderr; that line."""
    code, out, err = run(capsys, *args)
    assert code != 0, out
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]
