"""The operator's recovery stories, driven through the UI's keys against a real in-process worker."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, OptionList
from tui_harness import TICKET_EXPIRED, Script, Session, local_session, run

from sealer_fsm.runtime import FORCED_EVENT, Worker
from sealer_fsm.store import HistoryEntry
from sealer_fsm.tui._confirm_screen import ConfirmScreen
from sealer_fsm.tui._resume_picker import ResumePicker


def sector_history(worker: Worker, sector: str) -> list[HistoryEntry]:
    (task,) = worker.store.tasks_for_sector(sector)
    return worker.store.history(task.id)


def snapshot(worker: Worker, index: int) -> tuple:
    """Everything a cancelled dialog must leave as it was."""
    info = worker.thread(index)
    return info.sector, info.state, info.paused, info.last_error, len(worker.history(index))


async def paused_thread(session: Session, index: int) -> str:
    """Wait until thread `index` pauses on its expired ticket and the table shows it; returns its sector."""
    worker = session.worker
    assert worker is not None
    await session.wait_until(lambda: worker.thread(index).paused, f"thread {index} pauses")
    return await session.select_paused(index)


def test_resume_into_an_earlier_state_through_the_picker(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer", "snapup"], Script(fail_at={1: "TicketAssigned"})) as s:
            sector = await paused_thread(s, 1)
            assert TICKET_EXPIRED in s.cells(1)["error"]
            await s.pilot.press("r")
            assert isinstance(s.app.screen, ResumePicker)
            options = s.app.screen.query_one(OptionList)
            assert options.highlighted_option.id == "TicketAssigned"  # the current state is preselected
            assert "Abort" in [options.get_option_at_index(i).id for i in range(options.option_count)]
            await s.pick_state("TreeDBuilt")
            await s.pilot.press("tab")
            await s.type("ticket expired, new one")
            await s.pilot.press("enter")
            assert isinstance(s.app.screen, ConfirmScreen)
            what = str(s.app.screen.query_one("#what-happens").render())
            assert "TicketAssigned → TreeDBuilt, then runs assign_ticket" in what
            await s.pilot.press("y")

            def forced_back() -> list[HistoryEntry]:
                return [e for e in sector_history(s.worker, sector) if e.event == FORCED_EVENT]

            await s.wait_until(lambda: bool(forced_back()), "the worker records the resume")
            (jump,) = forced_back()
            assert (jump.from_state, jump.to_state, jump.actor) == ("TicketAssigned", "TreeDBuilt", "operator")
            assert jump.reason == "ticket expired, new one"
            await s.wait_until(
                lambda: [e.event for e in sector_history(s.worker, sector)][-1] != FORCED_EVENT,
                "the thread runs on from TreeDBuilt",
            )
            events = [e.event for e in sector_history(s.worker, sector)]
            assert events[events.index(FORCED_EVENT) + 1] == "AssignTicket"  # a new ticket was asked for

    run(scenario)


def test_abort_asks_for_confirmation_then_drops_the_sector(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer"], Script(fail_at={1: "TicketAssigned"})) as s:
            sector = await paused_thread(s, 1)
            await s.pilot.press("a")
            assert isinstance(s.app.screen, ConfirmScreen)
            what = str(s.app.screen.query_one("#what-happens").render())
            assert "TicketAssigned → Abort" in what and "cannot be undone" in what
            await s.type("ticket cannot be renewed")
            await s.pilot.press("enter")
            await s.wait_until(lambda: s.worker.store.tasks_for_sector(sector)[0].closed_at is not None, "aborted")
            (task,) = s.worker.store.tasks_for_sector(sector)
            assert task.state == "Abort"
            abort = sector_history(s.worker, sector)[-1]
            assert (abort.event, abort.actor, abort.reason) == ("Abort", "operator", "ticket cannot be renewed")
            await s.wait_until(lambda: s.worker.thread(1).sector not in (None, sector), "the thread takes a new task")

    run(scenario)


def test_cancelling_any_dialog_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer"], Script(fail_at={1: "TicketAssigned"})) as s:
            await paused_thread(s, 1)
            before = snapshot(s.worker, 1)
            # Escape in the picker.
            await s.pilot.press("r")
            await s.pick_state("TreeDBuilt")
            await s.pilot.press("escape")
            assert s.app.screen is s.screen
            # Escape at the confirmation that follows the picker.
            await s.pilot.press("r")
            await s.pick_state("Abort")
            await s.pilot.press("enter")
            assert isinstance(s.app.screen, ConfirmScreen)
            await s.pilot.press("n")
            assert s.app.screen is s.screen
            # Escape at the abort confirmation, with a reason already typed.
            await s.pilot.press("a")
            await s.type("oops")
            await s.pilot.press("escape")
            assert s.app.screen is s.screen
            for _ in range(5):  # let the worker and the refresh run: still nothing may change
                await s.pilot.pause(0.05)
            assert snapshot(s.worker, 1) == before
            assert "cancelled; nothing changed" in s.status()

    run(scenario)


def test_a_refused_state_is_shown_and_nothing_changes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer"], Script(fail_at={1: "TicketAssigned"})) as s:
            await paused_thread(s, 1)
            before = snapshot(s.worker, 1)
            await s.pilot.press("r")
            await s.pick_state("PC1Done")  # needs a PC1 output this task does not have
            await s.pilot.press("enter", "y")
            await s.wait_until(lambda: "needs task data" in s.status(), "the refusal is shown")
            assert "pc1_out" in s.status() and "force" in s.status()
            assert snapshot(s.worker, 1) == before
            assert s.app.is_running and s.app.screen is s.screen

    run(scenario)


def test_resume_or_abort_of_a_running_thread_is_refused_before_any_dialog(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer"], Script(step_seconds=0.05)) as s:
            await s.select(0)
            await s.pilot.press("a")
            assert s.app.screen is s.screen
            assert "is not paused" in s.status()

    run(scenario)


def test_pause_at_the_next_checkpoint_then_resume_as_it_is(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer"], Script(step_seconds=0.05)) as s:
            await s.select(0)
            await s.pilot.press("p")
            await s.wait_until(lambda: s.worker.thread(0).paused, "thread 0 pauses")
            assert s.worker.thread(0).last_error is None
            state = s.worker.thread(0).state
            await s.wait_until(lambda: s.cells(0)["thread"] == "Paused", "the table shows it")
            await s.pilot.press("r", "enter", "y")  # the current state is preselected: run it again
            await s.wait_until(lambda: not s.worker.thread(0).paused, "thread 0 runs again")
            assert FORCED_EVENT not in [e.event for e in s.worker.history(0) if e.from_state == state]

    run(scenario)


def test_pause_now_cancels_the_running_step(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer"], Script(step_seconds=5)) as s:
            await s.wait_until(lambda: s.worker.thread(0).thread_state.value == "Running", "a step runs")
            await s.select(0)
            await s.pilot.press("P")
            await s.wait_until(lambda: s.worker.thread(0).paused, "thread 0 pauses at once")

    run(scenario)


def test_marking_leaves_the_cursor_where_it_is(tmp_path: Path) -> None:
    """ "down, space, down, space" marks the two threads the cursor passed, and P pauses exactly those."""

    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer"] * 4, Script(step_seconds=0.3), refresh=0.25) as s:
            await s.select(0)
            await s.pilot.press("down", "space", "down", "space")
            assert s.screen.marked == {1, 2}
            assert s.table.selected_index() == 2
            await s.pilot.press("P")
            await s.wait_until(lambda: s.worker.thread(1).paused and s.worker.thread(2).paused, "1 and 2 pause")
            assert not s.worker.thread(0).paused and not s.worker.thread(3).paused

    run(scenario)


def test_enter_on_the_force_box_chooses_and_space_ticks_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(fail_at={1: "TicketAssigned"}, step_seconds=0.3)
        async with local_session(tmp_path, ["sealer", "sealer"], script, refresh=0.25) as s:
            await paused_thread(s, 1)
            for tick, forced in ((), False), (("space",), True):
                await s.pilot.press("r")
                await s.pick_state("TreeDBuilt")
                await s.pilot.press("tab", "tab", *tick)  # past the reason, onto the force box
                assert s.app.screen.query_one("#force", Checkbox).has_focus
                await s.pilot.press("enter")
                assert isinstance(s.app.screen, ConfirmScreen), "enter chose the state"
                what = str(s.app.screen.query_one("#what-happens").render())
                assert ("forced" in what) is forced, what
                await s.pilot.press("n")

    run(scenario)
