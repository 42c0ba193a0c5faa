"""What the operator can read at 80x24 and at 200x50: the table by priority, the detail pane whole, plan warnings."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tui_harness import Script, Session, local_session, run

from sealer_fsm.plans import SHIPPED_PLANS_DIR
from sealer_fsm.tui._confirm_screen import ConfirmScreen

LONG_ERROR = "the ticket expired at epoch 1234 while PC1 waited: " + " ".join(f"detail{i}" for i in range(30)) + " end"


def words(text: str) -> str:
    """The text's words, without line breaks, runs of spaces or scrollbar marks."""
    return " ".join(re.sub("[\u2580-\u259f\u2594]", " ", text).split())


def table_lines(session: Session) -> list[str]:
    """The table's lines on screen, its header first; none while the screen is still being laid out."""
    lines = session.screen_text()
    header = next((at for at, line in enumerate(lines) if re.match(r"^\s*#\s", line)), None)
    end = next((at for at, line in enumerate(lines) if line.startswith("──")), None)
    return [] if header is None or end is None else lines[header:end]


def test_at_80_columns_the_important_columns_come_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(fail_at={1: "TicketAssigned"}, step_seconds=0.3, failure=LONG_ERROR)
        async with local_session(tmp_path, ["sealer", "sealer"], script, size=(80, 24), refresh=0.25) as s:
            await s.select_paused(1)
            await s.wait_until(lambda: len(table_lines(s)) == 3, "the table shows")
            header, *rows = table_lines(s)
            assert header.split() == ["#", "sector", "state", "thread", "elapsed", "last", "error"]
            paused = next(line for line in rows if "TicketAssigned" in line)
            assert "Paused" in paused and "permanent: the t" in paused and paused.rstrip().endswith("…")
            # The detail pane says what the table left out (plan, stage) and the whole last error, wrapped.
            pane = words(" ".join(s.screen_text()))
            assert "sealer: TicketAssigned [PC1]" in pane
            assert words(f"last error: permanent: {LONG_ERROR}") in pane

    run(scenario)


def test_at_200_columns_every_column_shows_in_full(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer"], Script(step_seconds=0.3), size=(200, 50), refresh=0.25) as s:
            await s.wait_until(lambda: bool(table_lines(s)), "the table shows")
            header, *_ = table_lines(s)
            assert header.split() == [
                *("#", "plan", "sector", "state", "stage", "thread", "elapsed", "retry", "last", "error")
            ]

    run(scenario)


def test_the_history_shows_who_acted_and_why_beside_a_long_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(fail_at={1: "TicketAssigned"}, step_seconds=0.3, failure=LONG_ERROR)
        async with local_session(tmp_path, ["sealer", "sealer"], script, size=(80, 24), refresh=0.25) as s:
            await s.select_paused(1)
            script.step_seconds = 60  # the thread then stays in TreeDBuilt while we look
            await s.pilot.press("r")
            await s.pick_state("TreeDBuilt")
            await s.pilot.press("tab")
            await s.type("new ticket")
            await s.pilot.press("enter")
            assert isinstance(s.app.screen, ConfirmScreen)
            await s.pilot.press("y")
            await s.wait_until(
                lambda: any("SetState" in line and "operator: new" in line for line in s.screen_text()),
                "the resume, by whom and why, shows in the history",
            )
            lines = s.screen_text()
            failure_row = next(line for line in lines if "in TicketAssigned" in line)
            assert "permanent: the" in failure_row and words(failure_row).endswith(" step")

    run(scenario)


def test_a_refused_plan_edit_shows_in_the_header(tmp_path: Path) -> None:
    """The operator edits the plan a thread runs into something that does not load: the worker keeps the previous
    version, and the header says so (until now only the log did). A plan name longer than the old fixed column
    shows whole."""
    plan_file = tmp_path / "sealer-checked.yaml"
    plan_file.write_text(
        (SHIPPED_PLANS_DIR / "sealer.yaml").read_text().replace("plan: sealer", "plan: sealer_checked")
    )

    async def scenario() -> None:
        async with local_session(tmp_path, [str(plan_file)], Script(step_seconds=0.01), size=(200, 50)) as s:
            await s.wait_until(
                lambda: any(" sealer_checked " in line for line in table_lines(s)), "the table shows the plan whole"
            )
            plan_file.write_text(plan_file.read_text().replace("stage: AcquireDeals", "stage: " + "[" * 5000))
            os.utime(plan_file, (1, 1))  # a different modification time, however quick the edit
            await s.wait_until(lambda: bool(s.worker.plan_warnings()), "the worker refuses the edit")
            await s.wait_until(
                lambda: "plan edit refused" in str(s.screen.query_one("#summary").render()), "the header says so"
            )
            header = words(" ".join(s.screen_text()[:3]))
            assert f"{plan_file} does not load; its threads keep the previous version" in header
            assert "nested more than 32 levels deep" in header
            sectors = len(s.worker.store.tasks())
            await s.wait_until(lambda: len(s.worker.store.tasks()) > sectors + 2, "the thread keeps taking tasks")

    run(scenario)
