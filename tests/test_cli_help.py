"""Help texts name every choice there is: a route added to the registry shows up where a kind is asked for."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ncii_shield.cli.main import app
from ncii_shield.kinds import KIND_ORDER


@pytest.mark.parametrize("command", [["hits"], ["review", "confirm"], ["review", "reject"]])
def test_kind_option_lists_every_route(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert all(kind in text for kind in KIND_ORDER), text
