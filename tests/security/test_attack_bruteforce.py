"""Issue 14, finding 9 (a): guessing the operator's password against `gateway run`.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more). A module (and a
gateway) of its own: the guesses may lock the attacker's address out, which
must not touch any other test.
"""

from __future__ import annotations

import asyncio

import pytest
from asyncua import ua
from attackkit import Gateway, Identity
from healthkit import healthy
from uaclients import PASSWORDS, bound_to, configure, legit_client, plain_client, quietly
from uarequests import read_values

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

GUESSER = "127.0.0.15"
GUESSES = 20
#: A login answered later than this counts as refused (delayed).
LOGIN_TIMEOUT = 3.0


async def _login(gateway: Gateway, identity: Identity, password: str) -> str:
    """Log in as the operator from GUESSER: "accepted", "refused" or "delayed".

    Over SignAndEncrypt with the trusted certificate in the secure
    configuration (else the channel alone would refuse it); on a None channel,
    without a certificate, in the demo.
    """
    client = plain_client(gateway, LOGIN_TIMEOUT)
    bound_to(client, GUESSER)
    if gateway.secure:
        await configure(client, gateway, identity, "operator", password)
    else:
        client.set_user("operator")
        client.set_password(password)
    try:
        async with asyncio.timeout(LOGIN_TIMEOUT):
            await client.connect()
    except TimeoutError:
        client.disconnect_socket()
        return "delayed"
    except (ua.UaError, ConnectionError, OSError):
        client.disconnect_socket()
        return "refused"
    await quietly(client.disconnect())
    return "accepted"


async def test_password_guessing_locks_the_guesser_out(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 9 (a): 20 wrong passwords for `operator` from 127.0.0.15, one session
    attempt after another (stopping early once one is delayed beyond 3 s).

    Required: then the correct operator password from 127.0.0.15 is refused
    (locked out, or delayed beyond 3 s); the correct operator login from
    127.0.0.1 still works (within 10 s) and reads Good; and the healthy
    client and PLC checks hold.
    """
    async with healthy(gateway, identity):
        outcomes = []
        for guess in range(GUESSES):
            outcomes.append(await _login(gateway, identity, f"guess-{guess}"))
            if outcomes[-1] == "delayed":
                break
        assert "accepted" not in outcomes, outcomes
        after = await _login(gateway, identity, PASSWORDS["operator"])
        assert after != "accepted", (
            f"the right password from the guesser's address was accepted after {outcomes}"
        )
        async with legit_client(gateway, identity) as client:
            outcome = await read_values(client, ["plc.wave"])
            assert not outcome.refused(), outcome.codes()
