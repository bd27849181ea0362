"""spawn(): named tasks that are kept alive until they finish."""

from __future__ import annotations

import asyncio
import gc

from xdsspy import aio


def test_spawned_task_is_named_and_survives_garbage_collection() -> None:
    async def scenario() -> None:
        done = asyncio.Event()

        async def work() -> str:
            await asyncio.sleep(0.01)
            done.set()
            return "ok"

        task = aio.spawn(work(), name="stream 7 upstream->envoy")
        assert task.get_name() == "stream 7 upstream->envoy"
        del task
        gc.collect()
        await asyncio.wait_for(done.wait(), 5)

    asyncio.run(scenario())
