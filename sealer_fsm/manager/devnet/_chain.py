"""The devnet's simulated chain: an epoch clock, chain randomness, and the seeded draws behind every choice.

Every "random" decision of the devnet (deal sizes, which sector fails, which call errors) is a pure function of
the configured `seed` and a key naming the decision, so a run is reproducible and a test can recompute any of
it (for example a deal's piece data from the seed and the deal id).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sealer_fsm.proofs import unpadded_size

Now = Callable[[], float]


class EpochClock:
    """Epochs since genesis, one per `block_time` seconds of the injected clock (tests pass their own `now`)."""

    def __init__(self, genesis: float, block_time: float, now: Now = time.time) -> None:
        self.genesis = genesis
        self.block_time = block_time
        self._now = now

    def now(self) -> float:
        return self._now()

    def head(self) -> int:
        if self.block_time <= 0:
            return 0
        return max(0, int((self._now() - self.genesis) / self.block_time))

    def seconds_until(self, epoch: int) -> float:
        return max(0.0, self.genesis + epoch * self.block_time - self._now())


class Draws:
    """Seeded, keyed pseudo-random values: the same (seed, key) always gives the same value."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _digest(self, *key: object) -> bytes:
        return hashlib.sha256(repr((self.seed, *key)).encode()).digest()

    def uniform(self, *key: object) -> float:
        """A value in [0, 1)."""
        return int.from_bytes(self._digest(*key)[:8], "big") / 2**64

    def chance(self, rate: float, *key: object) -> bool:
        return rate > 0 and self.uniform(*key) < rate

    def integer(self, low: int, high: int, *key: object) -> int:
        """An integer in [low, high]."""
        return low + int(self.uniform(*key) * (high - low + 1))

    def randomness(self, kind: str, epoch: int, miner: int) -> bytes:
        """Chain randomness (ticket or seed) for a miner at an epoch, 32 bytes."""
        return self._digest("randomness", kind, epoch, miner)

    def deal_payload(self, deal_id: int, size: int) -> bytes:
        """The raw data of a deal: a SHA-256 counter stream keyed by (seed, deal id)."""
        return deal_payload(self.seed, deal_id, size)


def deal_payload(seed: int, deal_id: int, size: int) -> bytes:
    """The raw bytes of devnet deal `deal_id` under `seed`; public so tests recompute CommP independently."""
    key = hashlib.sha256(f"sealer-fsm devnet deal {seed}:{deal_id}".encode()).digest()
    blocks = (size + 31) // 32
    stream = b"".join(hashlib.sha256(key + index.to_bytes(8, "little")).digest() for index in range(blocks))
    return stream[:size]


def deal_piece_sizes(draws: Draws, key: object, sector_size: int, max_deals: int | None) -> list[tuple[int, int]]:
    """(padded piece size, payload size) of the deals for one sector: 1 to 3 pieces that fit it once aligned.

    Pieces are at most a quarter of the sector (and 1 MiB) so a sector mixes deal data and pledge padding.
    """
    largest = max(128, min(sector_size // 4, 1 << 20))
    sizes = [128 << shift for shift in range(largest.bit_length()) if 128 << shift <= largest]
    wanted = draws.integer(1, 3, key, "count")
    if max_deals is not None:
        wanted = min(wanted, max_deals)
    pieces: list[tuple[int, int]] = []
    used = 0
    for index in range(wanted):
        size = sizes[draws.integer(0, len(sizes) - 1, key, index, "size")]
        aligned = -(-used // size) * size
        if aligned + size > sector_size:
            break
        used = aligned + size
        low = unpadded_size(size // 2) + 1 if size > 128 else 1
        pieces.append((size, draws.integer(low, unpadded_size(size), key, index, "payload")))
    return pieces
