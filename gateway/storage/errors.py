"""Storage errors, and the one place SQLAlchemy's exceptions are mapped to them.

StorageError (gateway.errors)
├── StorageUnavailable   the database cannot be reached or is busy: retry later
└── SchemaTooNew         the database was migrated by a newer gateway: refuse it
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from gateway.errors import StorageError

__all__ = ["SchemaTooNew", "StorageError", "StorageUnavailable", "mapped_errors"]


class StorageUnavailable(StorageError):
    """The database did not answer, refused the connection or stayed locked."""


class SchemaTooNew(StorageError):
    """The schema carries a migration this gateway does not know: it may not read it right."""


def _describe(error: exc.SQLAlchemyError) -> str:
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _sqlite_busy(error: exc.DBAPIError) -> bool:
    """SQLITE_BUSY (and its extended codes): another connection holds the lock."""
    name = getattr(error.orig, "sqlite_errorname", None)
    return isinstance(name, str) and name.startswith("SQLITE_BUSY")


@contextmanager
def mapped_errors(action: str) -> Iterator[None]:
    """Raise SQLAlchemy errors as StorageError ("<action>: <first line of the cause>").

    Connection trouble, locks and timeouts are StorageUnavailable (worth a
    retry); anything else (a constraint, a bad statement) is a plain StorageError.
    """
    try:
        yield
    except exc.OperationalError as error:
        if _sqlite_busy(error):
            # sqlite3's "database is locked" does not say by whom, nor that we waited.
            raise StorageUnavailable(
                f"{action}: the database file stayed locked by another connection "
                "beyond the busy timeout"
            ) from error
        raise StorageUnavailable(f"{action}: {_describe(error)}") from error
    except (exc.InterfaceError, exc.TimeoutError) as error:
        raise StorageUnavailable(f"{action}: {_describe(error)}") from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise StorageUnavailable(f"{action}: {_describe(error)}") from error
        raise StorageError(f"{action}: {_describe(error)}") from error
    except exc.SQLAlchemyError as error:
        raise StorageError(f"{action}: {_describe(error)}") from error
