"""`proofs.unseal_range`: a sector's data read back from its replica, sealed or upgraded, any range of it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    Cancelled,
    CancelToken,
    SnapUpdate,
    TreeInputError,
    fr32_pad,
    padded_range,
    precommit_phase2,
    seal_pre_commit_phase1,
    snap_encode_into,
    tree_root_of_file,
    unseal_range,
    zero_commitment,
)
from sealer_fsm.proofs import _unseal as unseal_module

SIZE, PROOF, MINER, NUMBER = 2048, 5, 1000, 7
CAPACITY = 2032
TICKET = bytes(range(32))


def _stage(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fr32_pad(data))
    return path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, Path]:
    """A 2KiB sector sealed with random data: (data, CommD, replica)."""
    folder = tmp_path_factory.mktemp("sealed")
    data = random.Random(7).randbytes(CAPACITY)
    staged = _stage(folder / "unsealed", data)
    comm_d = tree_root_of_file(staged)
    seal_pre_commit_phase1(
        folder / "cache", miner=MINER, sector_number=NUMBER, ticket=TICKET, comm_d=comm_d, proof_type=PROOF
    )
    precommit_phase2(folder / "cache", folder / "sealed", SIZE, staged)
    return data, comm_d, folder / "sealed"


def unsealed_bytes(scratch: Path, replica: Path, comm_d: bytes, offset: int, size: int, **options: object) -> bytes:
    out = scratch / "out"
    result = unseal_range(
        scratch / "cache",
        replica,
        out,
        miner=MINER,
        sector_number=NUMBER,
        ticket=TICKET,
        comm_d=comm_d,
        proof_type=PROOF,
        offset=offset,
        num_bytes=size,
        **options,  # type: ignore[arg-type]
    )
    assert result.bytes_written == size
    return out.read_bytes()


def test_the_whole_sector_comes_back(tmp_path: Path, sealed: tuple[bytes, bytes, Path]) -> None:
    data, comm_d, replica = sealed
    assert unsealed_bytes(tmp_path, replica, comm_d, 0, CAPACITY) == data


@pytest.mark.parametrize("chunk", [128, 256, 1 << 20])
def test_a_piece_range_comes_back_whatever_the_chunking(
    tmp_path: Path, sealed: tuple[bytes, bytes, Path], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(unseal_module, "_CHUNK", chunk)
    data, comm_d, replica = sealed
    assert unsealed_bytes(tmp_path, replica, comm_d, 508, 508) == data[508:1016]  # the second 512-byte piece


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, CAPACITY - 1), size=st.integers(1, CAPACITY), chunk=st.sampled_from([128, 384, 4096]))
def test_any_unpadded_range_comes_back(
    tmp_path: Path, sealed: tuple[bytes, bytes, Path], offset: int, size: int, chunk: int
) -> None:
    size = min(size, CAPACITY - offset)
    data, comm_d, replica = sealed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(unseal_module, "_CHUNK", chunk)
        assert unsealed_bytes(tmp_path, replica, comm_d, offset, size) == data[offset : offset + size]


def test_padded_range_covers_whole_fr32_blocks() -> None:
    assert padded_range(0, 127) == (0, 128)
    assert padded_range(127, 127) == (128, 256)
    assert padded_range(100, 30) == (0, 256)
    assert padded_range(508, 508) == (512, 1024)


def test_an_upgraded_replica_gives_the_new_data(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    key = seal_pre_commit_phase1(
        cc / "cache", miner=MINER, sector_number=NUMBER, ticket=TICKET, comm_d=zero_commitment(SIZE), proof_type=PROOF
    )
    old = precommit_phase2(cc / "cache", cc / "sealed", SIZE, None)
    assert key.layers
    new_data = random.Random(11).randbytes(CAPACITY)
    staged = _stage(tmp_path / "new" / "unsealed", new_data)
    update = snap_encode_into(cc / "sealed", cc / "cache", staged, tmp_path / "update", tmp_path / "update-cache", SIZE)
    assert update.comm_r_old == old.comm_r
    snap = SnapUpdate(comm_d_new=update.comm_d_new, comm_r_old=old.comm_r)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    unsealed = unsealed_bytes(scratch, tmp_path / "update", zero_commitment(SIZE), 1016, 1016, update=snap)
    assert unsealed == new_data[1016:2032]
    # Without the update's values, the same replica decodes to something else.
    assert unsealed_bytes(scratch, tmp_path / "update", zero_commitment(SIZE), 1016, 1016) != new_data[1016:2032]


def test_a_wrong_ticket_decodes_to_other_bytes(tmp_path: Path, sealed: tuple[bytes, bytes, Path]) -> None:
    data, comm_d, replica = sealed
    out = tmp_path / "out"
    unseal_range(
        tmp_path / "cache",
        replica,
        out,
        miner=MINER,
        sector_number=NUMBER,
        ticket=bytes(32),
        comm_d=comm_d,
        proof_type=PROOF,
        offset=0,
        num_bytes=127,
    )
    assert out.read_bytes() != data[:127]


@pytest.mark.parametrize(("offset", "size"), [(-1, 10), (0, 0), (2000, 33), (0, CAPACITY + 1)])
def test_a_range_outside_the_sector_is_refused(
    tmp_path: Path, sealed: tuple[bytes, bytes, Path], offset: int, size: int
) -> None:
    _, comm_d, replica = sealed
    with pytest.raises(ValueError, match="not a range of a sector holding 2032 bytes"):
        unsealed_bytes(tmp_path, replica, comm_d, offset, size)
    assert not (tmp_path / "cache").exists()


def test_a_missing_or_short_replica_is_named(tmp_path: Path, sealed: tuple[bytes, bytes, Path]) -> None:
    _, comm_d, replica = sealed
    with pytest.raises(TreeInputError, match=r"the replica .*missing"):
        unsealed_bytes(tmp_path, tmp_path / "nothing", comm_d, 0, 127)
    short = tmp_path / "short"
    short.write_bytes(replica.read_bytes()[:1024])
    with pytest.raises(TreeInputError, match="is 1024 bytes; expected 2048"):
        unsealed_bytes(tmp_path, short, comm_d, 0, 127)


def test_a_replica_node_outside_the_field_is_refused_and_nothing_is_written(
    tmp_path: Path, sealed: tuple[bytes, bytes, Path]
) -> None:
    _, comm_d, _ = sealed
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(b"\xff" * 2048)
    (tmp_path / "out").write_bytes(b"earlier")
    with pytest.raises(TreeInputError, match="cannot be decoded"):
        unsealed_bytes(tmp_path, corrupt, comm_d, 0, 127)
    assert (tmp_path / "out").read_bytes() == b"earlier"
    assert not (tmp_path / "out.tmp").exists()


def test_a_cancelled_unseal_leaves_no_output(tmp_path: Path, sealed: tuple[bytes, bytes, Path]) -> None:
    _, comm_d, replica = sealed
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        unsealed_bytes(tmp_path, replica, comm_d, 0, 127, cancel=token)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.tmp").exists()
