"""The one error handler: an `NciiError` becomes an `error:` line, a `hint:` line and its kind's exit code."""

from __future__ import annotations

import pytest

import ncii_shield.cli.main as cli
from ncii_shield.errors import NciiError, NotFound, Unavailable


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NciiError("bad input", hint="fix it"), 2),
        (NotFound("no case 7", hint="see case list"), 2),
        (Unavailable("the SMTP server is down", hint="try again later"), 75),
    ],
)
def test_an_error_exits_with_its_kinds_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: NciiError, code: int
) -> None:
    def failing() -> None:
        raise error

    monkeypatch.setattr(cli, "app", failing)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == code == error.exit_code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"error: {error.message}", f"hint: {error.hint}"]
