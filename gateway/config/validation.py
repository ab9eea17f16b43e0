"""Turn pydantic validation errors into located, human-worded config issues.

Pydantic's messages are written for programmers ("Input should be a valid
integer"); a controls engineer wants "expected an integer, got 'abc'" on the
right line. This module is the one boundary where that translation happens,
and the place models use to report several located problems at once.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from gateway.config.yamlsource import KeyPath, YamlDocument, format_path
from gateway.errors import ConfigIssue

__all__ = [
    "KEY_HINTS",
    "MISSING",
    "Finding",
    "closest",
    "did_you_mean",
    "duplicates",
    "issues_from_validation",
    "raise_located",
]

#: Pass as the message to `raise_located` to report a missing key like pydantic does.
MISSING = "missing"

#: Extra words for a missing key, where the fix is not obvious from the name.
KEY_HINTS = {
    "table": "or give a Modicon ref such as 40001",
    "address": "or give a Modicon ref such as 40001",
    "length": "string tags need their size in registers",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem found in a validated model, located by key path (the loader adds the line)."""

    path: KeyPath
    message: str
    warning: bool = False


def closest(word: object, choices: Sequence[str]) -> str | None:
    """The choice `word` was most likely meant to be, if one is close (a typo's fix)."""
    close = difflib.get_close_matches(str(word), choices, n=1)
    return close[0] if close else None


def did_you_mean(word: object, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)` to append to a message, or nothing when no choice is close."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close is not None else ""


def duplicates(items: Iterable[tuple[KeyPath, object]], what: str) -> Iterator[Finding]:
    """A finding at `path.name` for every item whose key an earlier item has already.

    The later of the two is blamed (its line is the one to fix), naming the first.
    """
    seen: dict[object, KeyPath] = {}
    for path, key in items:
        first = seen.setdefault(key, path)
        if first is not path:
            yield Finding((*path, "name"), f"duplicate {what} '{key}' (also {format_path(first)})")


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "list_type": "a list",
    "tuple_type": "a list",
    "iterable_type": "a list",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}
_CUSTOM = "config"


def raise_located(title: str, problems: Sequence[tuple[KeyPath, str]], value: object) -> None:
    """Raise one ValidationError holding several problems, each at its own sub-path.

    Model validators call this so that every problem of a tag is reported at the
    key it concerns (`bit`, `length`…), not once at the tag. The message MISSING
    reports the last key of the path as a missing required key.
    """
    details = [
        InitErrorDetails(
            type="missing" if message == MISSING else _custom(message), loc=path, input=value
        )
        for path, message in problems
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


def _custom(message: str) -> PydanticCustomError:
    # The message travels as context so braces in it are not taken as a template.
    return PydanticCustomError(_CUSTOM, "{message}", {"message": message})


def issues_from_validation(
    error: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> list[ConfigIssue]:
    """One located issue per pydantic error, worded for people."""
    issues = []
    for detail in error.errors(include_url=False):
        loc: KeyPath = tuple(part for part in detail["loc"] if isinstance(part, str | int))
        path, message = _describe_error(detail, loc, model)
        issues.append(document.issue(path, message))
    return issues


def _describe_error(
    detail: ErrorDetails, loc: KeyPath, model: type[BaseModel]
) -> tuple[KeyPath, str]:
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail["input"]
    if kind == "missing" and loc:
        key = loc[-1]
        if isinstance(key, int):
            return loc[:-1], f"expected at least {key + 1} items"
        hint = KEY_HINTS.get(key)
        return loc[:-1], f"missing required key '{key}'" + (f" ({hint})" if hint else "")
    if kind == "extra_forbidden" and loc:
        return loc, _unknown_key(str(loc[-1]), _keys_of(model, loc[:-1]))
    if kind in ("enum", "literal_error"):
        choices = _choices(str(ctx.get("expected", "")))
        return loc, _not_one_of(value, choices)
    if kind in _EXPECTED:
        return loc, f"expected {_EXPECTED[kind]}, got {_show(value)}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return loc, f"must be {words} {ctx.get(key)}, got {_show(value)}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return loc, "must not be empty"
    if kind in ("too_short", "too_long"):
        return loc, f"expected {_count(ctx)} items, got {ctx.get('actual_length', '?')}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return loc, str(ctx["error"])
    return loc, detail["msg"]


def _count(ctx: dict[str, Any]) -> str:
    low, high = ctx.get("min_length"), ctx.get("max_length")
    if low is not None and high is not None and low != high:
        return f"{low} to {high}"
    if high is not None:
        return f"at most {high}" if low is None else str(high)
    return f"at least {low}"


def _choices(expected: str) -> list[str]:
    # pydantic writes "'bool', 'int16' or 'string'"; keep the names, in order.
    return [part.strip().strip("'") for part in expected.replace(" or ", ", ").split(", ") if part]


def _not_one_of(value: object, choices: list[str]) -> str:
    return f"{_show(value)} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"


def _unknown_key(key: str, allowed: list[str]) -> str:
    if not allowed:
        return f"unknown key '{key}'"
    close = closest(key, allowed)
    hint = f"did you mean '{close}'? " if close is not None else ""
    return f"unknown key '{key}' ({hint}expected one of {', '.join(allowed)})"


def _show(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _keys_of(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """Keys the model at `loc` accepts, for "expected one of" in unknown-key errors."""
    target = _model_at(model, loc)
    if target is None:
        return []
    extra: Iterable[str] = getattr(target, "input_only_keys", ())
    return [*target.model_fields, *extra]


def _model_at(model: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: str | int) -> Any:
    """The type reached from `annotation` by one key path step."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, int):
            return None
        field = annotation.model_fields.get(part)
        return None if field is None else _strip_optional(field.annotation)
    origin = get_origin(annotation)
    if origin in (tuple, list) and isinstance(part, int):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return _strip_optional(args[0]) if args else None
    return None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
