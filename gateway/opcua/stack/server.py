"""The OPC UA server: asyncua's address space and services behind the gateway's own
transport, sessions and guards.

asyncua's defaults are open (a None endpoint, any user, an "admin" user with
admin rights, 100 MB messages, hour-long sessions) and its transport,
session handling and subscription services trusted their clients (issue 14).
`StackServer` keeps asyncua for what it does well (the standard address
space, encoding, security policies and crypto, the publishing cycle) and
replaces the rest: the listener creates `Connection`s (connection.py) in the
server's own TaskGroup; sessions, subscriptions and monitored items are the
guarded ones of this package; writes, method calls, history and per-user
access go to the gateway's `Hooks`. `serving()` is the lifecycle: entering
starts listening, leaving closes every connection and subscription and
stops asyncua's internal server.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from asyncua import ua
from asyncua.server.address_space import NodeData
from asyncua.server.internal_server import InternalServer
from asyncua.server.server import Server

from gateway.errors import GatewayError
from gateway.lifecycle import task_group
from gateway.opcua.guards import ConnectionTable, FaultLog, LoginThrottle, ServerLimits
from gateway.opcua.pki import TrustList
from gateway.opcua.stack import gate
from gateway.opcua.stack.browse import Browser
from gateway.opcua.stack.connection import Connection
from gateway.opcua.stack.context import StackContext
from gateway.opcua.stack.events import EventSink
from gateway.opcua.stack.hooks import Hooks, ServerStats
from gateway.opcua.stack.monitored import store
from gateway.opcua.stack.nodes import NodeFactory
from gateway.opcua.stack.properties import install, nodes_of
from gateway.opcua.stack.sessions import SessionRegistry
from gateway.opcua.stack.shelf import ShelfPlace, ShelvedNodes
from gateway.opcua.stack.subscriptions import Subscriptions
from gateway.opcua.stack.tree import NodeTree
from gateway.opcua.users import Users
from gateway.ua.wire import AttributeIds, ObjectIds, node_id

__all__ = ["StackServer"]

log = logging.getLogger(__name__)
_faults = logging.getLogger("gateway.opcua.clients")

#: Seconds between two sweeps for idle sessions.
SWEEP_INTERVAL = 1.0
#: asyncua loggers whose lines describe client behaviour (expired subscriptions,
#: every request): the gateway logs what matters itself.
_CHATTY = ("asyncua.server", "asyncua.uaprotocol", "asyncua.common")

_OPERATION_LIMITS_NODE = "Server_ServerCapabilities_OperationLimits"
#: ServerCapabilities/OperationLimits/<name> → the ServerLimits field it shows ("": 0).
_OPERATION_LIMITS: dict[str, str] = {
    "MaxNodesPerRead": "max_nodes_per_read",
    "MaxNodesPerWrite": "max_nodes_per_write",
    "MaxNodesPerBrowse": "max_nodes_per_browse",
    "MaxNodesPerMethodCall": "max_nodes_per_method_call",
    "MaxNodesPerHistoryReadData": "max_nodes_per_history_read",
    "MaxNodesPerRegisterNodes": "max_nodes_per_register",
    "MaxNodesPerTranslateBrowsePathsToNodeIds": "max_nodes_per_translate",
    "MaxMonitoredItemsPerCall": "max_monitored_items_per_call",
    "MaxNodesPerHistoryReadEvents": "",
    "MaxNodesPerHistoryUpdateData": "",
    "MaxNodesPerHistoryUpdateEvents": "",
    "MaxNodesPerNodeManagement": "",
}


#: asyncua's generated modules that build the standard address space (once, in init).
_STANDARD_SPACE_PACKAGE = "asyncua.server.standard_address_space"
#: Servers of this process inside `Server.init()` (it runs that code on a thread).
_initialising = 0


def _drop_standard_address_space_code() -> None:
    """Forget the ~26 generated modules that built the standard address space.

    They are straight-line code run once by `Server.init()` (about 10 MB of
    code objects at every size). asyncua imports them inside
    `InternalServer.load_standard_address_space`, so another server in this
    process imports them again. Their namespaces are cleared, not only
    unlinked: each function and its module's dict form a cycle, which the
    collector (frozen once the gateway runs, see gateway.loop) would not free.
    """
    package = sys.modules.get(_STANDARD_SPACE_PACKAGE)
    prefix = _STANDARD_SPACE_PACKAGE + "."
    for name in [name for name in sys.modules if name.startswith(prefix)]:
        module = sys.modules.pop(name)
        if package is not None:
            vars(package).pop(name.removeprefix(prefix), None)
        vars(module).clear()


class StackServer:
    """One OPC UA server; build it (`init`, nodes, `secure`), then run `serving()`."""

    def __init__(self, *, limits: ServerLimits) -> None:
        gate.check_version()
        self.limits = limits
        self.hooks = Hooks()
        self._server = Server()
        self._users = Users((), anonymous=False)
        self._trust: TrustList | None = None
        self._allow_none = False
        self._plaintext_passwords = False
        self._subscriptions = Subscriptions(
            self._iserver.subscription_service, self._iserver.aspace, limits
        )
        self.events = EventSink(self._subscriptions)
        self._port: int | None = None
        self._serving: StackContext | None = None
        #: The standard address space's file, when the nodes come from one (shelf.py).
        self.shelved: ShelvedNodes | None = None

    @property
    def _iserver(self) -> InternalServer:
        return self._server.iserver

    # -- building -------------------------------------------------------------------------

    async def init(
        self,
        *,
        name: str,
        application_uri: str,
        product_uri: str,
        manufacturer: str,
        version: str,
        built: datetime,
        shelf: Path | None = None,
    ) -> None:
        """asyncua's standard address space and the server's description.

        `shelf`: the directory of the file the standard address space is read
        from (shelf.py), written there on the first start; None keeps it in memory.
        """
        server = self._server
        server.name = name
        server.product_uri = product_uri
        server.manufacturer_name = manufacturer
        global _initialising  # noqa: PLW0603  (one count for the process)
        _initialising += 1
        try:
            if shelf is None:
                await server.init()
            else:
                await self._init_shelved(ShelfPlace(shelf))
        finally:
            _initialising -= 1
        if not _initialising:  # another server's init may be running their code
            _drop_standard_address_space_code()
        await server.set_application_uri(application_uri)
        await server.set_build_info(product_uri, manufacturer, name, version, version, built)

    async def _init_shelved(self, place: ShelfPlace) -> None:
        """`Server.init()` with its first step, loading the standard address space,
        replaced: the nodes come from the file, or are built as before and written there."""
        iserver = self._iserver
        aspace = iserver.aspace
        built = iserver.load_standard_address_space  # asyncua's, bound
        nodes = place.open()

        async def load(shelf_file: Path | None = None) -> None:
            if nodes is not None:
                install(aspace, nodes)
                log.debug("OPC UA: standard address space read from %s", place.path)
                return
            await built()
            started = time.perf_counter()
            if await asyncio.to_thread(place.write, nodes_of(aspace)):
                log.info(
                    "OPC UA: standard address space written to %s for the next starts (%.2f s)",
                    place.path,
                    time.perf_counter() - started,
                )

        iserver.load_standard_address_space = load  # type: ignore[method-assign]
        try:
            await self._server.init()
        finally:
            del iserver.load_standard_address_space
        self.shelved = nodes

    async def register_namespace(self, uri: str) -> int:
        return int(await self._server.register_namespace(uri))

    def node_factory(self) -> NodeFactory:
        """Creates the gateway's objects and variables in bulk (nodes.py)."""
        return NodeFactory(self._iserver.aspace)

    @property
    def nodes(self) -> dict[ua.NodeId, NodeData]:
        """The address space's node map: the nodes kept in memory (properties.py)."""
        return nodes_of(self._iserver.aspace)

    def node_tree(self) -> NodeTree:
        """Adds nodes and references below existing ones in bulk (tree.py)."""
        return NodeTree(self._iserver.aspace)

    async def secure(
        self,
        *,
        certificate: Path,
        private_key: Path,
        policies: Sequence[ua.SecurityPolicyType],
        allow_none: bool,
        users: Users,
        trust: TrustList,
    ) -> None:
        """Endpoints (policy × mode, None only with `allow_none`), identity tokens, trust."""
        server = self._server
        await server.load_certificate(str(certificate))
        await server.load_private_key(str(private_key))
        types = list(policies)
        if allow_none:
            types.append(ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(types)
        tokens: list[type] = [ua.UserNameIdentityToken]
        if users.anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        server.allow_remote_admin(False)
        self._users = users
        self._trust = trust
        self._allow_none = allow_none
        encrypting = [p for p in types if p.name.endswith("_SignAndEncrypt")]
        self._plaintext_passwords = not encrypting
        if self._plaintext_passwords and users.has_users:
            log.warning(
                "OPC UA: no SignAndEncrypt endpoint is configured: user passwords travel "
                "unencrypted (add SignAndEncrypt to opcua.security.modes)"
            )

    def set_endpoint(self, url: str) -> None:
        self._server.set_endpoint(url)

    # -- values and events ----------------------------------------------------------------

    async def write_value(self, nodeid: ua.NodeId, value: ua.DataValue) -> None:
        """Set a node's value and notify its monitored items (condition members)."""
        node = self._iserver.aspace.get(nodeid)
        if node is None:
            raise KeyError(nodeid)
        await store(node.attributes[AttributeIds.Value], value)

    def has_node(self, nodeid: ua.NodeId) -> bool:
        return nodeid in self._iserver.aspace

    # -- running --------------------------------------------------------------------------

    def stats(self) -> ServerStats:
        """Connections, sessions, subscriptions and refusals now (zeros when not serving)."""
        context = self._serving
        if context is None:
            return ServerStats()
        sessions = list(context.sessions)
        return ServerStats(
            connections=len(context.connections),
            sessions=sum(1 for s in sessions if s.activated and s.connection is not None),
            detached_sessions=sum(1 for s in sessions if s.detached_at is not None),
            subscriptions=len(self._subscriptions),
            monitored_items=self._subscriptions.items_total,
            connections_refused=context.counters.connections_refused,
            logins_refused=context.counters.logins_refused,
            client_faults=sum(context.faults.totals.values()),
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the OPC UA server is not listening")
        return self._port

    @asynccontextmanager
    async def serving(self, host: str | None, port: int) -> AsyncIterator[int]:
        """Listen on host:port until the block ends; yields the port actually bound.

        Leaving closes every connection, deletes every subscription and stops
        asyncua's internal server; an error of the block comes out as it went in.
        """
        quieted = _quiet(_CHATTY)
        try:
            await self._server._setup_server_nodes()  # endpoints and security policy factories
            await self._iserver.start()
            await self._publish_limits()
            async with task_group() as group:
                context = self._serving = self._context(group)
                try:
                    listener = await asyncio.get_running_loop().create_server(
                        lambda: Connection(context), host, port
                    )
                except OSError as error:
                    self._serving = None
                    raise GatewayError(f"cannot listen on {host}:{port}: {error}") from error
                sweeper = None
                try:
                    sweeper = group.create_task(context.sweep(SWEEP_INTERVAL), name="opcua sweeper")
                    self._port = int(listener.sockets[0].getsockname()[1])
                    yield self._port
                finally:
                    self._port = None
                    self._serving = None
                    if sweeper is not None:
                        sweeper.cancel()
                    listener.close()
                    for connection in context.connections.keys():  # noqa: SIM118
                        connection.abort("the server stops")
                    await self._subscriptions.stop_all()
        finally:
            _restore(quieted)
            await self._iserver.stop()
            if self.shelved is not None:
                self.shelved.close()  # its file's connection; later lookups find nothing more

    def _context(self, group: asyncio.TaskGroup) -> StackContext:
        limits = self.limits

        def spawn(coroutine: object, name: str) -> object:
            return group.create_task(coroutine, name=name)  # type: ignore[arg-type]

        return StackContext(
            iserver=self._iserver,
            limits=limits,
            policies=list(self._server._policies),
            users=self._users,
            trust=self._trust,
            allow_none=self._allow_none,
            plaintext_passwords=self._plaintext_passwords,
            hooks=self.hooks,
            connections=ConnectionTable(limits),
            sessions=SessionRegistry(limits, self._subscriptions.close_session),
            subscriptions=self._subscriptions,
            throttle=LoginThrottle(limits),
            faults=FaultLog(_faults),
            browser=Browser(self._iserver.aspace),
            spawn=spawn,
        )

    async def _publish_limits(self) -> None:
        """ServerCapabilities/OperationLimits say what the guards enforce (0: not offered)."""
        for name, attribute in _OPERATION_LIMITS.items():
            nodeid = node_id(
                getattr(ObjectIds, f"Server_ServerCapabilities_OperationLimits_{name}")
            )
            if nodeid not in self._iserver.aspace:
                continue
            value = getattr(self.limits, attribute) if attribute else 0
            await self._server.write_attribute_value(
                nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
            )


def _quiet(names: Sequence[str]) -> dict[str, int]:
    levels = {}
    for name in names:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        if logger.getEffectiveLevel() < logging.ERROR and not logging.getLogger().isEnabledFor(
            logging.DEBUG
        ):
            logger.setLevel(logging.ERROR)
    return levels


def _restore(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
