"""`browse`, `read`, `write` and `watch`: a small OPC UA client for people without a SCADA.

The commands talk to any OPC UA server and know the gateway's conventions:
NODE may be a gateway name such as `boiler.temperature`. The client lives in
gateway/uaclient/; this module parses options, asks for a password, prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli.common import Commands, positive_float, positive_int
from gateway.errors import ClientError

if TYPE_CHECKING:
    from gateway.uaclient import BrowsedNode, Change, ClientOptions, Event, Reading

__all__ = ["register"]

#: A command's coroutine function, given the parsed arguments and connection options.
ClientCommand = Callable[[argparse.Namespace, "ClientOptions"], Coroutine[Any, Any, int]]
#: Environment variable read for the password when -p is not given.
PASSWORD_ENV = "GATEWAY_PASSWORD"


def _options(args: argparse.Namespace) -> ClientOptions:
    from gateway.uaclient import ClientOptions, default_pki_dir

    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
    if args.user is not None and password is None:
        if not sys.stdin.isatty():
            # Sending an empty password would only come back as "rejected".
            raise ClientError(
                f"no password for user {args.user}: give -p PASSWORD or set "
                f"${PASSWORD_ENV} (it is asked for only on a terminal)"
            )
        try:
            password = getpass.getpass(f"password for {args.user}: ")
        except EOFError:  # Ctrl-D at the prompt
            raise ClientError(f"no password given for user {args.user}") from None
    return ClientOptions(
        url=args.url,
        user=args.user,
        password=password,
        security=args.security,
        certificate=args.cert,
        private_key=args.key,
        pki_dir=args.pki_dir or default_pki_dir(),
        timeout=args.timeout,
        namespace=args.namespace,
    )


def _run(args: argparse.Namespace, command: ClientCommand) -> int:
    """Options (asking for a password) first, then the command on the event loop."""
    from gateway.loop import run

    options = _options(args)
    asyncua = logging.getLogger("asyncua")
    level = asyncua.level
    if args.verbose == 0:
        # asyncua logs every refused login, odd certificate and session timeout it
        # negotiates; the command's own message says what the user needs.
        asyncua.setLevel(logging.CRITICAL)
    try:
        return run(command(args, options))
    finally:
        asyncua.setLevel(level)  # for a caller that goes on (a test, an embedding program)


def _note(text: str) -> None:
    print(text, file=sys.stderr)


#: For other client commands (`gateway alarms shelve`): the same options, run and notes.
run_client = _run
note = _note


def _out(lines: Iterable[str]) -> None:
    """Print to stdout; a reader that went away (`| head`) has what it wanted."""
    try:
        for line in lines:
            print(line, flush=True)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes at exit
        raise _ReaderGone from None


class _ReaderGone(Exception):
    """stdout was closed by its reader: stop quietly."""


# -- browse ---------------------------------------------------------------------------


async def _browse(args: argparse.Namespace, options: ClientOptions) -> int:
    from gateway.uaclient import browse, default_root, open_session

    async with open_session(options, _note) as session:
        root = session.node_id(args.node) if args.node else await default_root(session)
        tree = await browse(session, root, args.depth)
    with contextlib.suppress(_ReaderGone):
        _out("  " * depth + _browse_line(node) for depth, node in tree.walk())
    return 0


def _browse_line(node: BrowsedNode) -> str:
    line = f"{node.name}  {node.node_class}  {node.text}"
    if node.is_variable:
        unit = f" {node.unit}" if node.unit else ""
        line += f"  = {node.value}{unit}  {node.status}"
    return line + ("  …" if node.more else "")


# -- read -----------------------------------------------------------------------------


async def _read(args: argparse.Namespace, options: ClientOptions) -> int:
    from gateway.uaclient import open_session, read

    async with open_session(options, _note) as session:
        readings = await read(session, args.nodes)
    known = [r for r in readings if not r.unknown]
    if known:
        with contextlib.suppress(_ReaderGone):
            _out([_table(known)])
    for reading in readings:
        if reading.unknown:
            print(f"error: unknown node {reading.node}", file=sys.stderr)
    return 1 if len(known) < len(readings) else 0


def _table(readings: list[Reading]) -> str:
    rows = [("NODE", "VALUE", "UNIT", "STATUS", "SOURCE TIME", "TYPE")]
    rows += [
        (r.node, r.value, r.unit or "-", r.status, r.source_time, r.data_type) for r in readings
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# -- write ----------------------------------------------------------------------------


async def _write(args: argparse.Namespace, options: ClientOptions) -> int:
    from gateway.uaclient import open_session, write

    async with open_session(options, _note) as session:
        written = await write(session, args.node, args.value)
    with contextlib.suppress(_ReaderGone):
        _out([f"{written.node} ← {written.value} ({written.data_type}): {written.status}"])
    return 0


# -- watch ----------------------------------------------------------------------------


async def _watch(args: argparse.Namespace, options: ClientOptions) -> int:
    from gateway.uaclient import gateway_tags, open_session, watch

    async with open_session(options, _note) as session:
        if args.nodes:
            nodes = [(text, session.node_id(text)) for text in args.nodes]
        else:
            nodes = [(session.text(n), n) for n in await gateway_tags(session)]
        print(
            f"watching {len(nodes)} node(s){' and events' if args.events else ''} "
            f"on {args.url}; Ctrl-C stops",
            file=sys.stderr,
        )
        # Ctrl-C ends watching cleanly (exit 0) only once watching: while connecting
        # it interrupts at once, as for the other commands (exit 130), instead of
        # being held until the connection attempt times out.
        with _stop_on_sigint() as stop, contextlib.suppress(_ReaderGone):
            await watch(
                session,
                nodes,
                emit=_print_notification,
                interval_ms=args.interval,
                events=args.events,
                count=args.count,
                duration=args.duration,
                stop=stop,
            )
    return 0


@contextlib.contextmanager
def _stop_on_sigint() -> Iterator[asyncio.Event]:
    """An event SIGINT sets while the block runs (where signal handlers can be set)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)  # only in the main thread
    try:
        yield stop
    finally:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)


