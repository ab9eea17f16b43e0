"""At least once across a crash: `gateway run` killed with -9 while a notification is
pending delivers it after the restart, with the same id; `gateway alarms
--notifications` shows it pending, then sent."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from clientkit import gateway as cli
from gatewaykit import PLC_POINTS, make_plant
from notifykit import Hook, free_port, webhook_receiver
from opcuakit import until

from simulators.runtime import run_plant

pytestmark = pytest.mark.asyncio


def _config(path: Path, port: int, hook: Hook) -> Path:
    path.write_text(
        f"""
gateway: {{name: crash-test}}
opcua: {{anonymous: true, endpoint: "opc.tcp://127.0.0.1:0"}}
storage: {{url: "sqlite:///{path.parent / "g.db"}", flush_interval: 50ms}}
devices:
  - name: plc
    host: 127.0.0.1
    port: {port}
    scan_interval: 100ms
    tags:
      - {{name: temp, table: holding_register, address: 0, type: float32}}
alarms:
  - {{name: temp_high, tag: plc.temp, high: 80, severity: 700}}
notifications:
  channels:
    - {{name: ops-hook, type: webhook, url: "{hook.url}", timeout: 2s}}
  routes:
    - {{alarms: ["temp_*"], to: [ops-hook]}}
  retry_max: 1s
""",
        encoding="utf-8",
    )
    return path


async def _start(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config),
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def test_a_pending_notification_survives_kill_9(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = Hook(free_port())  # down
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        running.slave("plc").unit(1).set("temp", 85.0)
        config = _config(tmp_path / "gw.yaml", running.slave("plc").port, hook)
        process = await _start(config)
        try:

            async def pending_and_tried() -> str | None:
                run = await cli(capsys, "alarms", "-c", str(config), "--notifications")
                if run.code != 0 or "1 pending" not in run.out:
                    return None
                row = run.out.splitlines()[2]
                return row if " pending " in row and "POST http://127.0.0.1" in row else None

            row = await until(pending_and_tried, timeout=20, message="a pending, retried row")
            assert "temp_high" in row
            assert "ops-hook" in row
            process.kill()  # -9: no shutdown, no flush beyond what was committed
            await process.wait()
            async with webhook_receiver(hook):
                process = await _start(config)
                await hook.wait_for(1, timeout=30)
                headers, body = hook.received[0]
                assert (body["alarm"], body["transition"]) == ("temp_high", "activated")
                assert headers["Idempotency-Key"] == body["id"]

                async def all_sent() -> bool:
                    run = await cli(capsys, "alarms", "-c", str(config), "--notifications")
                    return "0 pending, 1 sent, 0 failed" in run.out

                await until(all_sent, timeout=10, message="the row marked sent")
                # Restored, not re-raised: the restart sent nothing new.
                assert len(hook.received) == 1
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
