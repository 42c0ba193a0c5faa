"""The c1, c2 and tree_d steps on the devnet, and the devnet's judging of proofs.

The operator's story: a worker seals sectors for real; C1 writes the vanilla proofs in the reference's JSON, C2
(simulated) commits to them, the proof goes to the devnet with that JSON behind it, and the devnet verifies the
vanilla proofs before the proof may land. A proof that does not verify is Rejected with the reason, as
damocles-manager answers a proof that fails VerifySeal, and the worker aborts the sector. `verify_after_pc2`
runs C1 with a zero seed after PC2, as the reference does, and pauses the thread when it does not verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import FakeContext, ManualClock, devnet_config, devnet_machine
from test_steps_pieces import run_pieces_and_tree, stage

from sealer_fsm import simulated
from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import PreCommitInfo, SectorId, SubmitResult
from sealer_fsm.manager.devnet import DevnetManager
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.proofs import (
    CancelToken,
    PorepVerdict,
    c1_output_json,
    load_c1_output,
    piece_cid_v1,
    porep_challenges,
    seal_commit_phase1,
    seal_proof,
    tree_d_file,
    verify_porep,
    zero_commitment,
)
from sealer_fsm.proofs import _c1 as c1_module
from sealer_fsm.runtime import Outcome, Permanent, Temporary, Worker, WorkerListener
from sealer_fsm.steps import sealing
from sealer_fsm.steps.stages import builtin_stage
from tests.support.sealed_sector import SealedSector, seal_sector


class Story(WorkerListener):
    """Keeps a copy of every C1 output as the c1 step leaves it; drains after `sealed` finished sealer tasks or
    at the first failure that pauses a thread; corrupts a layer at PC1Done when asked."""

    def __init__(self, worker: Worker, folder: Path, sealed: int, corrupt_layer: str | None = None) -> None:
        self.worker, self.folder, self.wanted, self.corrupt_layer = worker, folder, sealed, corrupt_layer
        self.done = 0
        self.closed: list[str] = []
        self.c1_outputs: dict[str, Path] = {}
        self.paused = False

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        task = thread.task
        if destination == "C1Done":
            copy = self.folder / f"{task.sector}.json"
            shutil.copyfile(task.data["c1_out"]["path"], copy)
            self.c1_outputs[task.sector] = copy
        if destination == self.corrupt_layer:
            seed = bytes.fromhex(task.data["seed"]["value"]) if "seed" in task.data else bytes(32)
            flip_challenged_label(Path(task.data["pc1_out"]["layers"][0]), task.data, seed)

    def failure(self, thread: Any, level: Any) -> None:
        if level.name != "TEMPORARY":  # the thread pauses
            self.paused = True
            self.worker.drain()

    def task_closed(self, thread: Any, task: Any) -> None:
        self.closed.append(task.sector)
        self.done += task.plan == "sealer" and (task.state != ABORT_STATE or self.corrupt_layer == "SeedAssigned")
        if self.done >= self.wanted:
            self.worker.drain()


def flip_challenged_label(layer: Path, data: dict[str, Any], seed: bytes) -> None:
    """Corrupt the layer-1 label of the node `seed` challenges first (a zero seed: what verify_after_pc2 proves)."""
    proof = seal_proof(data["proof_type"])
    replica = bytes.fromhex(data["pc1_out"]["replica_id"])
    node = porep_challenges(proof, replica, seed, bytes(32))[0][0]
    labels = bytearray(layer.read_bytes())
    labels[32 * node] ^= 1
    layer.write_bytes(bytes(labels))


def run_worker(
    tmp_path: Path, sealing: str = "", sealed: int = 3, corrupt_layer: str | None = None
) -> tuple[Worker, Story]:
    path = devnet_machine(tmp_path, ["sealer", "sealer"], {"seed": 4}, "enable_deals = true\n" + sealing)
    worker = build_worker(load_machine_file(path, tmp_path / "home"))
    (tmp_path / "c1").mkdir()
    story = Story(worker, tmp_path / "c1", sealed, corrupt_layer)
    worker.add_listener(story)
    asyncio.run(asyncio.wait_for(worker.run(), 120))
    return worker, story


def test_sectors_are_proven_with_verified_vanilla_proofs(tmp_path: Path) -> None:
    worker, story = run_worker(tmp_path)
    assert not worker.registry.is_simulated("c1") and worker.registry.is_simulated("c2")
    finished = [task for task in worker.store.tasks() if task.plan == "sealer" and task.state == "Finished"]
    assert len(finished) >= 3
    devnet = worker.services.manager
    for task in finished:
        c1_out = task.data["c1_out"]
        assert (c1_out["registered_proof"], c1_out["challenges"]) == ("StackedDrg2KiBV1_1", 2)
        assert c1_out["path"].endswith(f"data/cache/{task.sector}/c1-output.json")
        output = load_c1_output(story.c1_outputs[task.sector])
        seed = bytes.fromhex(task.data["seed"]["value"])
        replica = bytes.fromhex(task.data["pc1_out"]["replica_id"])
        comm_d, comm_r = bytes.fromhex(task.data["comm_d"]), bytes.fromhex(task.data["comm_r"])
        assert verify_porep(output, comm_d=comm_d, comm_r=comm_r, replica_id=replica, seed=seed).valid
        assert simulated.from_text(task.data["proof"]) == simulated.porep_proof_of_c1(
            c1_output_json(output), task.data["miner"], task.data["number"]
        )
        assert devnet.sector_record(SectorId.parse(task.sector))["proof"].startswith(b"SIMULATED-PROOF-v2".hex())
    results = {entry["result"] for entry in devnet.submissions() if entry["kind"] == "proof"}
    assert results <= {"ACCEPTED", "DUPLICATE_SUBMIT"} and "ACCEPTED" in results


def test_verify_after_pc2_checks_every_sector(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _, story = run_worker(tmp_path, "verify_after_pc2 = true", sealed=2)
    assert not story.paused
    checks = [record.getMessage() for record in caplog.records if ": verify_after_pc2: " in record.getMessage()]
    assert len(checks) >= 2 and all("C1 with a zero seed verifies (2 challenges)" in check for check in checks)


def test_verify_after_pc2_pauses_a_sector_whose_layers_are_corrupt(tmp_path: Path) -> None:
    worker, story = run_worker(tmp_path, "verify_after_pc2 = true", corrupt_layer="PC1Done")
    paused = [task for task in worker.store.tasks() if task.paused]
    assert story.paused and paused and all(task.state == "PC1Done" for task in paused)
    error = paused[0].last_error or ""
    assert error.startswith("permanent: PC2 (verify_after_pc2): C1 built a proof that does not verify (partition 0, ")
    assert error.endswith(
        "the layer-1 label in the node's column is not the one its parents give): are these the sector's files?"
    )


def test_a_wrong_c1_never_lands_and_its_sector_is_aborted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker whose C1 does not check its own output (a bug, or a tampered host) proves a layer corrupted after
    PC2: its simulated C2 commits to the wrong vanilla proofs, the devnet rejects them and they never land; the
    worker aborts the sector, as damocles-worker does on Rejected."""
    monkeypatch.setattr(c1_module, "verify_porep", lambda *args, **kwargs: PorepVerdict(True))
    worker, story = run_worker(tmp_path, sealed=1, corrupt_layer="SeedAssigned")
    rejected = [entry for entry in worker.services.manager.submissions() if entry["result"] == "REJECTED"]
    assert rejected and all(entry["kind"] == "proof" for entry in rejected)
    assert rejected[0]["detail"].startswith("invalid proof: partition 0, challenge 0 (node ")
    assert rejected[0]["detail"].endswith(
        "the TreeC leaf of the challenged node's column is not the hash of that column"
    )
    # The tasks whose abort step ran (the drain may stop another thread's task at Aborted, before its step).
    aborted = [task for task in worker.store.tasks() if task.state == ABORT_STATE and task.sector in story.closed]
    assert aborted and "aborted" in caplog.text and "REJECTED: invalid proof: partition 0" in caplog.text
    for task in aborted:
        record = worker.services.manager.sector_record(SectorId.parse(task.sector))
        assert record["status"] == "aborted" and record["proof_attempts"] == 0


