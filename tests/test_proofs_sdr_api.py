"""The PC1 API of sealer_fsm.proofs: registered proofs and replica ids, parent caches, labels and layer files."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm import proofs
from sealer_fsm.proofs import _sdr_reference as reference
from sealer_fsm.proofs._parent_cache import PUBLISHED_DIGESTS

# create_label/multi.rs, 64 nodes, replica id 32 bytes of 09, 11 layers (see test_proofs_sdr_native.py)
LAST_LABEL_64_V1_1 = "cfef0db78bf3b3ab9f1169774d2e7a77bc9054499d954834b51ca7c788110206"
SIZES = {0: 2 << 10, 1: 8 << 20, 2: 512 << 20, 3: 32 << 30, 4: 64 << 30}


# -- registered proofs, porep id, replica id -----------------------------------------------------------------


@pytest.mark.parametrize("proof_type", range(20))
def test_every_registered_proof_has_its_size_api_version_and_layers(proof_type: int) -> None:
    proof = proofs.seal_proof(proof_type)
    assert proof.sector_size == SIZES[proof_type % 5]
    assert proof.api_version == ("1.0.0" if proof_type < 5 else "1.1.0" if proof_type < 10 else "1.2.0")
    assert proof.layers == (11 if proof.sector_size >= 32 << 30 else 2)
    assert proof.porep_id == proofs.porep_id(proof_type) == bytes([proof_type]) + bytes(31)
    assert proof.nodes * 32 == proof.sector_size


def test_names_and_default_proof_types_follow_the_reference() -> None:
    assert proofs.seal_proof(5).name == "StackedDrg2KiBV1_1"
    assert proofs.seal_proof(13).name == "StackedDrg32GiBV1_1_Feat_SyntheticPoRep"
    assert [proofs.default_proof_type(size) for size in SIZES.values()] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("bad", [20, -1, True, "5", 2.0])
def test_an_unregistered_proof_id_is_refused_in_one_line(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^seal proof type .* is not registered \(registered ids are 0 to 19\)$"):
        proofs.seal_proof(bad)  # type: ignore[arg-type]


def test_an_unregistered_sector_size_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"sector size 4096 has no registered seal proof \(sizes: 2KiB, 8MiB"):
        proofs.default_proof_type(4096)


@pytest.mark.parametrize(
    ("miner", "encoded"), [(0, "00"), (127, "7f"), (128, "8001"), (1000, "e807"), (2**63, "80" * 9 + "01")]
)
def test_the_prover_id_is_the_miner_ids_unsigned_varint(miner: int, encoded: str) -> None:
    assert proofs.prover_id(miner) == bytes.fromhex(encoded).ljust(32, b"\0")


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
def test_the_replica_id_is_the_truncated_sha256_of_its_five_inputs(miner: int, number: int, ticket: bytes) -> None:
    comm_d = proofs.zero_commitment(2048)
    digest = hashlib.sha256(
        proofs.prover_id(miner) + number.to_bytes(8, "big") + ticket + comm_d + bytes([5]) + bytes(31)
    ).digest()
    assert proofs.replica_id(miner, number, ticket, comm_d, 5) == digest[:31] + bytes([digest[31] & 0x3F])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((1000, 1, bytes(31), bytes(32), 5), "the ticket must be 32 bytes, got 31 bytes"),
        ((1000, 1, bytes(32), bytes(33), 5), "the CommD must be 32 bytes, got 33 bytes"),
        ((1000, 1, "00" * 32, bytes(32), 5), "the ticket must be 32 bytes, got '00"),
        ((-1, 1, bytes(32), bytes(32), 5), "the miner id must be an integer from 0 to 2^64-1, got -1"),
        ((1000, 2**64, bytes(32), bytes(32), 5), "the sector number must be an integer from 0 to 2^64-1"),
        ((1000, 1, bytes(32), bytes(32), 42), "seal proof type 42 is not registered"),
    ],
)
def test_bad_replica_id_inputs_are_refused_naming_the_value(arguments: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace("^", r"\^")):
        proofs.replica_id(*arguments)  # type: ignore[arg-type]


# -- parent caches ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("proof_type", range(10))
def test_cache_file_names_are_those_of_the_published_manifest(proof_type: int) -> None:
    proof = proofs.seal_proof(proof_type)
    name = proofs.parent_cache_name(proof.porep_id, proof.nodes)
    assert name.removesuffix(".cache") in PUBLISHED_DIGESTS


@pytest.mark.parametrize("proof_type", [0, 5, 1, 6])
def test_generated_caches_match_the_published_digests(proof_type: int, tmp_path: Path) -> None:
    with proofs.open_parent_cache(proof_type, tmp_path) as cache:
        assert cache.generated and cache.verified
        assert cache.path is not None and cache.path.parent == tmp_path
        assert cache.sha256 == hashlib.sha256(cache.path.read_bytes()).hexdigest()
    with proofs.open_parent_cache(proof_type, tmp_path) as again:
        assert not again.generated and again.verified
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".cache", ".lock"]


def test_a_synthetic_porep_cache_has_no_published_digest_and_says_so(tmp_path: Path) -> None:
    with proofs.open_parent_cache(10, tmp_path) as cache:
        assert not cache.verified and cache.published_digest is None
        assert bytes(cache.data) == reference.parents_table(proofs.porep_id(10), 64, "1.2.0")


def test_the_environment_variable_chooses_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIL_PROOFS_PARENT_CACHE", str(tmp_path / "from-env"))
    proofs.configure_parent_cache_dir(tmp_path / "configured")
    try:
        assert proofs.parent_cache_dir() == tmp_path / "from-env"
        monkeypatch.delenv("FIL_PROOFS_PARENT_CACHE")
        assert proofs.parent_cache_dir() == tmp_path / "configured"
        proofs.configure_parent_cache_dir(None)
        assert proofs.parent_cache_dir() == Path("/var/tmp/filecoin-parents")
    finally:
        proofs.configure_parent_cache_dir(None)


def test_a_corrupt_cache_is_refused_in_one_line_until_regenerated(tmp_path: Path) -> None:
    proofs.open_parent_cache(5, tmp_path).close()
    path = next(tmp_path.glob("*.cache"))
    corrupt = bytearray(path.read_bytes())
    corrupt[1000] ^= 1
    path.write_bytes(bytes(corrupt))
    with pytest.raises(proofs.ParentCacheError) as refused:
        proofs.open_parent_cache(5, tmp_path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "is corrupt" in message
    assert f"sealer-fsm proofs parent-cache --sector-size 2KiB --proof-type 5 --dir {tmp_path} --regenerate" in message
    with proofs.open_parent_cache(5, tmp_path, regenerate=True) as rebuilt:
        assert rebuilt.generated and rebuilt.verified


def test_a_cache_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    proofs.open_parent_cache(6, tmp_path).close()
    path = next(tmp_path.glob("*.cache"))
    os.truncate(path, 1000)
    with pytest.raises(proofs.ParentCacheError, match=r"has 1000 bytes where the 8MiB graph needs 14680064"):
        proofs.open_parent_cache(6, tmp_path)


def test_what_a_killed_generation_left_is_replaced(tmp_path: Path) -> None:
    proof = proofs.seal_proof(6)
    name = proofs.parent_cache_name(proof.porep_id, proof.nodes)
    (tmp_path / (name + ".tmp")).write_bytes(b"half a cache")
    (tmp_path / (name + ".lock")).write_bytes(b"")
    with proofs.open_parent_cache(6, tmp_path) as cache:
        assert cache.generated and cache.verified
    assert not (tmp_path / (name + ".tmp")).exists()


def test_a_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    with pytest.raises(OSError, match=f"cannot write in the parent cache folder {blocked}"):
        proofs.open_parent_cache(5, blocked)


def test_a_cancelled_generation_leaves_no_cache(tmp_path: Path) -> None:
    token = proofs.CancelToken()
    token.cancel()
    with pytest.raises(proofs.Cancelled):
        proofs.open_parent_cache(6, tmp_path, cancel=token)
    assert not list(tmp_path.glob("*.cache*[!k]"))  # neither the cache nor its temporary file, only the lock


_ASK_FOR_THE_CACHE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sealer_fsm import proofs
    print("asking", flush=True)
    with proofs.open_parent_cache(6, Path(sys.argv[1])) as cache:
        print(cache.generated, cache.sha256, flush=True)
    """
)


