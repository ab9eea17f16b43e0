"""Issue 14, finding 1: session takeover, against a real `gateway run` process.

The attack suite (tests/security): every test attacks a `gateway run -c FILE`
child process over TCP, in the "secure" configuration (no None endpoint, no
anonymous access) and in the demo's (None endpoint, anonymous viewers), while
a healthy operator client keeps reading once a second and the gateway's PLC
must lose nothing (healthkit.py). Attackers connect from 127.0.0.3 and up,
legitimate clients from 127.0.0.1. Each test's docstring names the finding it
covers and what it requires. Run it with

    pytest tests/security               # every attack, both configurations
    pytest -m security                  # the same, by its marker
    pytest tests/security -k demo       # one configuration
    pytest -m "not security"            # everything but the attacks

It is part of the default `pytest` run, and so of CI (.ci/run).
"""

from __future__ import annotations

import asyncio
import re

import pytest
from asyncua import Client, ua
from attackkit import Gateway, Identity
from healthkit import healthy
from uaclients import (
    CONNECT_TIMEOUT,
    DataChanges,
    bound_to,
    configure,
    legit_client,
    low_privilege_client,
    node,
    none_channel,
    plain_client,
)
from uarequests import activate, call, create_session, read_values, write_setpoint

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

#: Source addresses of this module's attackers (legitimate clients use 127.0.0.1).
TAKEOVER = "127.0.0.3"
HEADER = "127.0.0.4"
LOGINS = "127.0.0.5"
#: The attacker's identities: anonymous, the viewer, the operator with a wrong password.
IDENTITIES: list[tuple[str | None, str | None]] = [
    (None, None),
    ("viewer", None),
    ("operator", "x"),
]
REFUSAL = re.compile(r"refus|reject|denied|fail", re.IGNORECASE)


def _who(user: str | None, password: str | None) -> str:
    if user is None:
        return "anonymous"
    return f"{user} with a wrong password" if password else user


async def _setpoint(client: Client) -> ua.DataValue:
    outcome = await read_values(client, ["plc.setpoint"])
    assert outcome.status.is_good(), f"Read of plc.setpoint: {outcome.status}"
    [value] = outcome.results
    return value


async def _write_and_see(client: Client, value: float) -> str | None:
    """None once the client's own Write is Good and the PLC's value comes back, else why not."""
    write = await write_setpoint(client, value)
    if write.refused():
        return f"the victim's own Write of {value} was refused: {write.codes()}"
    node_ = client.get_node(node("plc.setpoint"))
    for _ in range(50):
        if await node_.read_value() == value:
            return None
        await asyncio.sleep(0.1)  # polling the gateway for the PLC's new value
    return f"plc.setpoint did not become {value} after the victim's write"


async def test_authentication_tokens_are_unguessable(gateway: Gateway, identity: Identity) -> None:
    """Finding 1 (a): the AuthenticationTokens of two sessions are cryptographically random.

    Required: not numeric NodeIds (asyncua counts up from i=1000, so an
    attacker's own token reveals everyone's), but a ByteString of at least
    16 bytes or a Guid, and different for two sessions.
    """
    async with (
        healthy(gateway, identity),
        legit_client(gateway, identity) as first,
        legit_client(gateway, identity, "viewer") as second,
    ):
        tokens = [c.uaclient.protocol.authentication_token for c in (first, second)]
    for token in tokens:
        kind = token.NodeIdType
        assert kind in (ua.NodeIdType.ByteString, ua.NodeIdType.Guid), f"guessable token {token}"
        if kind == ua.NodeIdType.ByteString:
            assert len(token.Identifier) >= 16, f"token of {len(token.Identifier)} bytes: {token}"
    assert tokens[0] != tokens[1]


