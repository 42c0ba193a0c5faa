"""The same UI attached to a real worker process over the control RPC, as `sealer-fsm tui --host` runs it."""

from __future__ import annotations

from pathlib import Path

from tui_harness import remote_session, run, worker_process

from sealer_fsm.runtime import FORCED_EVENT
from sealer_fsm.tui._confirm_screen import ConfirmScreen

# Thread 1's PC1 fails for good (an expired ticket, say): it pauses in TicketAssigned with every sector.
PC1_FAILS_ON_THREAD_1 = ("--threads", "2", "--fail", "pc1@1", "--step-seconds", "0.05")


def test_resume_into_a_chosen_state_through_the_picker_over_rpc(tmp_path: Path) -> None:
    async def scenario() -> None:
        with worker_process(tmp_path / "home", *PC1_FAILS_ON_THREAD_1) as worker:
            async with remote_session(worker) as s:
                await s.select_paused(1)
                assert s.cells(1)["state"] == "TicketAssigned"
                await s.pilot.press("r")
                await s.pick_state("TreeDBuilt")
                await s.pilot.press("tab")
                await s.type("new ticket")
                await s.pilot.press("enter")
                assert isinstance(s.app.screen, ConfirmScreen)
                await s.pilot.press("y")
                with worker.client() as client:

                    def events() -> list[dict]:
                        return client.call("SealerFsm.History", 1)["entries"]

                    await s.wait_until(
                        lambda: (
                            any(e["event"] == "AssignTicket" for e in events()[1:] if e["from"] == "TreeDBuilt")
                            and any(e["event"] == FORCED_EVENT for e in events())
                        ),
                        "the worker process jumps back and asks for a new ticket",
                    )
                    (jump,) = [e for e in events() if e["event"] == FORCED_EVENT]
                    assert (jump["from"], jump["to"], jump["actor"], jump["reason"]) == (
                        "TicketAssigned",
                        "TreeDBuilt",
                        "operator",
                        "new ticket",
                    )

    run(scenario)


def test_a_refused_state_over_rpc_is_shown_and_nothing_changes(tmp_path: Path) -> None:
    async def scenario() -> None:
        with worker_process(tmp_path / "home", *PC1_FAILS_ON_THREAD_1) as worker:
            async with remote_session(worker) as s:
                await s.select_paused(1)
                with worker.client() as client:
                    before = client.call("SealerFsm.History", 1)["entries"]
                    await s.pilot.press("r")
                    await s.pick_state("PC1Done")  # needs a PC1 output the task does not have
                    await s.pilot.press("enter", "y")
                    await s.wait_until(lambda: "needs task data" in s.status(), "the refusal is shown")
                    assert client.call("SealerFsm.History", 1)["entries"] == before
                assert s.cells(1)["state"] == "TicketAssigned" and s.cells(1)["thread"] == "Paused"
                assert s.app.is_running

    run(scenario)


def test_a_lost_worker_is_shown_and_the_ui_reconnects_when_it_is_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        home = tmp_path / "home"
        with worker_process(home, *PC1_FAILS_ON_THREAD_1) as first:
            port = first.port
            async with remote_session(first) as s:
                first.stop()
                await s.wait_until(lambda: "cannot reach the worker" in s.status(), "the lost connection is shown")
                assert "DISCONNECTED" in str(s.screen.query_one("#summary").render())
                assert s.table.shown_indices() == [0, 1]  # the last picture stays up
                with worker_process(home, *PC1_FAILS_ON_THREAD_1, port=port):
                    await s.wait_until(lambda: "reconnected" in s.status(), "the UI reconnects")
                    assert "DISCONNECTED" not in str(s.screen.query_one("#summary").render())
                    await s.select_paused(1)  # the paused thread is still paused after the restart

    run(scenario)
