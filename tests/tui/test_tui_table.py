"""The table as the worker changes under it: always right, cursor and scroll kept; then filter and marks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tui_harness import Script, Session, local_session, run

from sealer_fsm.tui import ThreadRow
from sealer_fsm.tui._confirm_screen import ConfirmScreen
from sealer_fsm.tui._format import dash
from sealer_fsm.tui._thread_table import MARK, row_cells


def assert_table_matches_worker(session: Session) -> None:
    """Every row says what the worker says about that thread right now, in thread order."""
    assert session.worker is not None
    infos = session.worker.threads()
    assert session.table.shown_indices() == [info.index for info in infos]
    for info in infos:
        cells = session.cells(info.index)
        assert cells == {
            "index": f" {info.index}",
            "plan": info.plan,
            "sector": dash(info.sector),
            "state": dash(info.state),
            "stage": info.stage,
            "thread": info.thread_state.value,
            "elapsed": cells["elapsed"],
            "retry": str(info.retry),
            "error": dash(info.last_error),
        }


def test_the_table_follows_the_threads_and_keeps_cursor_and_scroll(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "snapup"] * 20, Script(step_seconds=0.05)) as s:
            await s.select(35)
            await s.pilot.pause(0.1)
            scroll_y = s.table.scroll_y
            assert scroll_y > 0  # thread 35 is below the first screenful
            states_seen = set()
            for _ in range(15):
                await s.pilot.pause(0.1)
                await s.screen.refresh_threads()
                assert_table_matches_worker(s)
                assert s.table.selected_index() == 35
                assert s.table.scroll_y == scroll_y
                states_seen.update((info.index, info.state) for info in s.worker.threads())
            assert len(states_seen) > 40  # threads changed state while we watched

    run(scenario)


def test_filter_then_mark_several_threads_and_abort_them_all(tmp_path: Path) -> None:
    fail_at = {0: "PieceAdded", 1: "TicketAssigned", 2: "TreeDBuilt", 3: "TicketAssigned"}

    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer", "snapup", "sealer"], Script(fail_at=fail_at)) as s:
            await s.wait_until(lambda: all(info.paused for info in s.worker.threads()), "every thread pauses")
            sectors = {info.index: info.sector for info in s.worker.threads()}

            await s.pilot.press("slash")
            await s.type("snapup")
            assert s.table.shown_indices() == [2]
            await s.pilot.press(*["backspace"] * len("snapup"))
            await s.type("ticketassigned")  # case does not matter
            await s.pilot.press("enter")
            assert s.table.shown_indices() == [1, 3]
            assert "filter 'ticketassigned': 2 shown" in str(s.screen.query_one("#summary").render())

            await s.select(1)
            await s.pilot.press("space", "down", "space")  # marking leaves the cursor where it is
            assert s.screen.marked == {1, 3}
            assert s.cells(1)["index"] == f"{MARK}1" and s.cells(3)["index"] == f"{MARK}3"
            await s.pilot.press("a")
            assert isinstance(s.app.screen, ConfirmScreen)
            what = str(s.app.screen.query_one("#what-happens").render())
            assert f"thread 1 ({sectors[1]})" in what and f"thread 3 ({sectors[3]})" in what
            await s.pilot.press("enter")

            def closed_in_abort(index: int) -> bool:
                (task,) = s.worker.store.tasks_for_sector(sectors[index])
                return task.closed_at is not None and task.state == "Abort"

            await s.wait_until(lambda: closed_in_abort(1) and closed_in_abort(3), "both marked tasks are aborted")
            assert s.screen.marked == set()
            assert s.worker.thread(0).sector == sectors[0] and s.worker.thread(2).sector == sectors[2]  # untouched
            await s.pilot.press("escape")
            assert s.table.shown_indices() == [0, 1, 2, 3]

    run(scenario)


def test_a_simulated_stage_says_so_in_the_table() -> None:
    row = ThreadRow(0, "sealer", "s-t01000-1", "PC1Done", "PC2", True, "Running", 3.0, 0, None, False)
    assert row_cells(row, marked=False)["stage"] == ("PC2 (simulated)", "italic")
    assert row_cells(replace(row, simulated=False, stage="TreeD"), marked=False)["stage"] == ("TreeD", "")
