"""Connecting the client commands: endpoint choice, user, client certificate, clear errors.

The endpoint is chosen from the server's own list: the None endpoint when
offered (nothing to trust), else the one with the highest SecurityLevel;
`--security POLICY,MODE` picks one explicitly. A secure endpoint needs a
client certificate: the user's own, or one generated once in the client
PKI folder, which the gateway's administrator trusts by moving it from the
gateway's pki/rejected to pki/trusted. Every asyncua and socket error of
connecting is mapped here to one ClientError that says what to do.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.errors import ClientError
from gateway.ua.wire import StatusCodes
from gateway.uaclient.identity import ClientIdentity, client_identity
from gateway.uaclient.nodetext import NodeRef, format_node, parse_node
from gateway.uaclient.uanames import status_name

__all__ = ["ClientOptions", "Session", "open_session"]

#: Session timeout asked for: an abandoned CLI session goes away after a minute.
SESSION_TIMEOUT_MS = 60_000

_NONE_URI = security_policies.SecurityPolicyNone.URI
#: Policies this client speaks, by the name the gateway's configuration uses.
POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_LOGIN_REFUSED = frozenset(
    {
        StatusCodes.BadUserAccessDenied,
        StatusCodes.BadIdentityTokenRejected,
        StatusCodes.BadIdentityTokenInvalid,
        StatusCodes.BadUserSignatureInvalid,
    }
)
#: A secured channel refused over the client's certificate: the gateway answers an
#: untrusted one with Bad_SecurityChecksFailed (OPC 10000-6 §6.7.6), others may say so.
_CERTIFICATE_REFUSED = frozenset(
    {StatusCodes.BadCertificateUntrusted, StatusCodes.BadSecurityChecksFailed}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """How to reach and log in to a server (the options every client command takes)."""

    url: str
    user: str | None = None
    password: str | None = None
    security: str | None = None  # None: automatic; "None"; or "POLICY,MODE"
    certificate: Path | None = None
    private_key: Path | None = None
    pki_dir: Path
    timeout: float = 5.0
    namespace: str | None = None


@dataclass(slots=True)
class Session:
    """A connected client, with the gateway's namespace resolved for NODE arguments."""

    client: Client
    options: ClientOptions
    namespaces: list[str]
    gateway_namespace: int
    endpoint: str

    def node_id(self, ref: NodeRef | str) -> ua.NodeId:
        """The NodeId a NODE argument names; ClientError for an unknown namespace URI."""
        if isinstance(ref, str):
            try:
                ref = parse_node(ref)
            except ValueError as error:
                raise ClientError(str(error)) from None
        if ref.namespace_uri is not None:
            if ref.namespace_uri not in self.namespaces:
                raise ClientError(f"{ref.text}: the server has no namespace {ref.namespace_uri}")
            index = self.namespaces.index(ref.namespace_uri)
        else:
            index = self.gateway_namespace if ref.namespace_index is None else ref.namespace_index
        text = f"ns={index};{ref.kind}={ref.identifier}"
        try:
            return ua.NodeId.from_string(text)
        except (ValueError, UaError) as error:
            raise ClientError(f"{ref.text}: not a valid node id ({error})") from None

    def text(self, node: ua.NodeId) -> str:
        """`node` as a NODE argument a user can paste back."""
        text = node.to_string()  # "ns=2;s=boiler.temp", "i=2253"
        if text.startswith("ns="):
            text = text.partition(";")[2]
        kind, _, identifier = text.partition("=")
        return format_node(
            kind, identifier, node.NamespaceIndex, gateway_namespace=self.gateway_namespace
        )


@asynccontextmanager
async def open_session(
    options: ClientOptions, notify: Callable[[str], None] | None = None
) -> AsyncIterator[Session]:
    """Connect, log in and resolve the gateway namespace; disconnect on exit.

    `notify` hears what the user should know on the way (a generated certificate).
    """
    _check_url(options.url)
    client = Client(options.url, timeout=options.timeout)
    client.session_timeout = SESSION_TIMEOUT_MS
    client.name = client.description = "modbus-opcua-gateway client"
    if options.user is not None:
        client.set_user(options.user)
        client.set_password(options.password or "")
    identity: ClientIdentity | None = None
    endpoint: ua.EndpointDescription | None = None
    try:
        endpoints = await client.connect_and_get_server_endpoints()
        endpoint = choose_endpoint(endpoints, options.security, options.url)
        _check_user_token(endpoint, options)
        if endpoint.SecurityPolicyUri != _NONE_URI:
            # One blocking call on a worker thread: a first run generates an RSA key.
            identity = await asyncio.to_thread(
                client_identity, options.pki_dir, options.certificate, options.private_key
            )
            if identity.created and notify is not None:
                notify(f"created a client certificate {identity.certificate} (kept for next time)")
            await _secure(client, endpoint, identity)
        await client.connect()
    except (OSError, TimeoutError, UaError) as error:
        trusted = None
        if getattr(error, "code", None) in _LOGIN_REFUSED and endpoint and identity:
            trusted = await _certificate_trusted(options, endpoint, identity)
        raise _connect_error(error, options, identity, trusted) from None
    try:
        namespaces = await client.get_namespace_array()
        session = Session(
            client,
            options,
            namespaces,
            await _gateway_namespace(client, namespaces, options.namespace),
            _describe(endpoint),
        )
        yield session
    except (OSError, TimeoutError, UaError) as error:  # the server failed us mid-command
        raise _session_error(error, options) from None
    finally:
        with suppress(Exception):
            await asyncio.shield(client.disconnect())


