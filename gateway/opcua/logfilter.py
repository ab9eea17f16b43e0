"""Quiets asyncua's ERROR line for faults a client caused (refused logins, writes…)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["SERVICE_FAULT", "quiet_client_faults"]

#: asyncua's message for every service fault it answers, at ERROR.
SERVICE_FAULT = "sending service fault response: %s (%s)"
_LOGGER = "asyncua.server.uaprocessor"


class _ClientFaults(logging.Filter):
    """Drops asyncua's ERROR line for every fault a client caused.

    A refused login or write, a client deleting a subscription that is already
    gone: each is the client's business, answered with a status code, and the
    gateway logs its own WARNING where it matters (a refused login, an untrusted
    certificate). asyncua adds `ERROR … sending service fault response` to each,
    which reads like a gateway failure in an operator's log. Kept with -vv
    (debug), where every detail is wanted.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == SERVICE_FAULT and not logging.getLogger().isEnabledFor(logging.DEBUG)
        )


@contextlib.contextmanager
def quiet_client_faults() -> Iterator[None]:
    """The filter on asyncua's request processor logger while the block runs."""
    logger = logging.getLogger(_LOGGER)
    quiet = _ClientFaults()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
