"""Storage keys of the configuration: defaults, per-tag modes, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import StorageMode, load_config
from gateway.errors import ConfigError


def _load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "gw.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [
        str(issue).removeprefix(f"{tmp_path}/")
        for issue in caught.value.issues
        if not issue.warning
    ]


def test_defaults_are_sensible(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "gateway: {name: g}\nopcua: {anonymous: true}\n"
        "devices: [{name: d, host: h, tags: [{name: t, ref: 40001, type: uint16}]}]\n",
        encoding="utf-8",
    )
    config = load_config(path).config
    storage = config.storage
    assert storage.url == f"sqlite:///{tmp_path / 'gateway.db'}"
    assert (storage.batch_size, storage.buffer_limit) == (50_000, 1_000_000)
    assert (storage.flush_interval, storage.retry_min, storage.retry_max) == (1.0, 0.5, 30.0)
    assert config.devices[0].tags[0].storage is StorageMode.ON_CHANGE


def test_inconsistent_storage_settings_are_located(tmp_path: Path) -> None:
    issues = _load(
        tmp_path,
        "gateway: {name: g}\nopcua: {anonymous: true}\n"
        "storage:\n  batch_size: 500\n  buffer_limit: 100\n  retry_min: 5s\n  retry_max: 1s\n",
    )
    assert any(
        "gw.yaml:5: storage.buffer_limit: must be at least batch_size (500)" in i for i in issues
    )
    assert any("storage.retry_max: must be at least retry_min (5s)" in i for i in issues)


def test_sampled_needs_an_interval_and_only_sampled_takes_one(tmp_path: Path) -> None:
    issues = _load(
        tmp_path,
        "gateway: {name: g}\nopcua: {anonymous: true}\n"
        "devices:\n  - name: d\n    host: h\n    tags:\n"
        "      - {name: a, ref: 40001, type: uint16, storage: sampled}\n"
        "      - {name: b, ref: 40002, type: uint16, sample_interval: 5s}\n"
        "      - {name: c, ref: 40003, type: uint16, storage: sampeld}\n",
    )
    assert issues == [
        "gw.yaml:7: devices[0].tags[0].sample_interval: storage: sampled needs a sample_interval",
        "gw.yaml:8: devices[0].tags[1].sample_interval: "
        "sample_interval needs storage: sampled, not on_change",
        "gw.yaml:9: devices[0].tags[2].storage: 'sampeld' is not one of on_change, every_scan, "
        "sampled (did you mean 'sampled'?)",
    ]
