"""Named asyncio tasks that stay referenced until they finish.

asyncio keeps only a weak reference to a task, so a task nobody holds can be
garbage-collected mid-flight; spawn() keeps one and gives every task a name
that shows up in debugging output. It is the only place that creates tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any
from typing import TypeVar

_T = TypeVar("_T")
_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, _T], *, name: str) -> asyncio.Task[_T]:
    """Start coro as a task called name and keep it referenced until it is done."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
