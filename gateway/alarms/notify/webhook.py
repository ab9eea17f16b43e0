"""The webhook channel: POST the JSON body (aiohttp is imported here only).

Headers: Content-Type application/json, Idempotency-Key (the message's stable
id, the same on every retry), User-Agent, and the configured ones. A 2xx
answer delivers; a connection error, a timeout or a 5xx is retried; a 4xx is
a refusal (fix the URL or the token), marked failed. Neither the configured
header values nor the URL's query appear in a reason or a log line.
"""

from __future__ import annotations

import asyncio

import aiohttp

from gateway.alarms.notify.channels import Outgoing, PermanentError, TransientError
from gateway.config.notifications import WebhookChannel, redact_url

__all__ = ["WebhookSender"]

#: Bytes of a receiver's answer read (and dropped): enough to reuse the connection.
_ANSWER_LIMIT = 64 * 1024


class WebhookSender:
    """One webhook channel with its own connection pool."""

    def __init__(self, channel: WebhookChannel, *, user_agent: str) -> None:
        self.name = channel.name
        self._url = channel.url
        self._shown = redact_url(channel.url)
        self._headers = {
            **{key: value.get_secret_value() for key, value in channel.headers.items()},
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        self._timeout = aiohttp.ClientTimeout(total=channel.timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, outgoing: Outgoing) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {**self._headers, "Idempotency-Key": outgoing.message_id}
        try:
            async with self._session.post(
                self._url, data=outgoing.payload.encode(), headers=headers
            ) as response:
                await response.content.read(_ANSWER_LIMIT)
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, OSError) as error:
            raise TransientError(f"POST {self._shown}: {type(error).__name__}") from None
        except TimeoutError:
            raise TransientError(f"POST {self._shown}: no answer in time") from None
        if 200 <= status < 300:
            return
        text = f"POST {self._shown}: HTTP {status} {reason}".rstrip()
        if status >= 500 or status in (408, 429):
            raise TransientError(text)
        raise PermanentError(text)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)  # let the connector's transports close