def choose_endpoint(
    endpoints: list[ua.EndpointDescription], security: str | None, url: str
) -> ua.EndpointDescription:
    """The endpoint `--security` names, or the automatic choice (module docstring)."""
    usable = [
        e
        for e in endpoints
        if e.SecurityPolicyUri == _NONE_URI or _policy_name(e.SecurityPolicyUri) in POLICIES
    ]
    if security is None:
        unsecured = [e for e in usable if e.SecurityPolicyUri == _NONE_URI]
        if unsecured:
            return unsecured[0]
        if usable:
            return max(usable, key=lambda e: int(e.SecurityLevel))
        raise ClientError(f"{url} offers no endpoint this client supports: {_offered(endpoints)}")
    wanted = _parse_security(security)
    for endpoint in usable:
        if (_policy_name(endpoint.SecurityPolicyUri), endpoint.SecurityMode) == wanted:
            return endpoint
    raise ClientError(f"{url} offers no {security} endpoint; it offers {_offered(endpoints)}")


def _parse_security(text: str) -> tuple[str, ua.MessageSecurityMode]:
    if text.strip().lower() == "none":
        return "None", ua.MessageSecurityMode.None_
    policy, _, mode = (part.strip() for part in text.partition(","))
    by_key = {name.replace("_", "").lower(): name for name in POLICIES}
    name = by_key.get(policy.replace("_", "").lower())
    modes = {key.lower(): value for key, value in _MODES.items()}
    if name is None or mode.lower() not in modes:
        raise ClientError(
            f"--security {text!r}: expected None or POLICY,MODE with POLICY one of "
            f"{', '.join(POLICIES)} and MODE Sign or SignAndEncrypt"
        )
    return name, modes[mode.lower()]


def _policy_name(uri: str) -> str:
    return uri.rpartition("#")[2]


def _describe(endpoint: ua.EndpointDescription) -> str:
    if endpoint.SecurityPolicyUri == _NONE_URI:
        return "None"
    return f"{_policy_name(endpoint.SecurityPolicyUri)},{endpoint.SecurityMode.name}"


def _offered(endpoints: list[ua.EndpointDescription]) -> str:
    return "; ".join(sorted({_describe(e) for e in endpoints})) or "no endpoints"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise ClientError(f"{url!r} is not an OPC UA URL: expected opc.tcp://HOST:PORT")


def _check_user_token(endpoint: ua.EndpointDescription, options: ClientOptions) -> None:
    tokens = {token.TokenType for token in endpoint.UserIdentityTokens}
    if options.user is None and ua.UserTokenType.Anonymous not in tokens:
        raise ClientError(
            f"{options.url} does not allow anonymous access: give a user with -u USER"
        )


async def _secure(
    client: Client, endpoint: ua.EndpointDescription, identity: ClientIdentity
) -> None:
    server_certificate = _first_certificate(endpoint.ServerCertificate)
    if server_certificate is None:
        raise ClientError(f"{endpoint.EndpointUrl}: the server sent no valid certificate")
    client.application_uri = identity.application_uri
    await client.set_security(
        POLICIES[_policy_name(endpoint.SecurityPolicyUri)],
        uacrypto.CertProperties(identity.certificate, extension=identity.certificate_format),
        uacrypto.CertProperties(identity.private_key, extension=identity.key_format),
        server_certificate=server_certificate.public_bytes(serialization.Encoding.DER),
        mode=endpoint.SecurityMode,
    )