def test_two_processes_asking_for_a_missing_cache_generate_it_once(tmp_path: Path) -> None:
    """The test holds the generation lock while both processes start and ask, so they queue on it together."""
    proof = proofs.seal_proof(6)
    lock_path = tmp_path / (proofs.parent_cache_name(proof.porep_id, proof.nodes) + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _ASK_FOR_THE_CACHE, str(tmp_path)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "asking\n"
    answers = [worker.communicate(timeout=120)[0].split() for worker in workers]
    assert sorted(generated for generated, _ in answers) == ["False", "True"]
    assert {digest for _, digest in answers} == {PUBLISHED_DIGESTS[lock_path.name.removesuffix(".cache.lock")]}


# -- labels and layer files ------------------------------------------------------------------------------------


def test_sdr_labels_returns_the_published_last_label() -> None:
    last = proofs.sdr_labels(bytes([9]) * 32, bytes([123]) * 32, 64, 11, "1.1.0")
    assert last.hex() == LAST_LABEL_64_V1_1


@settings(max_examples=15, deadline=None)
@given(
    st.integers(2, 300),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.sampled_from(["1.0.0", "1.1.0", "1.2.0"]),
)
def test_sdr_labels_equal_the_reference(nodes: int, replica_id: bytes, porep_id: bytes, api_version: str) -> None:
    expected = reference.sdr_layers(replica_id, porep_id, nodes, 2, api_version)[-1][-32:]
    assert proofs.sdr_labels(replica_id, porep_id, nodes, 2, api_version) == expected


def test_layer_files_hold_every_layer_in_node_order(tmp_path: Path) -> None:
    proof = proofs.seal_proof(5)
    replica = proofs.replica_id(1000, 7, bytes(range(32)), proofs.zero_commitment(2048), 5)
    with proofs.open_parent_cache(5) as cache:
        last = proofs.sdr_labels(replica, proof.porep_id, 64, 2, "1.1.0", tmp_path, parents=cache)
    layers = reference.sdr_layers(replica, proof.porep_id, 64, 2, "1.1.0")
    assert proofs.layer_paths(tmp_path, 2) == [tmp_path / "sc-02-data-layer-1.dat", tmp_path / "sc-02-data-layer-2.dat"]
    assert [path.read_bytes() for path in proofs.layer_paths(tmp_path, 2)] == layers
    assert last == layers[-1][-32:]
    assert json.loads((tmp_path / "sdr-labels.json").read_text())["replica_id"] == replica.hex()


def test_a_rerun_keeps_complete_layers_and_drops_half_written_ones(tmp_path: Path) -> None:
    replica, porep = bytes([1]) * 32, proofs.porep_id(5)
    proofs.sdr_labels(replica, porep, 64, 3, "1.1.0", tmp_path)
    first, second, third = proofs.layer_paths(tmp_path, 3)
    expected = [first.read_bytes(), second.read_bytes(), third.read_bytes()]
    inode = first.stat().st_ino
    second.rename(second.with_name(second.name + ".tmp"))  # what a kill -9 during layer 2 leaves
    third.unlink()
    assert proofs.sdr_labels(replica, porep, 64, 3, "1.1.0", tmp_path) == expected[-1][-32:]
    assert first.stat().st_ino == inode  # kept, not rewritten
    assert [path.read_bytes() for path in (first, second, third)] == expected
    assert not list(tmp_path.glob("*.tmp"))


def test_layers_of_another_replica_are_never_taken(tmp_path: Path) -> None:
    porep = proofs.porep_id(5)
    proofs.sdr_labels(bytes([1]) * 32, porep, 64, 2, "1.1.0", tmp_path)
    last = proofs.sdr_labels(bytes([2]) * 32, porep, 64, 2, "1.1.0", tmp_path)
    assert last == reference.sdr_layers(bytes([2]) * 32, porep, 64, 2, "1.1.0")[-1][-32:]
    assert proofs.layer_path(tmp_path, 1).read_bytes() == reference.label_layer(
        bytes([2]) * 32, 1, reference.parents_table(porep, 64, "1.1.0"), None
    )


def test_foreign_or_garbled_files_in_the_folder_are_replaced(tmp_path: Path) -> None:
    replica, porep = bytes([3]) * 32, proofs.porep_id(5)
    (tmp_path / "sdr-labels.json").write_text("{not json")
    proofs.layer_path(tmp_path, 1).write_bytes(bytes(64 * 32))  # the right size, but not this replica's labels
    proofs.sdr_labels(replica, porep, 64, 2, "1.1.0", tmp_path)
    layers = reference.sdr_layers(replica, porep, 64, 2, "1.1.0")
    assert [path.read_bytes() for path in proofs.layer_paths(tmp_path, 2)] == layers


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((bytes(31), bytes(32), 64, 2, "1.1.0"), "the replica id must be 32 bytes"),
        ((bytes(32), bytes(33), 64, 2, "1.1.0"), "the porep id must be 32 bytes"),
        ((bytes(32), bytes(32), 1, 2, "1.1.0"), "a graph has from 2 to 2^31 nodes, got 1"),
        ((bytes(32), bytes(32), 64, 0, "1.1.0"), "layers must be from 1 to 15, got 0"),
        ((bytes(32), bytes(32), 64, 2, "1.3.0"), "API version '1.3.0' is not one of 1.0.0, 1.1.0, 1.2.0"),
    ],
)
def test_bad_label_arguments_are_refused(arguments: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("^", r"\^")):
        proofs.sdr_labels(*arguments)  # type: ignore[arg-type]


def test_a_parent_cache_of_another_graph_is_refused() -> None:
    with proofs.open_parent_cache(5) as cache, pytest.raises(ValueError, match="for 64 nodes, not 128"):
        proofs.sdr_labels(bytes(32), proofs.porep_id(5), 128, 2, "1.1.0", parents=cache)


def test_a_layer_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the sector's cache folder should be")
    with pytest.raises(OSError, match=f"cannot write in the SDR layer folder {blocked}: File exists$"):
        proofs.sdr_labels(bytes(32), proofs.porep_id(5), 64, 2, "1.1.0", blocked)


def test_a_cancelled_layer_leaves_no_layer_file(tmp_path: Path) -> None:
    token = proofs.CancelToken()
    token.cancel()
    with proofs.open_parent_cache(6) as cache, pytest.raises(proofs.Cancelled):
        proofs.sdr_labels(bytes(32), proofs.porep_id(6), 1 << 18, 2, "1.1.0", tmp_path, parents=cache, cancel=token)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sdr-labels.json", "sdr-labels.lock"]
