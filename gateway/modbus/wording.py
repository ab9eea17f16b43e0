"""A device error as a user reads it: in words, said once (logs and `_Status.LastError`).

The error classes (DeviceTimeout, LinkDown…) are for code to branch on; their
messages already say what happened ("connect to 10.0.0.5:502 failed:
connection refused", "no response from … within 1 s"). Only a malformed
response needs its kind named, since its message describes the detail.
"""

from __future__ import annotations

from gateway.errors import DeviceError, MalformedResponse

__all__ = ["describe"]


def describe(error: DeviceError) -> str:
    """The error's message, with "malformed response" in front where that is the news."""
    text = str(error) or "no details"
    if isinstance(error, MalformedResponse):
        return f"malformed response: {text}"
    return text
