"""Converting option values without Pydantic: Typer 0.29 builds a Pydantic ``TypeAdapter`` for every
non-flag parameter a command is given, and importing Pydantic for that costs ~40-70 ms of every command's
start-up (a sixth of `case list`, more than all of `--help`).

Nearly every parameter of this CLI is a plain ``str``, ``int``, ``bool`` or ``Path`` (or a list of them)
with no constraints. Those are converted here exactly as Pydantic would (a str as it is; an int only from
ASCII digits; a bool only from a bool; a Path through Typer's own path checks); any other annotation, constraint or value (a typo such as
``--workers x``) goes to Typer's Pydantic path, so what is accepted and every error message stay Typer's.
``tests/test_cli_imports.py`` checks that this stays installed and agrees with Pydantic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"-?[0-9]{1,18}")  # what both int() and Pydantic read the same way


class _NotPlain(Exception):
    """The value needs Typer's own conversion."""


def _to_str(value: Any) -> str:
    if type(value) is str:
        return value
    raise _NotPlain


def _to_bool(value: Any) -> bool:
    if type(value) is bool:  # a flag; a None (not given) never gets here: Typer returns it as it is
        return value
    raise _NotPlain


def _to_int(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _INT.fullmatch(value):
        return int(value)
    raise _NotPlain


def _to_path(value: Any) -> Path:
    if type(value) is str and value and "\0" not in value:
        return Path(value)
    raise _NotPlain


_LEAVES = {str: _to_str, int: _to_int, bool: _to_bool, Path: _to_path}
_PLAIN_INFO = {  # ParameterInfo fields that must keep their defaults for a parameter to be plain
    "min": None,
    "max": None,
    "clamp": False,
    "parser": None,
    "click_type": None,
    "exists": False,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
    "writable": False,
    "file_okay": True,
    "dir_okay": True,
}


def install() -> bool:
    """Route plain parameters around Pydantic; False (and Typer untouched) if Typer is not as expected."""
    try:
        from typer import _coercion, _param_types, core
    except ImportError:
        return False
    parameter = getattr(core, "_TyperParameter", None)
    needed = ("RuntimeParam", "build_runtime_param", "TypeDescriptor")
    if (
        parameter is None
        or not hasattr(parameter, "get_runtime_param")
        or not all(hasattr(_coercion, name) for name in needed)
        or not hasattr(_param_types, "coerce_cli_path")
    ):
        return False
    if getattr(parameter.get_runtime_param, "_ncii_plain", False):
        return True

    @dataclass(frozen=True)
    class PlainParam(_coercion.RuntimeParam):  # type: ignore[misc,name-defined]
        """A str/int/Path parameter (or a list of one of them), converted without Pydantic."""

        descriptor: Any = None
        leaf: type = str
        is_list: bool = False
        _typer: list[Any] = field(default_factory=list)  # Typer's own conversion, built on first need

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            converted = _LEAVES[self.leaf](value)
            if self.leaf is Path:  # existence/readability checks and messages: Typer's own
                return _param_types.coerce_cli_path(
                    converted, self.parameter_info, path_type=Path, param=param, ctx=ctx
                )
            return converted

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if self.is_list:
                    items = value if isinstance(value, list | tuple) else [value]
                    return [self._one(item, param, ctx) for item in items]
                return self._one(value, param, ctx)
            except _NotPlain:
                if not self._typer:
                    self._typer.append(_coercion.build_runtime_param(self.descriptor))
                return self._typer[0]._coerce_value(value, param=param, ctx=ctx)

    def plain(descriptor: Any) -> Any | None:
        info = descriptor.parameter_info
        if descriptor.file_annotation is not None:
            return None
        if any(getattr(info, name, default) != default for name, default in _PLAIN_INFO.items()):
            return None
        annotation, is_list = descriptor.annotation, False
        if get_origin(annotation) is list and len(get_args(annotation)) == 1:
            annotation, is_list = get_args(annotation)[0], True
        if annotation not in _LEAVES:
            return None
        return PlainParam(
            parameter_info=info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
            leaf=annotation,
            is_list=is_list,
        )

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            found = plain(self.type_descriptor)
            self._runtime_param = found or _coercion.build_runtime_param(self.type_descriptor)
        return self._runtime_param

    get_runtime_param._ncii_plain = True  # type: ignore[attr-defined]
    parameter.get_runtime_param = get_runtime_param
    return True
