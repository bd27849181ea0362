"""Reading recordings written by other format versions.

FORMAT_VERSION is bumped only when an older reader would misread a new file;
adding fields or events does not need a bump, because protobuf readers skip
what they do not know. When a bump happens, add converters here that turn a
decoded older record into the current shape, keyed by the version they read
(the pattern of mitmproxy's io/compat.py).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsspy import errors
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import format as fmt


def _unchanged(record: pb.Record) -> pb.Record:
    return record


converters: dict[int, Callable[[pb.Record], pb.Record]] = {
    1: _unchanged,  # version 2 only added repeats (Message.same_as_seq), which version 1 never wrote
}
"""Maps an old format version to a function upgrading one of its records by one version."""


def check_version(version: int, path: str) -> None:
    if version == fmt.FORMAT_VERSION or version in converters:
        return
    if version > fmt.FORMAT_VERSION:
        raise errors.RecordingReadError(
            f"{path} uses recording format {version}, newer than this xdsspy reads "
            f"({fmt.FORMAT_VERSION}); upgrade xdsspy"
        )
    raise errors.RecordingReadError(f"{path} uses unknown recording format {version}")


def migrate(record: pb.Record, version: int) -> pb.Record:
    """Upgrade a record read from a file of the given version to the current format."""
    while version < fmt.FORMAT_VERSION:
        record = converters[version](record)
        version += 1
    return record
