"""The simulated PLCs of the attack suite: one simulator process, one PLC per gateway.

`python -m simulators -c FILE` serves POOL_SIZE identical slaves on free
ports. Each gateway the suite starts takes a PLC of its own, so no attack on
one gateway (a setpoint written, a connection stalled) reaches another's PLC.
The simulator is a child process: an attack that keeps the test process busy
cannot starve the PLC, and the gateway's poller sees a healthy device.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["POOL_SIZE", "PlcPool"]

#: PLCs served: more than the gateways one run of the suite starts (22).
POOL_SIZE = 32
START_TIMEOUT = 30.0
_SLAVE_LINE = re.compile(r"^\s+plc\d+\s+127\.0\.0\.1:(\d+)\s", re.MULTILINE)


def _points() -> list[dict[str, object]]:
    """A writable float32 setpoint (10.0 at start) and a wave changing every tick."""
    return [
        {
            "name": "setpoint",
            "table": "holding_register",
            "address": 0,
            "type": "float32",
            "value": 10.0,
        },
        {
            "name": "wave",
            "table": "holding_register",
            "address": 2,
            "type": "float32",
            "signal": {"kind": "sawtooth", "low": 0, "high": 100, "period": "3s"},
        },
    ]


def plant(size: int = POOL_SIZE) -> dict[str, object]:
    slaves = [
        {"name": f"plc{index:02d}", "port": 0, "units": [{"unit_id": 1, "points": _points()}]}
        for index in range(size)
    ]
    return {"name": "attack", "tick": "100ms", "slaves": slaves}


class PlcPool:
    """The simulator process and the ports of the PLCs not handed out yet."""

    def __init__(self, folder: Path) -> None:
        plant_file = folder / "plant.yaml"
        plant_file.write_text(json.dumps(plant()), encoding="utf-8")  # JSON is YAML
        self._output = folder / "plant.log"
        with self._output.open("wb") as sink:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "simulators", "-c", str(plant_file)],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            self._ports = self._wait_for_ports()
        except BaseException:
            self.close()
            raise

    def _wait_for_ports(self) -> list[int]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            text = self._output.read_text(errors="replace")
            ports = [int(port) for port in _SLAVE_LINE.findall(text)]
            if len(ports) == POOL_SIZE:
                return ports
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the PLC simulator did not start:\n{text[-3000:]}")
            time.sleep(0.05)  # polling the output of another process

    def take(self) -> int:
        """The port of a PLC no other gateway uses."""
        if self._process.poll() is not None:
            raise RuntimeError(f"the PLC simulator exited:\n{self._output.read_text()[-3000:]}")
        if not self._ports:
            raise RuntimeError(f"all {POOL_SIZE} simulated PLCs are taken: raise POOL_SIZE")
        return self._ports.pop(0)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
