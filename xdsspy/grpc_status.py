"""gRPC status codes and their names, without importing grpcio (readers of recordings do not need it)."""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    """The status codes of gRPC's spec (doc/statuscodes.md), by name."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


NAMES = tuple(code.name for code in Code)


def name(code: int) -> str:
    return NAMES[code] if 0 <= code < len(NAMES) else f"CODE_{code}"
