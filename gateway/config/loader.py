"""Load a YAML file into a frozen model, or fail with every located issue at once.

`load_model` is generic so other file kinds (the simulators' plant files) get
the same file:line: path: message errors; `load_config` adds the gateway's
cross-checks and resolves paths relative to the config file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gateway.collector import collector_paused
from gateway.config.checks import check_config
from gateway.config.models import DeviceConfig, GatewayConfig
from gateway.config.notifications import EmailChannel
from gateway.config.types import FILE_CONTEXT
from gateway.config.validation import Finding, issues_from_validation
from gateway.config.yamlsource import read_yaml
from gateway.errors import ConfigError, ConfigIssue
from gateway.forkedread import ForkedRead

__all__ = [
    "LoadedConfig",
    "load_config",
    "load_model",
    "resolve_sqlite_url",
    "share_repeated_parts",
]

M = TypeVar("M", bound=BaseModel)

_OPCUA_SECTION = frozenset({"opcua"})
_SQLITE_URL = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?):///(?P<rest>.*)", re.DOTALL)


def load_model(
    path: Path,
    model: type[M],
    *,
    checks: Callable[[M], list[Finding]] | None = None,
    environ: Mapping[str, str] | None = None,
    deferred: frozenset[str] = frozenset(),
    one_by_one: tuple[str, type[BaseModel]] | None = None,
    started: ForkedRead | None = None,
) -> tuple[M, list[ConfigIssue]]:
    """Parse `path` into `model`; return it with the warnings, or raise ConfigError.

    YAML problems, schema errors and (when the schema passed) the `checks`
    findings are all collected first, so one run shows every error of the file.
    `environ` replaces os.environ for `${VAR}` (tests, embedding); unset
    variables in the top-level sections `deferred` stay as written.
    `one_by_one` = (key, item model): the items of that top-level list are
    validated one at a time first (see `_validate_items`).
    `started`: a child already reading `path` (read_yaml).
    """
    document = read_yaml(path, environ, deferred=deferred, started=started)
    issues = list(document.issues)
    value: M | None = None
    try:
        with collector_paused():
            if one_by_one is not None:
                _validate_items(document.data, *one_by_one)
            value = model.model_validate(document.data, context=FILE_CONTEXT)
    except ValidationError as exc:
        # A path already blamed by the YAML layer (an unset ${VAR}) needs no second issue.
        blamed = {issue.path for issue in issues}
        issues += [i for i in issues_from_validation(exc, document, model) if i.path not in blamed]
    if value is not None and checks is not None:
        issues += [document.issue(f.path, f.message, warning=f.warning) for f in checks(value)]
    issues.sort(key=lambda issue: issue.line or 0)
    errors = [issue for issue in issues if not issue.warning]
    if errors or value is None:
        raise ConfigError(issues)
    return value, [issue for issue in issues if issue.warning]


def _validate_items(data: object, key: str, item_model: type[BaseModel]) -> None:
    """Replace each item of `data[key]` by its model, one item at a time.

    The file's plain data for 100k tags is about twice the size of their
    models; validated in one call, all of it lives until the last model is
    made, and the heap keeps the holes it leaves (about 120 MB at 100k tags).
    One item at a time, each item's data is freed as its model is made, and
    the next models fill those holes. The whole model then takes the models
    as they are (pydantic does not validate an instance again). An item that
    fails is left as data: the whole model's validation reports it, with the
    same words and lines as before.
    """
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            with contextlib.suppress(ValidationError):
                items[index] = item_model.model_validate(item, context=FILE_CONTEXT)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated gateway configuration, its warnings and where it came from."""

    config: GatewayConfig
    warnings: tuple[ConfigIssue, ...]
    path: Path


def load_config(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    serve_opcua: bool = True,
    started: ForkedRead | None = None,
) -> LoadedConfig:
    """Load a gateway config file (docs/configuration.md) or raise ConfigError listing every issue.

    Relative paths in the file (SQLite database, PKI folder) are made absolute
    against the file's folder, so the gateway behaves the same from any cwd.

    `serve_opcua=False` is for commands that never serve OPC UA (history, alarms,
    db upgrade): they must not need its secrets. An unset `${VAR}` in the `opcua`
    section is then left as written rather than an error, and the section's
    cross-checks and warnings (meant for `run`) are skipped. Such a config must
    never be served: its passwords may be the unexpanded `${VAR}` text.

    `started`: the file already being read in a child (gateway.forkedread), used
    if it reads this very request.
    """
    path = Path(path)
    config, warnings = load_model(
        path,
        GatewayConfig,
        checks=partial(check_config, opcua=serve_opcua),
        environ=environ,
        deferred=frozenset() if serve_opcua else _OPCUA_SECTION,
        one_by_one=("devices", DeviceConfig),
        started=started,
    )
    config = _resolve_paths(config, path.parent.resolve())
    share_repeated_parts(config)
    return LoadedConfig(config, tuple(warnings), path)


def share_repeated_parts(config: GatewayConfig) -> None:
    """Equal parts of the tags as one object each (100k tags: about −75 MB in total).

    pydantic gives every model its own set of the field names the file gave
    (728 bytes for a tag with six keys), and every tag its own copy of a
    repeated unit or range; a plant repeats a handful of each. Sharing is
    safe because config models are frozen: pydantic changes the fields set
    only on attribute assignment, which they refuse, and `model_copy` copies
    it before updating; the values are immutable and equal.
    """
    sets: dict[frozenset[str], set[str]] = {}
    parts: dict[object, object] = {}
    for device in config.devices:
        for tag in device.tags:
            names = tag.__pydantic_fields_set__
            one = sets.setdefault(frozenset(names), names)
            if one is not names:
                object.__setattr__(tag, "__pydantic_fields_set__", one)
            values = tag.__dict__
            for field in ("unit", "range"):
                value = values[field]
                if value is not None:
                    values[field] = parts.setdefault((field, value), value)


def resolve_sqlite_url(url: str, base: Path) -> str:
    """`sqlite:///x.db` → `sqlite:////abs/base/x.db`; memory and absolute URLs unchanged."""
    match = _SQLITE_URL.fullmatch(url)
    if match is None:
        return url
    rest = match["rest"]
    file, sep, query = rest.partition("?")
    if not file or file.startswith((":memory:", "file:")) or Path(file).is_absolute():
        return url
    return f"{match['scheme']}:///{(base / file).as_posix()}{sep}{query}"


def _resolve_paths(config: GatewayConfig, base: Path) -> GatewayConfig:
    storage = config.storage.model_copy(
        update={"url": resolve_sqlite_url(config.storage.url, base)}
    )
    security = config.opcua.security
    security = security.model_copy(update={"pki_dir": base / security.pki_dir})
    opcua = config.opcua.model_copy(update={"security": security})
    channels = tuple(
        channel.model_copy(update={"tls_ca": base / channel.tls_ca})
        if isinstance(channel, EmailChannel) and channel.tls_ca is not None
        else channel
        for channel in config.notifications.channels
    )
    notifications = config.notifications.model_copy(update={"channels": channels})
    return config.model_copy(
        update={"storage": storage, "opcua": opcua, "notifications": notifications}
    )
