"""Alarm notifications: routes → a durable outbox → channels, at least once.

routes.py     which transitions go to which channels; the JSON body (pure)
ratelimit.py  a per-channel sliding window; what goes in a digest (pure)
channels.py   the Sender interface, its errors, the log and mqtt channels
webhook.py    the webhook channel (aiohttp is imported here only)
email.py      the e-mail channel (aiosmtplib is imported here only)
deliver.py    Deliverer: takes due outbox rows, sends, retries, marks
"""

from gateway.alarms.notify.deliver import Deliverer
from gateway.alarms.notify.routes import Router

__all__ = ["Deliverer", "Router"]
