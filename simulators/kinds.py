"""Pick a model class by its `kind:` key, keeping error paths equal to the YAML's.

Pydantic's tagged unions put the tag into every error location
(`signal.sine.period`), which no longer matches a key path in the file, so
the loader could not find the line. Here a before-validator chooses the class
itself and validates with it, so errors nest exactly where the keys are; an
unknown key is reported with the keys that kind does accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from gateway.config.validation import MISSING, closest, did_you_mean, raise_located

__all__ = ["kind_dispatcher"]

_CUSTOM_TYPE = "config"


def kind_dispatcher(what: str, classes: Mapping[str, type[BaseModel]]) -> Callable[[Any], Any]:
    """A before-validator turning a mapping with `kind:` into the matching model."""

    def dispatch(data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # a model instance, or let the union report the wrong type
        kind = data.get("kind")
        if kind is None:
            raise_located(what, [(("kind",), MISSING)], data)
        cls = classes.get(str(kind))
        if cls is None:
            raise_located(what, [(("kind",), _unknown_kind(kind, list(classes)))], kind)
            raise AssertionError  # pragma: no cover - raise_located raised
        allowed = list(cls.model_fields)
        unknown = [key for key in data if key not in allowed]
        known = {key: value for key, value in data.items() if key in allowed}
        details = [_unknown_key(key, kind, data[key], allowed) for key in unknown]
        try:
            result = cls.model_validate(known)
        except ValidationError as exc:
            details += [_detail(error) for error in exc.errors(include_url=False)]
            result = None
        if details or result is None:
            raise ValidationError.from_exception_data(what, details)
        return result

    return dispatch


def _unknown_kind(kind: object, kinds: list[str]) -> str:
    return f"{kind!r} is not one of {', '.join(kinds)}{did_you_mean(kind, kinds)}"


def _unknown_key(key: str, kind: object, value: object, allowed: list[str]) -> InitErrorDetails:
    others = [name for name in allowed if name != "kind"]
    close = closest(key, others)
    hint = f"did you mean '{close}'? " if close is not None else ""
    message = f"unknown key '{key}' for kind {kind} ({hint}expected one of {', '.join(others)})"
    return _custom((key,), message, value)


def _custom(loc: tuple[str | int, ...], message: str, value: object) -> InitErrorDetails:
    error = PydanticCustomError(_CUSTOM_TYPE, "{message}", {"message": message})
    return InitErrorDetails(type=error, loc=loc, input=value)


def _detail(error: Any) -> InitErrorDetails:
    """Rebuild one reported error so it can be raised again together with others."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx")
    if error["type"] == _CUSTOM_TYPE or error["type"] in ("value_error", "assertion_error"):
        message = str((ctx or {}).get("message") or (ctx or {}).get("error") or error["msg"])
        return _custom(loc, message, error["input"])
    detail = InitErrorDetails(type=error["type"], loc=loc, input=error["input"])
    if ctx:
        detail["ctx"] = ctx
    return detail
