"""The committed Sparkplug B classes are what protoc makes of the committed schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "gateway" / "mqtt" / "sparkplug"


def test_generated_classes_match_the_schema(tmp_path: Path) -> None:
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools (the test extra)")
    shutil.copy(SCHEMA_DIR / "sparkplug_b.proto", tmp_path / "sparkplug_b.proto")
    code = protoc.main(
        [
            "protoc",
            f"-I{tmp_path}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(tmp_path / "sparkplug_b.proto"),
        ]
    )
    assert code == 0
    for name in ("sparkplug_b_pb2.py", "sparkplug_b_pb2.pyi"):
        fresh = (tmp_path / name).read_text()
        committed = (SCHEMA_DIR / name).read_text()
        # The header names the protoc version: a newer grpcio-tools is no schema change.
        assert _body(fresh) == _body(committed), (
            f"{name} is stale: regenerate it (the command is in sparkplug_b.proto)"
        )


def _body(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if not line.startswith("# Protobuf Python Version")
        and "_runtime_version.Domain.PUBLIC" not in line
        and not line.strip().rstrip(",").isdigit()
    ]


def test_field_numbers_of_the_wire_format() -> None:
    """A few facts of the Sparkplug B 3.0 payload chapter, checked on the descriptors."""
    from gateway.mqtt.sparkplug import sparkplug_b_pb2 as pb

    metric = pb.Payload.Metric.DESCRIPTOR.fields_by_name
    assert {name: metric[name].number for name in ("name", "alias", "timestamp", "datatype")} == {
        "name": 1,
        "alias": 2,
        "timestamp": 3,
        "datatype": 4,
    }
    assert metric["is_historical"].number == 5
    assert metric["is_null"].number == 7
    assert metric["properties"].number == 9
    assert metric["int_value"].number == 10
    assert metric["long_value"].number == 11
    assert metric["string_value"].number == 15
    payload = pb.Payload.DESCRIPTOR.fields_by_name
    assert (payload["timestamp"].number, payload["metrics"].number, payload["seq"].number) == (
        1,
        2,
        3,
    )