async def _certificate_trusted(
    options: ClientOptions, endpoint: ua.EndpointDescription, identity: ClientIdentity
) -> bool | None:
    """After a refused login on a secure endpoint: was it the certificate? None: cannot tell.

    A gateway that also offers the None endpoint refuses an untrusted certificate
    only at activation, with the code of a wrong password. When the endpoint
    accepts anonymous users, an anonymous session over the same certificate tells
    the two apart; a certificate generated just now cannot be trusted yet.
    """
    if identity.created:
        return False
    tokens = {token.TokenType for token in endpoint.UserIdentityTokens}
    if ua.UserTokenType.Anonymous not in tokens:
        return None
    if options.user is None:  # anonymous is allowed here, so the refusal was the certificate
        return False
    probe = Client(options.url, timeout=options.timeout)
    probe.session_timeout = SESSION_TIMEOUT_MS
    try:
        await _secure(probe, endpoint, identity)
        await probe.connect()
    except UaError as error:
        return False if getattr(error, "code", None) in _LOGIN_REFUSED else None
    except (OSError, TimeoutError, ClientError):
        return None
    with suppress(Exception):
        await probe.disconnect()
    return True


def _first_certificate(der: bytes | None) -> x509.Certificate | None:
    """The server's own certificate: the first of a DER chain (SEQUENCE length in bytes 2:4)."""
    if not der or len(der) < 4:
        return None
    try:
        return x509.load_der_x509_certificate(der[: int.from_bytes(der[2:4], "big") + 4])
    except ValueError:
        return None


def _connect_error(
    error: BaseException,
    options: ClientOptions,
    identity: ClientIdentity | None,
    trusted: bool | None = None,
) -> ClientError:
    """The one message for a failed connection; `trusted`: see `_certificate_trusted`."""
    url = options.url
    if isinstance(error, ClientError):
        return error
    if isinstance(error, ConnectionRefusedError):
        return ClientError(f"cannot connect to {url}: connection refused")
    if isinstance(error, socket.gaierror):
        return ClientError(f"cannot connect to {url}: unknown host {urlsplit(url).hostname}")
    if isinstance(error, TimeoutError):
        return ClientError(f"cannot connect to {url}: no answer within {options.timeout:g} s")
    if isinstance(error, ConnectionError) and not error.strerror:  # asyncua's own
        return ClientError(
            f"cannot connect to {url}: the server closed the connection during the "
            "handshake (is it an OPC UA server on that port?)"
        )
    if isinstance(error, OSError):
        return ClientError(f"cannot connect to {url}: {error.strerror or error}")
    code = getattr(error, "code", None)
    if code in _CERTIFICATE_REFUSED and identity is not None:
        return ClientError(_untrusted_message(identity))
    if code in _LOGIN_REFUSED:
        # Some servers (the gateway before issue 14) refuse an untrusted certificate
        # only at activation, with the same code as a wrong password.
        if identity is not None and trusted is False:
            return ClientError(_untrusted_message(identity))
        who = "anonymous access" if options.user is None else "user or password"
        refused = f"{url}: {who} rejected ({status_name(int(code))})"
        if identity is not None and trusted is None:
            refused += f", or {_untrusted_message(identity)}"
        return ClientError(refused)
    if isinstance(code, int):
        return ClientError(f"cannot connect to {url}: {status_name(code)}")
    return ClientError(f"cannot connect to {url}: {error}")


def _session_error(error: BaseException, options: ClientOptions) -> ClientError:
    url = options.url
    if isinstance(error, TimeoutError):
        return ClientError(f"{url}: no answer within {options.timeout:g} s (--timeout)")
    if isinstance(error, OSError):
        return ClientError(f"lost the connection to {url}")
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return ClientError(f"{url}: {status_name(code)}")
    return ClientError(f"{url}: {error}")


def _untrusted_message(identity: ClientIdentity) -> str:
    return (
        f"the server does not trust this client's certificate {identity.certificate}; "
        f"on the gateway move it from <pki>/rejected to <pki>/trusted (the file "
        f"'{identity.rejected_name}'; <pki> is opcua.security.pki_dir, see docs/security.md), "
        "then try again"
    )


async def _gateway_namespace(client: Client, namespaces: list[str], wanted: str | None) -> int:
    """The namespace friendly NODE arguments live in (see docs/client.md)."""
    if wanted is not None:
        if wanted not in namespaces:
            raise ClientError(f"the server has no namespace {wanted}; it has {namespaces}")
        return namespaces.index(wanted)
    if len(namespaces) <= 2:
        return len(namespaces) - 1
    # The gateway root is the Objects child in a namespace of its own (index ≥ 2).
    for child in await client.nodes.objects.get_children():
        if child.nodeid.NamespaceIndex >= 2:
            return int(child.nodeid.NamespaceIndex)
    return len(namespaces) - 1
