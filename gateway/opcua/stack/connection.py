"""One client TCP connection: admission, framing, the secure channel, one request at a time.

Replaces asyncua's OPCUAProtocol and UaProcessor (see framing.py, services.py
and sessions.py for what they let through). A connection is admitted by the
server's ConnectionTable (per-peer and total caps, idle strangers pushed out
first), must activate a session within the activation window, and before
that may send only single-chunk messages. Received chunks queue behind the
connection's one processing task, which runs in the server's TaskGroup;
when too many wait, the connection stops reading (TCP pushes back) instead
of buffering more. Every fault a client causes closes its connection with
an ERR message or is answered with a ServiceFault, and is logged as one
rate-limited line: never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from typing import TYPE_CHECKING, Any, NoReturn, cast

from asyncua import ua
from asyncua.common.connection import SecureConnection, TransportLimits
from asyncua.common.utils import Buffer, ServiceError
from asyncua.crypto.security_policies import SecurityPolicyNone
from asyncua.ua.ua_binary import (
    header_from_binary,
    struct_from_binary,
    struct_to_binary,
    uatcp_to_binary,
)
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography import x509

from gateway.opcua.stack.framing import ChunkFramer, Frame, FramingError
from gateway.opcua.stack.services import dispatch
from gateway.ua.wire import StatusCodes, status_code

if TYPE_CHECKING:
    from gateway.opcua.stack.context import StackContext
    from gateway.opcua.stack.sessions import Session

__all__ = ["Connection"]

log = logging.getLogger("gateway.opcua.connections")

#: The smallest send and receive buffers a Hello may announce (OPC 10000-6 §7.1.2.3).
MIN_BUFFER_SIZE = 8192
# asyncua annotates message types as its MessageType class, whose members are bytes.
_MT: Any = ua.MessageType
_ErrorMessage: Any = ua.ErrorMessage

#: Exceptions a malformed or hostile message raises while it is decoded or decrypted.
CLIENT_FAULTS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    UaError,
    NotImplementedError,
)


class _Closed(Exception):
    """The connection is to be closed (already answered or logged)."""


class Connection(asyncio.Protocol):
    """See the module docstring. Created by the server's listener, one per TCP connection."""

    def __init__(self, context: StackContext) -> None:
        self._context = context
        self.peer = "?"
        self.host = "?"
        self.sockname: tuple[str, int] | None = None
        self.session: Session | None = None
        self._transport: asyncio.Transport | None = None
        limits = context.limits
        self._limits = TransportLimits(
            max_recv_buffer=limits.chunk_size,
            max_send_buffer=limits.chunk_size,
            max_chunk_count=limits.max_chunk_count,
            max_message_size=limits.max_message_size,
        )
        self._channel = SecureConnection(SecurityPolicyNone(), self._limits)
        self._channel.set_policy_factories(context.policies)
        self._framer = ChunkFramer(limits.chunk_size)
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._paused = False
        self._hello = False
        self._deadline: asyncio.TimerHandle | None = None
        self._closing = False

    def __str__(self) -> str:
        return f"connection from {self.peer}"

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        self.sockname = transport.get_extra_info("sockname")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.host = str(peername[0])
            self.peer = f"{peername[0]}:{peername[1]}"
        context = self._context
        admission = context.connections.admit(self, self.host, time.monotonic())
        if not admission.accepted:
            context.counters.connections_refused += 1
            context.faults.report(
                "refused",
                time.monotonic(),
                "OPC UA: connection from %s refused: %s",
                self.peer,
                admission.reason,
            )
            self._closing = True
            self._transport.abort()
            return
        if admission.evict is not None:
            admission.evict.abort("pushed out by a new connection (idle, never logged in)")
        self._deadline = asyncio.get_running_loop().call_later(
            context.limits.activation_window, self._activation_expired
        )
        context.spawn(self._run(), f"opcua {self.peer}")

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._context.connections.seen(self, time.monotonic())
        try:
            frames = self._framer.feed(data)
        except FramingError as error:
            self._refuse(error.code, error.reason, kind="framing")
            return
        for frame in frames:
            self._queue.put_nowait(frame)
        if self._queue.qsize() >= self._context.limits.max_pending_chunks and not self._paused:
            self._paused = True
            assert self._transport is not None
            self._transport.pause_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._closing = True
        self._context.connections.remove(self)
        if self._deadline is not None:
            self._deadline.cancel()
        self._queue.put_nowait(None)

    # -- sending --------------------------------------------------------------------------

    def send_response(self, request_handle: int, request_id: int, response: Any) -> None:
        """Encode and send a service response; an unencodable one becomes a ServiceFault."""
        if self._closing or self._transport is None:
            return
        response.ResponseHeader.RequestHandle = request_handle
        try:
            body = struct_to_binary(response)
        except Exception as error:  # a value that cannot be encoded: a bug, not the client's
            body = self._unencodable(response, error)
        self._write(body, _MT.SecureMessage, request_id)

    def send_fault(self, request_handle: int, request_id: int, code: int) -> None:
        fault = ua.ServiceFault()
        fault.ResponseHeader.ServiceResult = status_code(code)
        self.send_response(request_handle, request_id, fault)

    def _write(self, body: bytes, message_type: Any, request_id: int) -> None:
        assert self._transport is not None
        try:
            data = self._channel.message_to_binary(
                body,
                message_type=message_type,
                request_id=request_id,
            )
        except Exception as error:
            self._context.faults.report(
                "send", time.monotonic(), "OPC UA: cannot send to %s: %s", self.peer, error
            )
            self.abort("cannot encrypt a response")
            return
        self._transport.write(data)

    def _unencodable(self, response: Any, error: Exception) -> bytes:
        """A Read answers each value that cannot be encoded with Bad_InternalError;
        any other response becomes a ServiceFault. Logged once per kind."""
        self._context.faults.report(
            "encode",
            time.monotonic(),
            "OPC UA: a %s value could not be encoded (%s: %s); answered with Bad_InternalError",
            type(response).__name__,
            type(error).__name__,
            error,
        )
        if isinstance(response, ua.ReadResponse):
            results = []
            for value in response.Results:
                try:
                    struct_to_binary(value)
                    results.append(value)
                except Exception:
                    results.append(
                        ua.DataValue(StatusCode=status_code(StatusCodes.BadInternalError))
                    )
            response.Results = results
            try:
                return struct_to_binary(response)
            except Exception:
                pass
        fault = ua.ServiceFault()
        fault.ResponseHeader.RequestHandle = response.ResponseHeader.RequestHandle
        fault.ResponseHeader.ServiceResult = status_code(StatusCodes.BadInternalError)
        return struct_to_binary(fault)

    # -- closing --------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Close the connection now (its session, if activated, stays for a reconnect)."""
        if self._transport is not None and not self._closing:
            log.debug("OPC UA: closing %s: %s", self, reason)
            self._closing = True
            self._transport.abort()

    def _refuse(self, code: int, reason: str, *, kind: str) -> None:
        """Send an ERR message and close: the spec's answer to a transport-level fault."""
        self._context.faults.report(kind, time.monotonic(), "OPC UA: %s closed: %s", self, reason)
        if self._transport is not None and not self._closing:
            error = _ErrorMessage(status_code(code), reason[:200])
            self._transport.write(uatcp_to_binary(_MT.Error, error))
            self._closing = True
            self._transport.close()

    def _activation_expired(self) -> None:
        self._deadline = None
        session = self.session
        if session is None or not session.activated:
            self._context.faults.report(
                "idle",
                time.monotonic(),
                "OPC UA: %s closed: no session activated within %.0f s",
                self,
                self._context.limits.activation_window,
            )
            self.abort("activation window passed")

    def closed_session(self) -> None:
        """The connection's session closed or moved away: a stranger again, with a window."""
        self._context.connections.authenticated(self, False)
        if self._deadline is None and not self._closing:
            self._deadline = asyncio.get_running_loop().call_later(
                self._context.limits.activation_window, self._activation_expired
            )

    def activated(self) -> None:
        """The connection's session is activated: it is no longer a stranger."""
        self._context.connections.authenticated(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    # -- processing -----------------------------------------------------------------------

    async def _run(self) -> None:
        """Process chunks in order until the connection closes; never raises."""
        try:
            while (frame := await self._queue.get()) is not None:
                if (
                    self._paused
                    and self._queue.qsize() <= self._context.limits.max_pending_chunks // 2
                ):
                    self._paused = False
                    if self._transport is not None and not self._closing:
                        self._transport.resume_reading()
                if self._closing:
                    continue
                with contextlib.suppress(_Closed):
                    await self._handle(frame)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug: rate-limited, so no client can flood the log
            self._context.faults.report(
                "internal", time.monotonic(), "OPC UA: %s failed: %s: %s (traceback with -vv)",
                self, type(error).__name__, error,
            )  # fmt: skip
            log.debug("OPC UA: %s failed", self, exc_info=error)
            self.abort("internal error")
        finally:
            await self._context.release(self)

    async def _handle(self, frame: Frame) -> None:
        if not self._hello:
            if frame.message_type != b"HEL":
                self._refuse(
                    StatusCodes.BadTcpMessageTypeInvalid, "expected Hello", kind="protocol"
                )
                raise _Closed
        elif frame.message_type == b"HEL":
            self._refuse(StatusCodes.BadTcpMessageTypeInvalid, "a second Hello", kind="protocol")
            raise _Closed
        if frame.chunk_type != b"F" and not (self.session is not None and self.session.activated):
            self._refuse(
                StatusCodes.BadTcpMessageTooLarge,
                "a message in several chunks before logging in",
                kind="framing",
            )
            raise _Closed
        buffer = Buffer(frame.data)
        try:
            header = header_from_binary(buffer)
            message = self._channel.receive_from_header_and_body(header, buffer)
        except UaStatusCodeError as error:
            self._refuse(error.code, f"{type(error).__name__}", kind="protocol")
            raise _Closed from None
        except CLIENT_FAULTS as error:
            self._unreadable(StatusCodes.BadSecurityChecksFailed, "message", error)
        if isinstance(message, ua.Hello):
            self._hello_received(message)
        elif isinstance(message, ua.Message):
            await self._message(header, message)

    def _hello_received(self, hello: ua.Hello) -> None:
        if min(hello.ReceiveBufferSize, hello.SendBufferSize) < MIN_BUFFER_SIZE:
            self._refuse(
                StatusCodes.BadTcpInternalError,
                f"buffer sizes under {MIN_BUFFER_SIZE} bytes in Hello",
                kind="protocol",
            )
            raise _Closed
        ack = self._limits.create_acknowledge_and_set_limits(hello)
        self._framer.max_chunk = min(self._limits.max_recv_buffer, self._context.limits.chunk_size)
        self._hello = True
        assert self._transport is not None
        self._transport.write(uatcp_to_binary(_MT.Acknowledge, ack))

    async def _message(self, header: ua.Header, message: ua.Message) -> None:
        kind = header.MessageType
        try:
            if kind == _MT.SecureOpen:
                self._open_channel(message)
            elif kind == _MT.SecureClose:
                self._channel.close()
                self.abort("the client closed the secure channel")
            elif not self._channel.is_open():
                self._refuse(
                    StatusCodes.BadTcpSecureChannelUnknown, "no secure channel", kind="protocol"
                )
            else:
                await self._request(message)
        except CLIENT_FAULTS as error:
            self._unreadable(StatusCodes.BadDecodingError, "request", error)

    def _unreadable(self, code: int, what: str, error: Exception) -> NoReturn:
        """A message that cannot be decoded or decrypted: ERR, close, stop handling it."""
        log.debug("OPC UA: unreadable %s from %s", what, self.peer, exc_info=error)
        self._refuse(code, f"unreadable {what} ({type(error).__name__})", kind="malformed")
        raise _Closed from None

    def _open_channel(self, message: ua.Message) -> None:
        algorithm = message.SecurityHeader()
        request = struct_from_binary(ua.OpenSecureChannelRequest, message.body())
        channel = self._channel
        if not channel.is_open():
            channel.select_policy(
                algorithm.SecurityPolicyURI,
                algorithm.SenderCertificate,
                request.Parameters.SecurityMode,
            )
            certificate = channel.security_policy.peer_certificate
            if certificate and not self._context.trusted(certificate, self.peer):
                # OPC 10000-6 §6.7.6: Bad_SecurityChecksFailed, so a stranger does not
                # learn what the trust list holds.
                self._refuse(
                    StatusCodes.BadSecurityChecksFailed, "untrusted certificate", kind="certificate"
                )
                raise _Closed
        result = channel.open(request.Parameters, self._context.iserver)
        response = ua.OpenSecureChannelResponse()
        response.Parameters = result
        response.ResponseHeader.RequestHandle = request.RequestHeader.RequestHandle
        self._write(
            struct_to_binary(response),
            _MT.SecureOpen,
            message.SequenceHeader().RequestId,
        )

    async def _request(self, message: ua.Message) -> None:
        body = message.body()
        request_id = message.SequenceHeader().RequestId
        type_id = ua.ua_binary.nodeid_from_binary(body)
        header = struct_from_binary(ua.RequestHeader, body)
        try:
            response = await dispatch(
                self._context, self, type_id, header, body, request_id=request_id
            )
        except ServiceError as error:
            self.send_fault(header.RequestHandle, request_id, error.code)
            return
        except UaStatusCodeError as error:
            self.send_fault(header.RequestHandle, request_id, error.code)
            return
        if response is not None:
            self.send_response(header.RequestHandle, request_id, response)

    # -- facts for the services -----------------------------------------------------------

    @property
    def secured(self) -> bool:
        """The channel signs (and maybe encrypts): not the None policy."""
        return self._channel.security_policy.Mode != ua.MessageSecurityMode.None_

    @property
    def encrypted(self) -> bool:
        return self._channel.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt

    @property
    def peer_certificate(self) -> bytes | None:
        certificate = self._channel.security_policy.peer_certificate
        return bytes(certificate) if certificate else None

    @property
    def host_certificate(self) -> bytes | None:
        certificate = self._channel.security_policy.host_certificate
        return bytes(certificate) if certificate else None

    def sign(self, data: bytes) -> bytes:
        return bytes(self._channel.security_policy.asymmetric_cryptography.signature(data))

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raises if `signature` is not the client's over `data` (no-op on a None channel)."""
        self._channel.security_policy.asymmetric_cryptography.verify(data, signature)

    @property
    def signature_uri(self) -> str:
        return str(self._channel.security_policy.AsymmetricSignatureURI)

    @staticmethod
    def load_certificate(der: bytes) -> x509.Certificate:
        return x509.load_der_x509_certificate(der)
