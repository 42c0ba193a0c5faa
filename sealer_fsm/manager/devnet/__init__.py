"""The embedded devnet sector manager (the default): a simulated chain for one miner, in `devnet.db`."""

from sealer_fsm.manager.devnet._chain import Draws, EpochClock, deal_payload
from sealer_fsm.manager.devnet._db import DATABASE_NAME
from sealer_fsm.manager.devnet._manager import CC_SHARE, DevnetManager
from sealer_fsm.manager.devnet._off_loop import OffLoopDevnet
from sealer_fsm.manager.devnet._server import DevnetServer, DevnetService

__all__ = [
    "CC_SHARE",
    "DATABASE_NAME",
    "DevnetManager",
    "DevnetServer",
    "DevnetService",
    "Draws",
    "EpochClock",
    "OffLoopDevnet",
    "deal_payload",
]