def _print_notification(item: Change | Event) -> None:
    from gateway.uaclient import Change

    if isinstance(item, Change):
        line = f"{item.time}  {item.node}  {item.value}  {item.status}"
    else:
        states = [
            f"{name}={value}"
            for name, value in (("active", item.active), ("acked", item.acked))
            if value
        ]
        states += [
            mark for mark, on in (("shelved", item.shelved), ("disabled", item.disabled)) if on
        ]
        line = "  ".join(
            part
            for part in (
                item.time,
                f"EVENT {item.source}",
                item.condition,
                item.transition,
                f"severity {item.severity}",
                item.message,
                *states,
            )
            if part
        )
    _out([line])


# -- registration ---------------------------------------------------------------------


class _IntermixedParser(argparse.ArgumentParser):
    """Options anywhere between positionals: `watch URL --count 1 NODE` as users type it.

    argparse's plain parsing binds an optional positional (NODE…) to nothing
    when an option follows URL, then rejects the NODEs as unrecognized.
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def client_parser(commands: Commands, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A parser for a command that connects to a server: URL and the connection options."""
    return _client_parser(commands, name, **kwargs)


def _client_parser(commands: Commands, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, **kwargs)
    parser.__class__ = _IntermixedParser  # the subparsers action builds plain parsers
    _connection_options(parser)
    return parser


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the server, e.g. opc.tcp://localhost:4840")
    group = parser.add_argument_group("connection")
    group.add_argument("-u", "--user", help="user name (default: anonymous)")
    group.add_argument(
        "-p",
        "--password",
        help=f"password (default: ${PASSWORD_ENV}, else asked for on a terminal)",
    )
    group.add_argument(
        "--security",
        metavar="POLICY,MODE",
        help=(
            "endpoint, e.g. Basic256Sha256,SignAndEncrypt or None (default: None if the "
            "server offers it, else its most secure endpoint)"
        ),
    )
    group.add_argument("--cert", type=Path, metavar="FILE", help="client certificate (DER or PEM)")
    group.add_argument("--key", type=Path, metavar="FILE", help="the certificate's private key")
    group.add_argument(
        "--pki-dir",
        type=Path,
        metavar="DIR",
        help="where a client certificate is generated and kept when --cert is not given "
        "(default: ~/.config/modbus-opcua-gateway/pki)",
    )
    group.add_argument(
        "--timeout", type=positive_float, default=5.0, metavar="S", help="request timeout (5 s)"
    )
    group.add_argument(
        "--namespace",
        metavar="URI",
        help="namespace of names like boiler.water_temperature (default: the gateway's)",
    )


def register(commands: Commands) -> None:
    """Add `browse`, `read`, `write` and `watch`."""
    browse = _client_parser(
        commands,
        "browse",
        help="print the OPC UA address space as a tree with values",
        description=(
            "Print the nodes below NODE (default: the gateway's root object) as a tree: "
            "browse name, node class, node id, and for variables value, unit and status."
        ),
    )
    browse.add_argument(
        "node",
        nargs="?",
        metavar="NODE",
        help="start here, e.g. boiler or ns=2;s=Alarms (default: the gateway's root object)",
    )
    browse.add_argument(
        "--depth", type=positive_int, default=4, metavar="N", help="levels shown (4)"
    )
    browse.set_defaults(handler=lambda args: _run(args, _browse))

    read = _client_parser(
        commands,
        "read",
        help="read values with status, source time and data type",
        description="Read NODE values. Exits 1 if a node does not exist.",
    )
    read.add_argument(
        "nodes", nargs="+", metavar="NODE", help="e.g. boiler.water_temperature, ns=2;s=…, i=2258"
    )
    read.set_defaults(handler=lambda args: _run(args, _read))

    write = _client_parser(
        commands,
        "write",
        help="write a value (converted to the node's data type)",
        description=(
            "Write VALUE to NODE. The text is converted to the node's data type "
            "(true/false/1/0 for Boolean, range-checked whole numbers, floats). Exits 1 "
            "with the server's result code when the write is refused."
        ),
    )
    write.add_argument("node", metavar="NODE", help="a variable, e.g. boiler.temperature_setpoint")
    write.add_argument("value", metavar="VALUE", help="the value as text, e.g. 85, true, BATCH-7")
    write.set_defaults(handler=lambda args: _run(args, _write))

    watch = _client_parser(
        commands,
        "watch",
        help="print data changes and alarm events until Ctrl-C",
        description=(
            "Subscribe to NODEs (default: every tag of the gateway) and to events of the "
            "Server object (alarms), printing one line per change. The current value of "
            "each node is printed first and not counted by --count."
        ),
    )
    watch.add_argument(
        "nodes",
        nargs="*",
        metavar="NODE",
        help="e.g. boiler.water_temperature (default: every tag)",
    )
    watch.add_argument(
        "--interval", type=positive_float, default=500.0, metavar="MS",
        help="publishing interval (500 ms)",
    )  # fmt: skip
    watch.add_argument("--duration", type=positive_float, metavar="S", help="stop after S s")
    watch.add_argument("--count", type=positive_int, metavar="N", help="stop after N changes")
    watch.add_argument("--no-events", dest="events", action="store_false", help="data changes only")
    watch.set_defaults(handler=lambda args: _run(args, _watch))
