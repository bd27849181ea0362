"""One line per event on stdout, decoded: the --headless front end of `xdsspy proxy`.

It is `xdsspy show` of the live recording: the same lines (type, version,
nonce, verdict, the error of a NACK), printed as each event arrives. It runs in
the front-end process that follows the recording, so decoding never touches
the capture process that forwards Envoy's streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from xdsspy import model
from xdsspy.frontends import show


def print_events(events: Iterable[model.Event], out: TextIO, *, force_terminal: bool | None = None) -> None:
    """Print each event's line as soon as it is read: live output is never held back for batching."""
    printer = show.Printer(show.console_for(out, force_terminal=force_terminal), batch=1)
    view = show.Show()
    try:
        for event in events:
            printer.add(view.feed(event))
    finally:
        printer.add(view.finish())
        printer.flush()
