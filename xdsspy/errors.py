"""The exceptions xdsspy raises on purpose, so front ends can print them without a traceback."""

from __future__ import annotations


class XdsspyError(Exception):
    """Base of every error that deserves a one-line message rather than a traceback."""


class AddressError(XdsspyError, ValueError):
    """An address given on the command line could not be understood."""


class RecordingReadError(XdsspyError):
    """A file is not a readable recording (wrong magic, unsupported version, unreadable header)."""


class RecordingWriteError(XdsspyError):
    """A recording could not be created."""


class BootstrapError(XdsspyError):
    """An Envoy bootstrap cannot be read or rewritten: not YAML or JSON, no xDS cluster, a missing cluster."""
