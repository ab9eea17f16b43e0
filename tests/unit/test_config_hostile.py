"""Hostile or unlucky files: bounded before they are built, refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.yamlbounds import MAX_ALIAS_NODES
from gateway.config.yamlbuild import MAX_DEPTH
from gateway.errors import ConfigError

HEAD = "gateway: {name: g}\nopcua: {anonymous: true}\n"


def laughs(levels: int, width: int, *, top: str = "devices") -> str:
    """A "billion laughs": each anchor repeats the previous one `width` times."""
    lines = [HEAD.rstrip("\n"), "x-l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"x-l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines.append(f"{top}: [*l{levels - 1}]")
    return "\n".join(lines) + "\n"


def refused(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    return caught.value


@pytest.mark.timeout(60)
def test_a_billion_laughs_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    text = laughs(levels=9, width=10)  # 10⁹ "lol"s from a few hundred bytes
    assert len(text) < 13_000
    error = refused(tmp_path, text)
    (issue,) = error.issues
    assert issue.line == 11  # x-l8, the anchor that repeats *l7
    assert issue.path == "devices[0]"
    assert "aliases (*name) would expand this to" in issue.message
    assert f"more than the {MAX_ALIAS_NODES:,} allowed" in issue.message


def test_an_expansion_just_past_the_bound_is_refused_even_where_it_would_be_ignored(
    tmp_path: Path,
) -> None:
    """Under an unknown key the data would only earn an "unknown key" error: too late."""
    row = "x-row: &row [" + ", ".join(str(n) for n in range(100)) + "]"
    block = "x-block: &block [" + ", ".join(["*row"] * 100) + "]"
    bomb = "bomb: [" + ", ".join(["*block"] * 120) + "]"  # 120 × 10,101 nodes
    error = refused(tmp_path, f"{HEAD}{row}\n{block}\n{bomb}\n")
    (issue,) = error.issues
    assert (issue.line, issue.path) == (5, "bomb")
    assert "aliases (*name) would expand this to 1,212,121 values" in issue.message


def test_reusing_a_tag_list_for_many_devices_is_fine(tmp_path: Path) -> None:
    tags = ", ".join(
        f"{{name: t{n}, table: holding_register, address: {n}, type: int16}}" for n in range(200)
    )
    devices = "\n".join(f"  - {{name: d{n}, host: h{n}, tags: *tags}}" for n in range(40))
    path = tmp_path / "plant.yaml"
    path.write_text(f"{HEAD}x-tags: &tags [{tags}]\ndevices:\n{devices}\n", encoding="utf-8")
    config = load_config(path).config
    assert [len(device.tags) for device in config.devices] == [200] * 40


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(HEAD + "devices: " + "[" * 999 + "]" * 999 + "\n", 3, id="flow-lists"),
        pytest.param(
            HEAD
            + "".join(f"x-n{i}: &n{i} [*n{i - 1}]\n" for i in range(1, 300)).replace("*n0", "1")
            + "devices: *n299\n",
            3 + 299 - MAX_DEPTH,
            id="alias-chain",
        ),
        pytest.param(
            HEAD
            + "x-m0: &m0 {port: 1}\n"
            + "".join(f"x-m{i}: &m{i} {{<<: *m{i - 1}}}\n" for i in range(1, 300))
            + "devices: [{<<: *m299, name: d, host: h}]\n",
            4 + 299 - (MAX_DEPTH - 2),
            id="merge-chain",
        ),
    ],
)
def test_deep_nesting_is_an_error_not_a_recursion_error(
    tmp_path: Path, text: str, line: int
) -> None:
    error = refused(tmp_path, text)
    (issue,) = error.issues
    assert issue.message == f"nested more than {MAX_DEPTH} levels deep"
    assert issue.path.startswith("devices[0]")
    assert issue.line == line
