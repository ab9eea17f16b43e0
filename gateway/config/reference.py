"""The configuration reference (docs/configuration.md), generated from the models.

Every key's path, type, default and description come from the frozen models
of this package (descriptions from `Field(description=...)`), so the reference
cannot drift from what the loader accepts; the prose around the tables is in
`reference_text.py`. A unit test fails when docs/configuration.md is stale.

    python -m gateway.config.reference > docs/configuration.md
    python -m gateway.config.reference --write     # the same, into docs/configuration.md
    python -m gateway.config.reference --check     # exit 1 when the file is stale
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gateway.config.models import GatewayConfig
from gateway.config.reference_text import (
    DATA_TYPES,
    FOOTER,
    HEADER,
    INPUT_ONLY_KEYS,
    SECTION_INTROS,
)
from gateway.config.types import Duration, NonNegativeDuration, validate_name
from gateway.model import DataType

__all__ = [
    "DEFAULT_OUTPUT",
    "REGENERATE",
    "KeyDoc",
    "SectionDoc",
    "format_duration",
    "main",
    "render",
    "sections",
]

#: Where the reference lives in the source tree, relative to its root.
DEFAULT_OUTPUT = Path("docs/configuration.md")
#: The command that rewrites it, stated at the top of the file and by the stale test.
REGENERATE = "python -m gateway.config.reference > docs/configuration.md"

_DURATION_META = get_args(Duration)[1:]
_NON_NEGATIVE_DURATION_META = get_args(NonNegativeDuration)[1:]
_DURATION_UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))


@dataclass(frozen=True, slots=True)
class KeyDoc:
    """One key of the reference: where it is, what it takes, and what it means."""

    path: str  # devices[].tags[].word_order
    type: str
    default: str  # "required", or the default as written in a file
    description: str


@dataclass(frozen=True, slots=True)
class SectionDoc:
    """One mapping of the file (the top level, `opcua.security`, `devices[]`…)."""

    path: str  # "" for the top level
    intro: str
    keys: tuple[KeyDoc, ...]


def sections(model: type[BaseModel] = GatewayConfig, path: str = "") -> Iterator[SectionDoc]:
    """Every section of `model`, depth first in field order (the order of a config file)."""
    keys: list[KeyDoc] = []
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name  # aliases: `from` (a Python keyword), `json` (BaseModel.json)
        key_path = f"{path}.{key}" if path else key
        variants = _tagged_variants(field.annotation)
        if variants:  # a list of mappings told apart by `type:` (notification channels)
            links = ", ".join(f"[`{tag}`](#{_anchor(f'{key_path}[{tag}]')})" for tag, _ in variants)
            text = f"list of mappings, by `type`: {links}"
            keys.append(KeyDoc(key_path, text, _default_text(field), _description(field)))
            nested.extend((child, f"{key_path}[{tag}]") for tag, child in variants)
            continue
        child, is_list = _nested_model(field.annotation)
        if child is not None:
            child_path = f"{key_path}[]" if is_list else key_path
            nested.append((child, child_path))
        type_text = _type_text(field)
        if child is not None:
            link = f"[`{child_path}`](#{_anchor(child_path)})"
            type_text = f"list of mappings, see {link}" if is_list else f"mapping, see {link}"
        keys.append(KeyDoc(key_path, type_text, _default_text(field), _description(field)))
    for key, (type_text, description) in INPUT_ONLY_KEYS.get(model.__name__, {}).items():
        keys.append(KeyDoc(f"{path}.{key}" if path else key, type_text, "unset", description))
    yield SectionDoc(path, SECTION_INTROS.get(path) or _intro(model), tuple(keys))
    for child, child_path in nested:
        yield from sections(child, child_path)


def render() -> str:
    """The whole of docs/configuration.md."""
    parts = [HEADER.replace("@@REGENERATE@@", REGENERATE).rstrip(), ""]
    for section in sections():
        title = f"`{section.path}`" if section.path else "Top level"
        parts += [f"### {title}", "", section.intro, "", *_table(section.keys), ""]
    parts.append(FOOTER.replace("@@DATA_TYPES@@", "\n".join(_data_types())).rstrip())
    return "\n".join(parts) + "\n"


def _data_types() -> list[str]:
    """The data type table: register counts from the model, meanings from the prose."""
    lines = ["| type | registers | holds |", "|---|---|---|"]
    for data_type in DataType:
        count = "`length`" if data_type is DataType.STRING else str(data_type.register_count())
        lines.append(f"| `{data_type.value}` | {count} | {_cell(DATA_TYPES[data_type.value])} |")
    return lines


def _table(keys: Sequence[KeyDoc]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += [
        f"| `{k.path}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.description)} |"
        for k in keys
    ]
    return lines


def _anchor(path: str) -> str:
    """The Markdown anchor of a section heading such as `devices[].tags[]`."""
    return "".join(char for char in path.lower() if char.isalnum() or char in "_-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _intro(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").strip().split("\n\n", 1)[0].split())


def _description(field: FieldInfo) -> str:
    return " ".join((field.description or "").split())


# --------------------------------------------------------------------------- types


def _strip_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
        return Union[tuple(args)]  # noqa: UP007 - rebuilt from a runtime tuple
    return annotation


def _split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return base, tuple(metadata)
    return annotation, ()


def _tagged_variants(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """(type value, model) of a list of a union of models with a `type: Literal[...]` key."""
    if get_origin(annotation) not in (tuple, list):
        return []
    args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
    if len(args) != 1:
        return []
    union, _ = _split_annotated(args[0])
    if get_origin(union) not in (Union, types.UnionType):
        return []
    variants = []
    for member in get_args(union):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            return []
        tag = member.model_fields.get("type")
        values = get_args(tag.annotation) if tag is not None else ()
        if len(values) != 1:
            return []
        variants.append((str(values[0]), member))
    return variants


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (a section) or lists, and whether it is a list."""
    annotation = _strip_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) in (tuple, list):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0], True
    return None, False


