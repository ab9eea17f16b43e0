"""Client writes to tags, forwarded to the PLC asynchronously (DESIGN.md §7).

asyncua's value setter hook (`set_attribute_value_setter`) is synchronous, so
it cannot wait for the PLC. The async hook is the server's AttributeService:
every Write request of every session goes through its `write(params, user)`
coroutine. `TagWriteService` replaces it: items that address a tag's Value
are validated here and awaited through `Acquisition.write` (the PLC round
trip, then an immediate re-read that publishes the new value on the bus);
other nodes of the gateway's namespace are not writable, and items for
other namespaces go to asyncua's own implementation, as do writes from the
server's internal (admin) session. The items of one request run
concurrently, so writes to different devices overlap.

The node's value is not set by the write: it changes when the PLC's answer
comes back through the bus, so clients always see what the PLC holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asyncua import ua
from asyncua.common.callback import ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService

from gateway.errors import DeviceError, WriteRejected
from gateway.model import Status, Value
from gateway.opcua.space import GatewaySpace, TagBinding
from gateway.opcua.uawire import AttributeIds, StatusCodes, status_code
from gateway.opcua.users import can_write

__all__ = ["TagWriteService", "WriteTag", "user_access_listener"]

log = logging.getLogger(__name__)

#: Acquisition.write: raises WriteRejected or DeviceError, each with a `status`.
WriteTag = Callable[[str, Value], Awaitable[None]]


#: asyncua's default caller: the server itself.
_INTERNAL = User(role=UserRole.Admin)


def _code(status: Status | int) -> ua.StatusCode:
    return status_code(int(status))


class TagWriteService(AttributeService):
    """The attribute service with an async write path for tag nodes."""

    def __init__(self, aspace: AddressSpace, space: GatewaySpace, write_tag: WriteTag) -> None:
        super().__init__(aspace)
        self._space = space
        self._write_tag = write_tag

    async def write(
        self, params: ua.WriteParameters, user: User = _INTERNAL
    ) -> list[ua.StatusCode]:
        if user.role == UserRole.Admin:  # the server's own session, never a client
            return await super().write(params, user)
        items = params.NodesToWrite
        results: list[ua.StatusCode | None] = [None] * len(items)
        others: list[int] = []
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                binding = self._space.tag_of(item.NodeId)
                if binding is None and item.NodeId.NamespaceIndex == self._space.namespace_index:
                    results[index] = _code(Status.BAD_NOT_WRITABLE)  # folders, _Status...
                elif binding is None:
                    others.append(index)
                else:
                    group.create_task(self._write_into(results, index, binding, item, user))
            if others:
                rest = ua.WriteParameters(NodesToWrite=[items[i] for i in others])
                for index, code in zip(others, await super().write(rest, user), strict=True):
                    results[index] = code
        return [
            code if code is not None else _code(StatusCodes.BadInternalError) for code in results
        ]

    async def _write_into(
        self,
        results: list[ua.StatusCode | None],
        index: int,
        binding: TagBinding,
        item: ua.WriteValue,
        user: User,
    ) -> None:
        results[index] = await self.write_tag(binding, item, user)

    async def write_tag(
        self, binding: TagBinding, item: ua.WriteValue, user: User
    ) -> ua.StatusCode:
        """The result of one write to a tag node; never raises."""
        tag = binding.tag
        if item.AttributeId != AttributeIds.Value or not tag.writable:
            return _code(Status.BAD_NOT_WRITABLE)
        if not can_write(user):
            log.info("OPC UA: %s may not write %s", getattr(user, "name", None), tag.key)
            return _code(Status.BAD_USER_ACCESS_DENIED)
        if item.IndexRange:
            return _code(StatusCodes.BadIndexRangeInvalid)
        variant = item.Value.Value if item.Value is not None else None
        kind = binding.ua_type
        if (
            variant is None
            or variant.VariantType != kind.variant
            or variant.is_array
            or variant.Value is None
        ):
            return _code(Status.BAD_TYPE_MISMATCH)
        value = kind.convert(variant.Value)
        try:
            await self._write_tag(tag.key, value)
        except (WriteRejected, DeviceError) as error:
            log.info("OPC UA: write to %s failed: %s", tag.key, error)
            return _code(error.status)
        except Exception:
            log.exception("OPC UA: write to %s failed unexpectedly", tag.key)
            return _code(StatusCodes.BadInternalError)
        log.info("OPC UA: %s wrote %s = %r", getattr(user, "name", None), tag.key, value)
        return _code(Status.GOOD)


def user_access_listener(space: GatewaySpace) -> Callable[[ServerItemCallback, object], None]:
    """A PostRead hook: a writable tag's UserAccessLevel lacks CurrentWrite for viewers.

    asyncua serves one static UserAccessLevel to everyone; this corrects it per
    session, so a viewer's client shows writable tags as read-only.
    """
    write_bit = ua.AccessLevel.CurrentWrite.mask

    def listener(event: ServerItemCallback, _service: object) -> None:
        if not event.is_external or can_write(event.user):
            return
        results = event.response_params
        for index, item in enumerate(event.request_params.NodesToRead):
            if item.AttributeId != AttributeIds.UserAccessLevel:
                continue
            binding = space.tag_of(item.NodeId)
            current = results[index].Value
            if binding is None or current is None or not binding.tag.writable:
                continue
            level = int(current.Value) & ~write_bit
            results[index] = ua.DataValue(ua.Variant(level, ua.VariantType.Byte))

    return listener