# -- the devnet's judging -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevnetManager, SectorId, SealedSector, ManualClock]:
    """A committed-capacity sector sealed for real with the devnet's ticket, pre-committed and at its seed."""
    folder = tmp_path_factory.mktemp("chain")
    clock = ManualClock()
    devnet = DevnetManager(devnet_config(precommit_epochs=1, seed_epochs=1), folder, {}, now=clock.now)
    sector = asyncio.run(devnet.allocate_sector(None, None)).id
    ticket = asyncio.run(devnet.assign_ticket(sector))
    sealed = seal_sector(folder / "sector", 2048, ticket=ticket.value, number=sector.number, data_seed=None)
    info = PreCommitInfo(sealed.inputs.comm_r, zero_commitment(2048), ticket)
    assert asyncio.run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.ACCEPTED
    clock.at += 3
    seed = asyncio.run(devnet.wait_seed(sector)).seed
    return devnet, sector, sealed.with_seed(seed.value), clock


def submission(sealed: SealedSector, change: Any = None, proof_of: bytes | None = None) -> bytes:
    """An honest submission of the sealed sector, or one whose C1 JSON `change` altered (and whose proof
    commits to `proof_of`, by default the altered JSON: a simulated C2 of a wrong C1)."""
    text = c1_output_json(seal_commit_phase1(sealed.cache, sealed.sealed, sealed.inputs))
    if change is not None:
        document = json.loads(text)
        change(document["vanilla_proofs"]["StackedDrg2KiBV1"][0][0], document)
        text = json.dumps(document).encode()
    proof = simulated.porep_proof_of_c1(text if proof_of is None else proof_of, 1000, sealed.inputs.sector_number)
    return simulated.porep_submission(proof, text)