def _type_text(field: FieldInfo) -> str:
    base, metadata = _split_annotated(_strip_none(field.annotation))
    return _describe(base, (*field.metadata, *metadata))


def _describe(annotation: Any, metadata: tuple[Any, ...]) -> str:
    if _has_all(metadata, _DURATION_META):
        return "duration, > 0"
    if _has_all(metadata, _NON_NEGATIVE_DURATION_META):
        return "duration, ≥ 0"
    if any(getattr(item, "func", None) is validate_name for item in metadata):
        return "name"
    bounds = _bounds(metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (section below)"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg, ()) for arg in get_args(annotation))
    if origin in (tuple, list):
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = _strip_none(args[0])
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return "list of mappings (below)"
            if isinstance(inner, type) and issubclass(inner, enum.Enum):
                return "list of " + ", ".join(f"`{member.value}`" for member in inner)
            return f"list of {_describe(*_split_annotated(inner))}"
        return "[" + ", ".join(_describe(arg, ()) for arg in args) + "]"
    simple = _SIMPLE.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return f"{simple}, {bounds}" if bounds else simple


_SIMPLE: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "text",
    SecretStr: "text (secret)",
    Path: "path",
}


def _has_all(metadata: tuple[Any, ...], wanted: tuple[Any, ...]) -> bool:
    return bool(wanted) and all(any(item is w for item in metadata) for w in wanted)


def _bounds(metadata: tuple[Any, ...]) -> str:
    low = high = None
    text: list[str] = []
    for item in metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Le):
            high = item.le
        elif isinstance(item, Gt):
            text.append(f"> {item.gt}")
        elif isinstance(item, Lt):
            text.append(f"< {item.lt}")
        elif isinstance(item, MinLen) and item.min_length == 1:
            text.append("not empty")
    if low is not None and high is not None:
        text.insert(0, f"{low}..{high}")
    elif low is not None:
        text.insert(0, f"≥ {low}")
    elif high is not None:
        text.insert(0, f"≤ {high}")
    return ", ".join(text)


# --------------------------------------------------------------------------- defaults


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "all defaults"
    metadata = tuple(field.metadata)
    is_duration = _has_all(metadata, _DURATION_META) or _has_all(
        metadata, _NON_NEGATIVE_DURATION_META
    )
    if is_duration and isinstance(value, int | float):
        return f"`{format_duration(value)}`"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, int):
        return str(value)
    return repr(value)


def format_duration(seconds: float) -> str:
    """Seconds as the largest whole unit a config file would use: 2592000 → `30d`."""
    if seconds == 0:
        return "0s"
    for unit, size in _DURATION_UNITS:
        count = seconds / size
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)}{unit}"
    return f"{seconds:g}s"


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Print the reference, write it (`--write`) or check a file is current (`--check`)."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway.config.reference", description=__doc__.split("\n\n")[0]
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {DEFAULT_OUTPUT}")
    action.add_argument(
        "--check", action="store_true", help=f"exit 1 when {DEFAULT_OUTPUT} is stale"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="file for --write and --check"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.output.write_text(text, encoding="utf-8")
    elif args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; regenerate it with: {REGENERATE}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
