"""How a replay paces its pushes, and how long it waits for an answer: shared by the engine and the CLI."""

from __future__ import annotations

import enum


class Mode(enum.StrEnum):
    FAST = "fast"  # each push as soon as the protocol allows
    REALTIME = "realtime"  # the recorded spacing, divided by the speed
    STEP = "step"  # each push when the user says so


ANSWER_TIMEOUT_S = 30.0
"""How long a replay waits for the fresh Envoy to settle a push. Above Envoy's 15 s initial fetch
timeout: a cluster that warms waits that long for its endpoints before Envoy ACKs it."""
