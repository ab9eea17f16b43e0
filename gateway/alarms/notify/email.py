"""The e-mail channel: SMTP with STARTTLS or implicit TLS (aiosmtplib is imported here only).

The subject and body are the channel's templates filled from the JSON body
(a digest gets a subject of its own and lists its messages). The Message-ID
is the notification's stable id, so a mail system can drop a duplicate.
"""

from __future__ import annotations

import string
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib

from gateway.alarms.notify.channels import Outgoing, PermanentError, TransientError
from gateway.config.notifications import TEMPLATE_FIELDS, EmailChannel

__all__ = ["EmailSender", "render_email"]


def _fill(template: str, fields: dict[str, Any]) -> str:
    values = {
        key: "" if fields.get(key) is None else str(fields.get(key)) for key in TEMPLATE_FIELDS
    }
    try:
        return string.Formatter().vformat(template, (), values)
    except (KeyError, IndexError, ValueError):
        return template  # the config check refuses these; never lose a message over one


def render_email(channel: EmailChannel, outgoing: Outgoing, *, domain: str) -> EmailMessage:
    """The message for one notification or digest."""
    fields = outgoing.fields
    message = EmailMessage()
    if fields.get("digest"):
        subject = f"{fields['count']} alarm notifications (digest)"
        lines = [_fill(channel.subject, item) for item in fields.get("messages", [])]
        if fields.get("omitted"):
            lines.append(f"… and {fields['omitted']} more")
        text = "\n".join(lines) + "\n"
    else:
        subject, text = _fill(channel.subject, fields), _fill(channel.body, fields)
    message["Subject"] = " ".join(subject.split())[:250]
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{outgoing.message_id}@{domain}>"
    message.set_content(text)
    return message


class EmailSender:
    """One e-mail channel: a connection per message (alarms are few; a digest caps a burst)."""

    def __init__(self, channel: EmailChannel, *, domain: str) -> None:
        self.name = channel.name
        self._channel = channel
        self._domain = domain
        url = urlsplit(channel.smtp)
        self._host = url.hostname or ""
        self._implicit_tls = url.scheme == "smtps"
        self._port = url.port or (465 if self._implicit_tls else 587)

    async def send(self, outgoing: Outgoing) -> None:
        channel = self._channel
        message = render_email(channel, outgoing, domain=self._domain)
        where = f"SMTP {self._host}:{self._port}"
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=channel.username,
                password=None if channel.password is None else channel.password.get_secret_value(),
                use_tls=self._implicit_tls,
                start_tls=False if self._implicit_tls else channel.starttls,
                timeout=channel.timeout,
                cert_bundle=None if channel.tls_ca is None else str(channel.tls_ca),
            )
        except aiosmtplib.SMTPAuthenticationError as error:
            raise PermanentError(f"{where}: login refused ({error.code})") from None
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused) as error:
            raise PermanentError(f"{where}: address refused ({type(error).__name__})") from None
        except aiosmtplib.SMTPResponseException as error:
            text = f"{where}: answer {error.code}"
            if 500 <= error.code < 600:
                raise PermanentError(text) from None
            raise TransientError(text) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # The library's text names the host and what failed, never the password.
            detail = " ".join(str(error).split())[:200]
            raise TransientError(f"{where}: {type(error).__name__} {detail}".rstrip()) from None

    async def close(self) -> None:
        return None
