"""`gateway bench storage` runs end to end and reports both insert paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from storagekit import POSTGRES_ENV

from gateway.cli import main


def test_bench_storage_reports_batch_and_naive_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "storage.json"
    args = ["bench", "storage", "--rows", "3000", "--tags", "50", "--batch", "1000"]
    args += ["--runs", "1", "--naive-rows", "300", "--json", str(out)]
    postgres = os.environ.get(POSTGRES_ENV)
    if postgres:
        args += ["--postgres", postgres]
    assert main(args) == 0
    assert "sqlite batch insert" in capsys.readouterr().out
    figures = {f["name"]: f for f in json.loads(out.read_text(encoding="utf-8"))["figures"]}
    dialects = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    for name in dialects:
        assert figures[f"{name} batch insert"]["median"] > 0
        assert figures[f"{name} one INSERT per row"]["median"] > 0
        assert figures[f"{name} batch insert"]["target"].startswith("≥")