def flip_tree_r_sibling(proof: Any, document: Any) -> None:
    proof["comm_r_last_proof"]["data"]["Single"]["path"]["path"][0]["hashes"][2][0] ^= 1


def claim_another_seed(proof: Any, document: Any) -> None:
    document["seed"] = [7] * 32


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: submission(s, flip_tree_r_sibling), "the TreeR-last inclusion proof does not hash up to its root"),
        (lambda s: submission(s, claim_another_seed), "the C1 output is for seed 0707"),
        (
            lambda s: submission(s, flip_tree_r_sibling, proof_of=submission(s)[192:]),
            "the simulated proof does not commit to the C1 output submitted with it",
        ),
        (lambda s: submission(s)[:192], "the simulated proof came without the C1 output it commits to"),
        (lambda s: submission(s)[:-5], "the C1 output submitted with the proof is cut short"),
        (
            lambda s: simulated.porep_proof(bytes(32)),
            "a simulated C1 proves nothing about a replica sealed for real; run C1 for real",
        ),
    ],
)
def test_a_proof_that_does_not_verify_is_rejected_with_the_reason_and_never_lands(
    chain: tuple[DevnetManager, SectorId, SealedSector, ManualClock], make: Any, reason: str
) -> None:
    devnet, sector, sealed, _ = chain
    reply = asyncio.run(devnet.submit_proof(sector, make(sealed), False))
    assert reply.result is SubmitResult.REJECTED
    assert reply.desc.startswith("invalid proof: ") and reason in reply.desc
    assert devnet.sector_record(sector)["proof_attempts"] == 0


def test_a_proof_of_another_sector_is_rejected(
    tmp_path: Path, chain: tuple[DevnetManager, SectorId, SealedSector, ManualClock]
) -> None:
    devnet, sector, sealed, _ = chain
    other = seal_sector(tmp_path, 2048, ticket=bytes([9] * 32), number=sector.number, data_seed=None)
    reply = asyncio.run(devnet.submit_proof(sector, submission(other.with_seed(sealed.inputs.seed)), False))
    assert reply.result is SubmitResult.REJECTED
    assert reply.desc.startswith("invalid proof: the C1 output is for replica id ")


def test_an_honest_proof_lands_and_a_repeat_is_a_duplicate(
    chain: tuple[DevnetManager, SectorId, SealedSector, ManualClock],
) -> None:
    devnet, sector, sealed, _ = chain
    honest = submission(sealed)
    assert asyncio.run(devnet.submit_proof(sector, honest, False)).result is SubmitResult.ACCEPTED
    assert asyncio.run(devnet.submit_proof(sector, honest, False)).result is SubmitResult.DUPLICATE_SUBMIT
    assert devnet.sector_record(sector)["proof"] == honest[:192].hex()  # the 192-byte proof, not the C1 output


def test_the_tree_d_step_stores_the_whole_tree_c1_reads(tmp_path: Path) -> None:
    ctx, _, _ = stage(tmp_path, 2048, with_deals=True)
    comm_d = run_pieces_and_tree(ctx)
    tree = tree_d_file(ctx.location / "data" / "cache" / ctx.data["sector_id"])
    staged = (ctx.location / "data" / "unsealed" / ctx.data["sector_id"]).read_bytes()
    content = tree.read_bytes()
    assert len(content) == (2 * 64 - 1) * 32 and content[:2048] == staged and content[-32:] == comm_d
    assert not list(tree.parent.glob("*.tmp"))


# -- the steps alone: failure levels ------------------------------------------------------------------------


