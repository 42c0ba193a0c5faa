"""acquire_deals as a thread runs it: the machine file's deal keys reach the manager's AcquireDeals call."""

from __future__ import annotations

import asyncio
from pathlib import Path

from _devnet_helpers import FakeContext, ManualClock, devnet_config

from sealer_fsm.manager.devnet import DevnetManager
from sealer_fsm.runtime import IDLE, Outcome
from sealer_fsm.steps.allocation import acquire_deals


def _acquire(tmp_path: Path, sectors: int, **sealing: object) -> list[object]:
    devnet = DevnetManager(devnet_config(seed=7), tmp_path, {"a": tmp_path / "a"}, now=ManualClock().now)

    async def each() -> list[object]:
        results = []
        for _ in range(sectors):
            sector = await devnet.allocate_sector(None, None)
            data = {"sector_id": sector.id.name}
            results.append(await acquire_deals(FakeContext(data, {"manager": devnet}, tmp_path, **sealing)))
        return results

    return asyncio.run(each())


def test_min_deal_space_reaches_the_manager_and_a_sector_never_gets_less(tmp_path: Path) -> None:
    """Issue 10 #21: `min_deal_space` was read and ignored. With a quarter of the sector asked, every sector gets
    deals filling at least that much, or none (committed capacity)."""
    unbounded = _acquire(tmp_path / "any", 12, enable_deals=True)
    bounded = _acquire(tmp_path / "min", 12, enable_deals=True, min_deal_space=512)
    spaces = [sum(deal["piece_size"] for deal in result.data["deals"]) for result in bounded]
    assert all(space == 0 or space >= 512 for space in spaces)
    unbounded_spaces = [sum(deal["piece_size"] for deal in result.data["deals"]) for result in unbounded]
    assert any(0 < space < 512 for space in unbounded_spaces), "without the key some sectors get less"


def test_with_disable_cc_a_sector_whose_deals_fall_short_waits_instead(tmp_path: Path) -> None:
    results = _acquire(tmp_path, 3, enable_deals=True, disable_cc=True, min_deal_space=4096)
    assert results == [IDLE, IDLE, IDLE]
    assert not any(isinstance(result, Outcome) for result in results)
