"""The controller for a worker in another process, over its control RPC (`sealer-fsm tui --host HOST:PORT`)."""

from __future__ import annotations

import asyncio
from typing import Any

from sealer_fsm.control.client import ControlClient, ControlClientError
from sealer_fsm.tui._controller import ControllerError, HistoryRow, PlanView, ThreadRow, WorkerSummary


class RemoteController:
    """Each call runs the blocking client in a worker thread, one at a time (the client is not thread-safe).

    A JSON-RPC error is a refusal (nothing changed); any other failure means the worker could not be reached,
    which the UI shows as a lost connection and retries on its next refresh.
    """

    def __init__(self, client: ControlClient) -> None:
        self._client = client
        self._one_call_at_a_time = asyncio.Lock()

    async def _call(self, method: str, *params: Any) -> Any:
        async with self._one_call_at_a_time:
            try:
                return await asyncio.to_thread(self._client.call, method, *params)
            except ControlClientError as error:
                raise ControllerError(str(error), connection_lost=error.code is None) from error

    async def worker_info(self) -> WorkerSummary:
        return WorkerSummary.from_info(await self._call("SealerFsm.Info"))

    async def threads(self) -> list[ThreadRow]:
        return [ThreadRow.from_worker_info(info) for info in await self._call("VenusWorker.WorkerList")]

    async def pause(self, index: int, now: bool) -> bool:
        return bool(await self._call("SealerFsm.Pause", index, now))

    async def resume(self, index: int, state: str | None, force: bool, reason: str | None) -> None:
        await self._call("SealerFsm.Resume", index, state, force, reason)

    async def history(self, index: int) -> list[HistoryRow]:
        result = await self._call("SealerFsm.History", index)
        return [HistoryRow.from_json(entry) for entry in result["entries"]]

    async def plan(self, index: int) -> PlanView:
        result = await self._call("SealerFsm.PlanOf", index)
        return PlanView.from_json(result["plan"], result["state"])
