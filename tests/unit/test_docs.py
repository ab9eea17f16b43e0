"""The documentation stays true: the generated configuration reference is current,
every config key is described, and every relative link in README.md and docs/ resolves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.config import GatewayConfig, load_config
from gateway.config.reference import REGENERATE, render, sections
from gateway.config.reference_text import DATA_TYPES, INPUT_ONLY_KEYS
from gateway.model import DataType, Status

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "configuration.md"
MARKDOWN = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def test_configuration_reference_is_current() -> None:
    current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert current == render(), (
        f"{REFERENCE.relative_to(ROOT)} is stale: the config models changed. "
        f"Regenerate it from the repository root with: {REGENERATE}"
    )


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    seen.add(model)
    for field in model.model_fields.values():
        for child in _nested(field.annotation):
            if child not in seen:
                _models(child, seen)


def _nested(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _nested(arg)
    return found


def all_models() -> list[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    _models(GatewayConfig, seen)
    return sorted(seen, key=lambda m: m.__name__)


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.__name__)
def test_every_config_field_has_a_description(model: type[BaseModel]) -> None:
    undocumented = [
        name for name, field in model.model_fields.items() if not (field.description or "").strip()
    ]
    assert not undocumented, (
        f"{model.__name__} fields without Field(description=...): {', '.join(undocumented)}; "
        f"add one, then regenerate docs/configuration.md with: {REGENERATE}"
    )
    assert (model.__doc__ or "").strip(), f"{model.__name__} needs a docstring (its section intro)"
    extra = getattr(model, "input_only_keys", ())
    missing = [key for key in extra if key not in INPUT_ONLY_KEYS.get(model.__name__, {})]
    assert not missing, f"{model.__name__}: describe {missing} in reference_text.INPUT_ONLY_KEYS"


def test_every_key_appears_once_with_type_and_default() -> None:
    keys = [key for section in sections() for key in section.keys]
    paths = [key.path for key in keys]
    assert len(paths) == len(set(paths))
    assert "devices[].tags[].word_order" in paths
    assert "devices[].tags[].ref" in paths
    assert "opcua.users[].password" in paths
    for key in keys:
        assert key.type
        assert key.default
        assert key.description


def test_reference_shows_types_and_defaults_people_write() -> None:
    keys = {key.path: key for section in sections() for key in section.keys}
    assert keys["storage.retention"].default == "`30d`"
    assert keys["storage.retention"].type == "duration, > 0"
    assert keys["alarms[].delay"].type == "duration, ≥ 0"
    assert keys["devices[].port"].type == "integer, 1..65535"
    assert keys["devices[].timeout"].default == "`1s`"
    assert keys["devices[].word_order"].type == "one of `big`, `little`"
    assert keys["devices[].tags[].name"].default == "**required**"
    assert keys["opcua.security.modes"].default == "`[SignAndEncrypt]`"


def test_every_data_type_is_described() -> None:
    assert set(DATA_TYPES) == {data_type.value for data_type in DataType}


def test_the_complete_example_in_the_reference_is_valid(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("## A complete example", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "gateway.yaml"
    path.write_text(example, encoding="utf-8")
    loaded = load_config(path, environ={"GATEWAY_OPERATOR_PASSWORD": "s3cret"})
    assert not loaded.warnings
    assert loaded.config.device("boiler") is not None


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for heading in _HEADING.findall(text):
        slug = _slug(heading)
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    text = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return _LINK.findall(text)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, opc.tcp:
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no file {destination}")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading with anchor #{anchor} in {destination.name}")
    assert not broken, f"broken links in {path.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_docs_index_lists_every_page() -> None:
    index = DOCS / "README.md"
    listed = {Path(target.partition("#")[0]).name for target in links(index)}
    pages = {page.name for page in DOCS.glob("*.md") if page.name != "README.md"}
    assert not pages - listed, f"docs/README.md does not link {sorted(pages - listed)}"


def test_slugs_follow_github() -> None:
    assert _slug("Finding the byte and word order") == "finding-the-byte-and-word-order"
    assert _slug("`devices[].tags[]`") == "devicestags"
    assert _slug("Values and status codes (DESIGN.md §7)") == "values-and-status-codes-designmd-7"


def _enum_name(status_text: str) -> str:
    words = re.findall(r"[A-Z][a-z0-9]*", status_text.replace("_", ""))
    return "_".join(word.upper() for word in words)


def test_status_code_values_in_the_opcua_docs_match_the_code() -> None:
    text = (DOCS / "opcua.md").read_text(encoding="utf-8")
    pairs = re.findall(r"\| (\w+) \| `(0x[0-9A-F]{8})` ", text)
    documented = {_enum_name(name): int(value, 16) for name, value in pairs}
    assert documented == {status.name: status.value for status in Status}


def test_the_generator_command_writes_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.config.reference import main

    output = tmp_path / "configuration.md"
    assert main(["--check", "--output", str(output)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["--write", "--output", str(output)]) == 0
    assert main(["--check", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == render()
    assert main([]) == 0
    assert capsys.readouterr().out == render()


_SH_FENCE = re.compile(r"^```(?:sh|bash|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMMAND = re.compile(r"^gateway\s+([a-z][a-z-]*)")


def _documented_commands(path: Path) -> set[str]:
    """Subcommands in ```sh lines and in inline code that starts with `gateway `."""
    text = path.read_text(encoding="utf-8")
    spans = [span.strip("`") for span in _CODE_SPAN.findall(_FENCE.sub("", text))]
    invocations = [*_shell_lines(path), *spans]
    return {m.group(1) for line in invocations if (m := _COMMAND.match(line))}


