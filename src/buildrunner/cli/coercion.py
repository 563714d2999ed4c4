"""Option and argument values converted without pydantic where that is plain (Typer 0.29+).

Typer 0.29 converts every parameter's value, even an option left at its default, with a
pydantic `TypeAdapter` it builds on first use: importing pydantic and building the adapters
is about 90 ms of every command's start-up. `plain_conversion` gives each Typer parameter a
converter (Typer's own `RuntimeParam` contract, set where Typer caches the one it builds)
that converts the plain cases itself, with Typer's own functions where Typer has them: text,
a flag, a choice, a whole or decimal number within the option's range, a path, a list of
these. Every other value, and every value it would reject, goes to the converter Typer builds,
so results and error messages stay Typer's. With a Typer that converts without pydantic
(0.26-0.28) there is nothing to replace and this does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

import typer

try:
    from typer import _click as click  # Typer's vendored click (0.26+)
except ImportError:  # a Typer that no longer vendors it depends on click itself
    import click  # type: ignore[no-redef]

try:  # Typer 0.29+
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import (
        choice_coercion_annotation,
        coerce_cli_choice,
        coerce_cli_path,
        lenient_issubclass,
        routes_to_path,
    )

    _RUNTIME_PARAMS = True
except ImportError:  # Typer 0.26-0.28: click types, no pydantic
    _RUNTIME_PARAMS = False

if TYPE_CHECKING:
    from typer.core import _TyperParameter

_TYPER = object()  # "not a plain case: Typer's converter decides"
_WHOLE = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")


def plain_conversion(command: click.Command, help_option_names: list[str]) -> click.Command:
    """Give every Typer parameter of `command`, and of the commands under it, the plain converter.

    Typer makes a command's help option when a context first asks for it; it is made here, with
    the names every context of the app uses (`help_option_names`), so that it gets one too.
    """
    if _RUNTIME_PARAMS:
        command.get_help_option(click.Context(command, help_option_names=help_option_names))
        for param in [*command.params, getattr(command, "_help_option", None)]:
            desc = getattr(param, "type_descriptor", None)
            if isinstance(desc, TypeDescriptor) and getattr(param, "_runtime_param", False) is None:
                try:
                    cast("_TyperParameter", param)._runtime_param = _PlainParam(parameter_info=desc.parameter_info, annotation=desc.annotation, descriptor=desc)
                except (TypeError, AttributeError):  # a later Typer changed these private parts: its own converter, slower start-up
                    return command
    for sub in getattr(command, "commands", {}).values():
        plain_conversion(sub, help_option_names)
    return command


def _leaf(annotation: Any, info: Any, value: Any, param: _TyperParameter, ctx: click.Context) -> Any:
    """`value` converted as Typer converts it to `annotation`, or `_TYPER` when that takes pydantic or fails."""
    choice = choice_coercion_annotation(annotation, info)
    if choice is not None:
        try:
            return coerce_cli_choice(value, choices=choice[0], case_sensitive=choice[1], ctx=ctx)
        except ValueError:
            return _TYPER
    if annotation is str:
        return value if isinstance(value, str) else _TYPER
    if annotation is bool:
        return value if isinstance(value, bool) else _TYPER
    if annotation in (int, float) and not info.clamp:
        pattern = _WHOLE if annotation is int else _DECIMAL
        if not ((isinstance(value, str) and pattern.fullmatch(value)) or type(value) is int or (annotation is float and type(value) is float)):
            return _TYPER
        number = annotation(value)
        if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
            return _TYPER
        return number
    if lenient_issubclass(annotation, Path) and info.path_type is None and routes_to_path(annotation, info):
        if not (isinstance(value, str) and value):
            return _TYPER
        try:
            return coerce_cli_path(annotation(value), info, path_type=annotation, param=param, ctx=ctx)
        except typer.BadParameter:
            return _TYPER
    return _TYPER


if _RUNTIME_PARAMS:

    @dataclass(frozen=True)
    class _PlainParam(RuntimeParam):
        """Plain values converted here; the rest by the converter Typer builds for `descriptor`."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: click.Context) -> Any:
            try:
                result = self._plain(value, param, ctx)
            except Exception:  # a later Typer changed a private function used here: its own converter decides
                result = _TYPER
            if result is _TYPER:
                return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
            return result

        def _plain(self, value: Any, param: Any, ctx: click.Context) -> Any:
            info = self.parameter_info
            if info.parser is not None or self.descriptor.is_file or self.descriptor.is_tuple:
                result = _TYPER
            elif self.descriptor.is_list:
                (inner,) = get_args(self.annotation)
                items = [_leaf(inner, info, item, param, ctx) for item in value] if isinstance(value, (list, tuple)) else [_TYPER]
                result = _TYPER if any(item is _TYPER for item in items) else items
            else:
                result = _leaf(self.annotation, info, value, param, ctx)
            return result