@pytest.fixture
def commit_context(tmp_path: Path) -> FakeContext:
    """A step context at SeedAssigned for a 2KiB sector sealed for real into the thread's data folder."""
    sector = "s-t01000-5"
    sealed = seal_sector(tmp_path / "sealing", 2048, number=5)
    data_dir = tmp_path / "thread" / "data"
    for kind, source in (("cache", sealed.cache), ("sealed", sealed.sealed), ("unsealed", sealed.staged)):
        (data_dir / kind).mkdir(parents=True)
        assert source is not None
        source.rename(data_dir / kind / sector)
    i = sealed.inputs
    data = {
        "sector_id": sector,
        "miner": i.miner,
        "number": i.sector_number,
        "proof_type": i.proof_type,
        "ticket": {"value": i.ticket.hex(), "epoch": 1},
        "seed": {"value": i.seed.hex(), "epoch": 9},
        "comm_d": i.comm_d.hex(),
        "comm_r": i.comm_r.hex(),
        "pc1_out": {"replica_id": sealed.replica_id.hex()},
        "pieces": [{"cid": piece_cid_v1(i.comm_d), "size": 2048, "deal_id": None}],  # one piece: the whole sector
    }
    return FakeContext(data, {}, tmp_path / "thread")


def test_c1_then_c2_in_task_data(commit_context: FakeContext) -> None:
    outcome = asyncio.run(sealing.c1(commit_context))
    assert isinstance(outcome, Outcome) and outcome.event == "C1"
    c1_out = outcome.data["c1_out"]
    path = Path(c1_out["path"])
    assert path == commit_context.location / "data" / "cache" / "s-t01000-5" / "c1-output.json"
    assert c1_out["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and c1_out["challenges"] == 2
    commit_context.data.update(outcome.data)
    proved = asyncio.run(sealing.c2(commit_context))
    assert isinstance(proved, Outcome)
    assert simulated.from_text(proved.data["proof"]) == simulated.porep_proof_of_c1(path.read_bytes(), 1000, 5)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real ENOSPC")
def test_c1_on_a_full_disk_is_temporary_and_leaves_nothing(commit_context: FakeContext) -> None:
    cache = commit_context.location / "data" / "cache" / "s-t01000-5"
    (cache / "c1-output.json.tmp").symlink_to("/dev/full")
    with pytest.raises(Temporary, match=r"^temporary: write .*c1-output.json: No space left on device; .* free in "):
        asyncio.run(sealing.c1(commit_context))
    assert not list(cache.glob("*.tmp")) and not (cache / "c1-output.json").exists()


def test_c1_of_a_sector_whose_pc2_was_simulated_is_permanent(commit_context: FakeContext) -> None:
    commit_context.data["comm_r_simulated"] = True
    with pytest.raises(Permanent, match="C1: this sector's PC2 was simulated, so there are no trees to prove"):
        asyncio.run(sealing.c1(commit_context))


def test_c1_of_files_that_are_not_the_precommitted_sector_is_permanent(commit_context: FakeContext) -> None:
    commit_context.data["comm_r"] = "01" * 32
    with pytest.raises(Permanent, match=r"^permanent: C1: .*p_aux gives CommR [0-9a-f]+, not the pre-committed 0101"):
        asyncio.run(sealing.c1(commit_context))


def test_c1_builds_a_missing_tree_d_from_the_staged_sector(commit_context: FakeContext) -> None:
    tree = tree_d_file(commit_context.location / "data" / "cache" / "s-t01000-5")
    tree.unlink()
    assert isinstance(asyncio.run(sealing.c1(commit_context)), Outcome) and tree.exists()


def test_c2_of_a_c1_output_changed_or_gone_is_permanent(commit_context: FakeContext) -> None:
    outcome = asyncio.run(sealing.c1(commit_context))
    assert isinstance(outcome, Outcome)
    commit_context.data.update(outcome.data)
    path = Path(outcome.data["c1_out"]["path"])
    path.write_bytes(path.read_bytes().replace(b'"node":', b'"node": '))
    with pytest.raises(Permanent, match=r"C2: the C1 output .* changed since C1 wrote it; run C1 again"):
        asyncio.run(sealing.c2(commit_context))
    path.unlink()
    with pytest.raises(Permanent, match=r"C2: read the C1 output .*c1-output.json: .*c1-output.json is missing"):
        asyncio.run(sealing.c2(commit_context))


def test_the_builtin_c2_of_a_c1out_that_is_not_a_c1_output_is_permanent() -> None:
    task = {"c1out": {"registered_proof": "StackedDrg2KiBV1_1"}, "prover_id": [0] * 32, "sector_id": 5, "miner_id": 1}
    with pytest.raises(Permanent, match=r"^permanent: C2: the c1out of the task is not a C1 output: "):
        builtin_stage("c2")(task, CancelToken())