async def test_a_stolen_token_activates_nothing(gateway: Gateway, identity: Identity) -> None:
    """Finding 1 (b): ActivateSession with a live operator session's token takes nothing over.

    The attacker opens a None channel (no certificate, no password; asyncua
    opens one even with allow_none false), optionally creates a session of its
    own, then activates with the victim's real AuthenticationToken as
    anonymous, as the viewer, or as the operator with a wrong password.
    Required, for each of these six attempts: the activation is refused (any
    Bad code, a closed connection included), the attacker's Write of
    plc.setpoint = 77.0 with that token fails, and the setpoint stays 10.0.
    Afterwards the victim is untouched: its Read is Good, its data-change
    subscription (the same subscription id: not re-created by asyncua's
    client) keeps delivering, and its own Write works.
    """
    changes = DataChanges()
    async with healthy(gateway, identity), legit_client(gateway, identity) as victim:
        subscription = await victim.create_subscription(100, changes)
        await subscription.subscribe_data_change(victim.get_node(node("plc.wave")))
        assert await changes.fresh(), "the victim's subscription delivers nothing before the attack"
        subscription_id = subscription.subscription_id
        token = victim.uaclient.protocol.authentication_token
        problems: list[str] = []
        for own_session in (False, True):
            for user, password in IDENTITIES:
                attempt = f"{'after CreateSession' if own_session else 'on a new channel'}, "
                attempt += f"as {_who(user, password)}"
                async with none_channel(gateway, source=TAKEOVER) as (attacker, _):
                    if own_session:
                        await create_session(attacker, gateway)  # refused or not, it goes on
                    activation = await activate(
                        attacker, gateway, token=token, user=user, password=password
                    )
                    write = await write_setpoint(attacker, 77.0, token=token)
                if not activation.refused():
                    problems.append(f"{attempt}: ActivateSession was accepted")
                if not write.refused():
                    problems.append(f"{attempt}: the Write of 77.0 was accepted")
        setpoint = await _setpoint(victim)
        if setpoint.Value.Value != 10.0:
            problems.append(f"plc.setpoint is {setpoint.Value.Value}, not 10.0")
        if not setpoint.StatusCode.is_good():
            problems.append(f"the victim's Read is {setpoint.StatusCode.name}")
        if not await changes.fresh():
            problems.append("the victim's subscription delivered nothing within 5 s")
        if subscription.subscription_id != subscription_id:
            problems.append("the victim's subscription stopped and had to be re-created")
        for value in (12.5, 10.0):  # and back, as the next test expects it
            if (failure := await _write_and_see(victim, value)) is not None:
                problems.append(failure)
                break
        assert not problems, "\n".join(problems)


async def test_a_stolen_token_in_a_request_header_acts_for_nobody(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 1 (b): the victim's token in the headers of an attacker's own session.

    The attacker has an activated session of its own (anonymous on a None
    channel in the demo configuration; the viewer over SignAndEncrypt in the
    secure one) and sends Write plc.setpoint = 77.0 and CloseSession with the
    victim operator's token in the RequestHeader. Required: the Write fails
    (any Bad code), and the victim's session lives
    on (its next Read is Good) and the setpoint is what it was.
    """
    async with (
        healthy(gateway, identity),
        legit_client(gateway, identity) as victim,
        low_privilege_client(gateway, identity, source=HEADER) as attacker,
    ):
        token = victim.uaclient.protocol.authentication_token
        own = attacker.uaclient.protocol.authentication_token
        before = (await _setpoint(victim)).Value.Value
        write = await write_setpoint(attacker, 77.0, token=token)
        close = ua.CloseSessionRequest(DeleteSubscriptions=True)
        await call(attacker, close, ua.CloseSessionResponse, token=token)
        attacker.uaclient.protocol.authentication_token = own
        assert write.refused(), f"the Write with the victim's token: {write.codes()}"
        setpoint = await _setpoint(victim)
        assert setpoint.StatusCode.is_good(), "the victim's session did not survive"
        assert setpoint.Value.Value == before


async def test_refused_logins_are_logged_with_the_peer_address(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 1 (c): every refused login is logged with the peer's address.

    From 127.0.0.5: the operator with a wrong password (over SignAndEncrypt),
    an unknown user, and an activation with a stolen token on a None channel.
    Required: each is refused, and for each the gateway's log has a line with
    the attacker's `ip:port` that says it refused (refused, rejected, denied
    or failed).
    """
    mark = gateway.log_mark()
    peers: list[str] = []

    def logged(peer: str, text: str) -> bool:
        return any(peer in line and REFUSAL.search(line) for line in text.splitlines())

    async with healthy(gateway, identity), legit_client(gateway, identity) as victim:
        for user, password in (("operator", "wrong"), ("intruder", "guess")):
            client = plain_client(gateway, 5)
            binding = bound_to(client, LOGINS)
            await configure(client, gateway, identity, user, password)
            with pytest.raises((ua.UaError, ConnectionError, TimeoutError)):
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await client.connect()
            client.disconnect_socket()
            peers.append(binding.last)
        token = victim.uaclient.protocol.authentication_token
        async with none_channel(gateway, source=LOGINS) as (attacker, binding):
            activation = await activate(attacker, gateway, token=token, user=None)
            peers.append(binding.last)
        text = await gateway.wait_log(mark, lambda text: all(logged(p, text) for p in peers))
        problems = [f"no refusal logged with {peer}" for peer in peers if not logged(peer, text)]
        if not activation.refused():
            problems.append(f"the activation with a stolen token was accepted ({peers[-1]})")
        refusals = [line for line in text.splitlines() if REFUSAL.search(line)]
        assert not problems, "\n".join([*problems, "refusals logged:", *refusals])
