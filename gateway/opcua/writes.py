"""Client writes to tags, forwarded to the PLC asynchronously (docs/opcua.md, "Writes").

`TagWrites` is the server's write hook: every Write of every session comes
here with its `Caller`. Items that address a tag's Value are validated and
awaited through `Acquisition.write` (the PLC round trip, then an immediate
re-read that publishes the new value on the bus); every other node is not
writable (the gateway serves no other writable node, whatever asyncua's
attributes say). The items of one request run concurrently, so writes to
different devices overlap.

The node's value is not set by the write: it changes when the PLC's answer
comes back through the bus, so clients always see what the PLC holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from asyncua import ua

from gateway.errors import DeviceError, WriteRejected
from gateway.model import Status, Value
from gateway.opcua.space import GatewaySpace, TagBinding
from gateway.opcua.stack import Caller
from gateway.ua.wire import AttributeIds, StatusCodes, status_code

__all__ = ["TagWrites", "WriteTag"]

log = logging.getLogger(__name__)

#: Acquisition.write: raises WriteRejected or DeviceError, each with a `status`.
WriteTag = Callable[[str, Value], Awaitable[None]]


def _code(status: Status | int) -> ua.StatusCode:
    return status_code(int(status))


class TagWrites:
    """The write hook (results for every item) and the per-user access hook."""

    def __init__(self, space: GatewaySpace, write_tag: WriteTag) -> None:
        self._space = space
        self._write_tag = write_tag

    async def __call__(self, caller: Caller, items: Sequence[ua.WriteValue]) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = [_code(Status.BAD_NOT_WRITABLE)] * len(items)
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                binding = self._space.tag_of(item.NodeId)
                if binding is not None:
                    group.create_task(self._write_into(results, index, binding, item, caller))
        return results

    async def _write_into(
        self,
        results: list[ua.StatusCode],
        index: int,
        binding: TagBinding,
        item: ua.WriteValue,
        caller: Caller,
    ) -> None:
        results[index] = await self.write_tag(binding, item, caller)

    async def write_tag(
        self, binding: TagBinding, item: ua.WriteValue, caller: Caller
    ) -> ua.StatusCode:
        """The result of one write to a tag node; never raises."""
        tag = binding.tag
        if item.AttributeId != AttributeIds.Value or not tag.writable:
            return _code(Status.BAD_NOT_WRITABLE)
        who = caller.identity
        if not who.can_write:
            log.info("OPC UA: %s from %s may not write %s", who, caller.peer, tag.key)
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
        try:
            value = kind.convert(variant.Value)
            await self._write_tag(tag.key, value)
        except (WriteRejected, DeviceError) as error:
            log.info("OPC UA: write to %s failed: %s", tag.key, error)
            return _code(error.status)
        except (TypeError, ValueError, OverflowError):
            return _code(Status.BAD_TYPE_MISMATCH)
        except Exception:
            log.exception("OPC UA: write to %s failed unexpectedly", tag.key)
            return _code(StatusCodes.BadInternalError)
        log.info("OPC UA: %s wrote %s = %r", who, tag.key, value)
        return _code(Status.GOOD)

    def user_access(self, caller: Caller, nodeid: ua.NodeId, level: int) -> int | None:
        """A writable tag's UserAccessLevel lacks CurrentWrite for those who may not write,
        so a viewer's client shows it read-only."""
        if caller.identity.can_write:
            return None
        binding = self._space.tag_of(nodeid)
        if binding is None or not binding.tag.writable:
            return None
        return level & ~ua.AccessLevel.CurrentWrite.mask