def _shell_lines(path: Path) -> list[str]:
    """`gateway …` invocations in ```sh blocks, comments and `&&` chains split off."""
    lines = []
    for block in _SH_FENCE.findall(path.read_text(encoding="utf-8")):
        for raw in block.splitlines():
            line = re.sub(r"\s+#.*$", "", raw).strip()
            parts = [part.strip() for part in line.split("&&")]
            lines += [part for part in parts if part.startswith("gateway ")]
    return lines


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_commands_exist(path: Path) -> None:
    from gateway.cli import _attach_relative_times, build_parser

    parser = build_parser()
    commands = next(
        action.choices for action in parser._actions if isinstance(action.choices, dict)
    )
    unknown = _documented_commands(path) - set(commands)
    assert not unknown, f"{path.name} documents commands the CLI lacks: {sorted(unknown)}"
    for line in _shell_lines(path):
        try:  # as main() parses: `--since -5m` is a value, not an option
            parser.parse_args(_attach_relative_times(shlex.split(line)[1:]))
        except SystemExit as exit:  # --help and --version exit 0
            if exit.code != 0:
                pytest.fail(f"{path.name}: `{line}` is not accepted by the CLI (exit {exit.code})")


def test_plc_guide_register_layouts_match_the_codec() -> None:
    from gateway.codec import Encoding, encode
    from gateway.model import ByteOrder, WordOrder

    text = (DOCS / "plc-guide.md").read_text(encoding="utf-8")
    rows = re.findall(r"\| [A-D]{4} \((\w+), (\w+)\) \| `(0x\w+)` \| `(0x\w+)` \|", text)
    assert len(rows) == 4
    for byte_order, word_order, first, second in rows:
        encoding = Encoding(DataType.FLOAT32, ByteOrder(byte_order), WordOrder(word_order))
        assert encode(123.456, encoding) == [int(first, 16), int(second, 16)]


def test_the_quickstart_sets_the_passwords_before_it_checks_the_file() -> None:
    """Its own configuration has no default passwords: `check` fails until they are set."""
    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    own = text[text.index("## 5. Your own configuration") :]
    for variable in ("GATEWAY_OPERATOR_PASSWORD", "GATEWAY_VIEWER_PASSWORD"):
        assert own.index(f"read -rs {variable}") < own.index("gateway check -c plant.yaml")
    assert own.index("gateway check -c plant.yaml") < own.index("gateway run -c plant.yaml")


def _help_texts() -> list[str]:
    """`gateway --help` and every subcommand's (and sub-subcommand's) help text."""
    import argparse

    from gateway.cli import build_parser

    texts, parsers = [], [build_parser()]
    while parsers:
        parser = parsers.pop()
        texts.append(parser.format_help())
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return texts


def test_docs_and_help_never_cite_the_design_document() -> None:
    """DESIGN.md is not in the repository: what users need from it is in docs/."""
    cited = re.compile(r"DESIGN(\.md)?\s*§|DESIGN\.md")
    for path in MARKDOWN:
        assert not cited.search(path.read_text(encoding="utf-8")), path.name
    helps = _help_texts()
    assert len(helps) > 10
    for text in helps:
        assert not cited.search(text), text.splitlines()[0]


def _packages_and_modules() -> set[str]:
    """Every sub-package and top-level module of gateway/, and simulators/, as paths."""
    found = {"simulators/"}
    for path in sorted((ROOT / "gateway").iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(f"gateway/{path.name}/")
        elif path.suffix == ".py" and path.name != "__init__.py":
            found.add(f"gateway/{path.name}")
    return found


def test_the_module_map_covers_every_package_and_module() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("## Module map") :]
    table = table[: table.index("\n## ")]
    rows = " ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `"))
    missing = [name for name in sorted(_packages_and_modules()) if f"`{name}" not in rows]
    assert not missing, f"docs/architecture.md's module map lacks {missing}"
