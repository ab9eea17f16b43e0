"""The C reference for `bench modbus`: a libmodbus slave and client, compiled at bench time.

A performance target (docs/performance.md) compares one connection of our
client with "a libmodbus C client on the same slave". libmodbus (Debian:
`apt-get install libmodbus-dev`) is the reference C implementation; two small
programs are compiled with gcc into a scratch folder:

- a slave (`modbus_receive` / `modbus_reply`, 10,000 holding registers) that
  answers in microseconds, so neither client measures the slave;
- a client that reads 125 registers back to back on one connection for N
  seconds and prints requests, elapsed seconds, errors and its own CPU.

mbpoll was considered as the client and not taken: it is made for
interactive polling (a poll period, every value printed), so its rate would
measure its pacing and printing rather than one connection's round trips.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CBuild", "CClientResult", "build", "run_c_client", "skip_reason"]

_SLAVE = r"""
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

int main(void) {
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", 0);
    modbus_mapping_t *map = modbus_mapping_new(0, 0, 10000, 0);
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    int server = modbus_tcp_listen(ctx, 4);
    if (ctx == NULL || map == NULL || server < 0) { perror("listen"); return 1; }
    for (int i = 0; i < 10000; i++) map->tab_registers[i] = (uint16_t)i;
    getsockname(server, (struct sockaddr *)&address, &length);
    printf("LISTENING %d\n", ntohs(address.sin_port));
    fflush(stdout);
    for (;;) {  /* one connection at a time, as long as the bench runs */
        if (modbus_tcp_accept(ctx, &server) < 0) continue;
        for (;;) {
            int rc = modbus_receive(ctx, query);
            if (rc > 0) modbus_reply(ctx, query, rc, map);
            else if (rc < 0) break;
        }
        close(modbus_get_socket(ctx));
    }
}
"""

_CLIENT = r"""
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: client HOST PORT SECONDS COUNT\n"); return 2; }
    modbus_t *ctx = modbus_new_tcp(argv[1], atoi(argv[2]));
    double seconds = atof(argv[3]);
    int count = atoi(argv[4]);
    uint16_t registers[125];
    long requests = 0, errors = 0;
    if (ctx == NULL || modbus_connect(ctx) < 0) { perror("connect"); return 1; }
    double start = now(), elapsed = 0;
    while ((elapsed = now() - start) < seconds) {
        if (modbus_read_registers(ctx, 0, count, registers) == count) requests++;
        else errors++;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
               + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("%ld %.6f %ld %.6f\n", requests, elapsed, errors, cpu);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
"""


@dataclass(frozen=True, slots=True)
class CBuild:
    slave: Path
    client: Path


@dataclass(frozen=True, slots=True)
class CClientResult:
    requests: int
    seconds: float
    errors: int
    cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _flags() -> list[str]:
    pkg_config = shutil.which("pkg-config")
    if pkg_config:
        command = [pkg_config, "--cflags", "--libs", "libmodbus"]
        found = subprocess.run(command, check=False, capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.split()
    return ["-I/usr/include/modbus", "-lmodbus"]


def skip_reason() -> str | None:
    """Why the C reference cannot be built here, or None."""
    if shutil.which("gcc") is None:
        return "gcc not found (apt-get install gcc)"
    if not any(
        Path(p, "modbus", "modbus.h").exists() for p in ("/usr/include", "/usr/local/include")
    ):
        return "libmodbus headers not found (apt-get install libmodbus-dev)"
    return None


def build(folder: Path) -> CBuild:
    """Compile the slave and the client into `folder`; raises RuntimeError with gcc's output."""
    out = CBuild(folder / "mbslave", folder / "mbclient")
    for source, binary in ((_SLAVE, out.slave), (_CLIENT, out.client)):
        c_file = binary.with_suffix(".c")
        c_file.write_text(source, encoding="utf-8")
        done = subprocess.run(
            ["gcc", "-O2", "-o", str(binary), str(c_file), *_flags()],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"gcc failed for {c_file.name}:\n{done.stderr}")
    return out


async def run_c_client(binary: Path, host: str, port: int, seconds: float) -> CClientResult:
    """One run of the C client in its own process."""
    process = await asyncio.create_subprocess_exec(
        str(binary), host, str(port), str(seconds), "125",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"the C client failed: {err.decode().strip()}")
    requests, elapsed, errors, cpu = out.split()
    return CClientResult(int(requests), float(elapsed), int(errors), float(cpu))
