"""The Venus wire: the JSON damocles-manager and damocles-worker exchange, field by field, both ways.

Expected shapes are written out from damocles-manager core/types.go and damocles-worker src/rpc/sealer/mod.rs;
hypothesis checks that everything we encode decodes back to the same value, and that the decoders refuse what
the reference would not parse, naming the field."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.manager import (
    AllocatedSector,
    Deal,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    SectorId,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StoreInfo,
    SubmitReply,
    SubmitResult,
)
from sealer_fsm.manager._types import (
    FailureReport,
    SectorStateReply,
    StateReport,
    ThreadSummary,
    WorkerPing,
    WorkerPingRecord,
)
from sealer_fsm.manager.venus import _wire as wire
from sealer_fsm.manager.venus._values import WireError
from sealer_fsm.rpc import AddressError, manager_rpc_url

PIECE = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
TICKET = bytes(range(32))
COMM_R, COMM_D = bytes(range(100, 132)), bytes(range(200, 232))

u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
sector_ids = st.builds(SectorId, u64, u64)
randomness = st.builds(Randomness, st.binary(min_size=32, max_size=32), i64)
commitments = st.binary(min_size=32, max_size=32)
cids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=10, max_size=70).map(lambda text: "baga" + text)
deals = st.builds(Deal, st.integers(1, 2**64 - 1), cids, u64, u64)


# -- the exact shapes -----------------------------------------------------------------------------------------


def test_an_allocated_sector_is_id_and_proof_type() -> None:
    sector = AllocatedSector(SectorId(1000, 7), 2048, 5)
    assert wire.allocated_sector_to_wire(sector) == {"ID": {"Miner": 1000, "Number": 7}, "ProofType": 5}
    decoded = wire.allocated_sector_from_wire({"ID": {"Miner": 1000, "Number": 7}, "ProofType": 10})
    assert decoded == AllocatedSector(SectorId(1000, 7), 2048, 10) and decoded.proof_type == 10
    assert wire.allocated_sector_from_wire(None) is None


def test_specs_carry_null_for_any() -> None:
    assert wire.allocate_spec_to_wire(None, [8]) == {"AllowedMiners": None, "AllowedProofTypes": [8]}
    assert wire.allocate_spec_from_wire({"AllowedMiners": [1000], "AllowedProofTypes": [5, 13]}) == (
        [1000],
        [2048, 32 << 30],
    )
    assert wire.deals_spec_to_wire(None, 1024) == {"MaxDeals": None, "MinUsedSpace": 1024}
    assert wire.snapup_spec_to_wire([1], None) == {
        "Sector": {"AllowedMiners": [1], "AllowedProofTypes": None},
        "Deals": {"MaxDeals": None, "MinUsedSpace": None},
    }


def test_deals_are_sector_pieces_v2() -> None:
    encoded = wire.deals_to_wire([Deal(12, PIECE, 512, 300)])
    assert encoded[0]["Piece"] == {"Size": 512, "PieceCID": {"/": PIECE}}
    info = encoded[0]["DealInfo"]
    assert (info["DealID"], info["AllocationID"], info["PayloadSize"], info["IsBuiltinMarket"]) == (12, 0, 300, True)
    assert wire.deals_from_wire(encoded) == [Deal(12, PIECE, 512, 300)]
    assert wire.deals_from_wire(None) == []


def test_a_ticket_is_base64_and_commitments_are_32_integers() -> None:
    info = PreCommitInfo(COMM_R, COMM_D, Randomness(TICKET, 41))
    encoded = wire.precommit_to_wire(info)
    assert encoded == {
        "CommR": list(COMM_R),
        "CommD": list(COMM_D),
        "Ticket": {"Ticket": base64.b64encode(TICKET).decode(), "Epoch": 41},
    }
    assert wire.precommit_from_wire(encoded) == info
    assert wire.proof_to_wire(b"\x00\xff") == {"Proof": "AP8="}


def test_results_are_numeric_codes_with_nullable_descriptions() -> None:
    assert wire.submit_reply_to_wire(SubmitReply(SubmitResult.ACCEPTED)) == {"Res": 1, "Desc": None}
    assert wire.submit_reply_from_wire({"Res": 3, "Desc": "x"}) == SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "x")
    assert wire.poll_reply_from_wire({"State": 7, "Desc": None}) == PollReply(OnChainState.SHOULD_ABORT)
    seed = SeedWait(False, 0.0, Randomness(TICKET, 90))
    assert wire.seed_wait_to_wire(seed) == {
        "ShouldWait": False,
        "Delay": 0,
        "Seed": {"Seed": base64.b64encode(TICKET).decode(), "Epoch": 90},
    }
    assert wire.seed_wait_from_wire({"ShouldWait": True, "Delay": 12, "Seed": None}) == SeedWait(True, 12.0, None)


def test_report_state_and_its_reply() -> None:
    report = StateReport("w1", "/t/0", "PC1Done", "PC2Done", "PC2", FailureReport("Temporary", "oops"))
    assert wire.state_report_to_wire(report) == {
        "Worker": {"Instance": "w1", "Location": "/t/0"},
        "StateChange": {"Prev": "PC1Done", "Next": "PC2Done", "Event": "PC2"},
        "Failure": {"Level": "Temporary", "Desc": "oops"},
    }
    reply = wire.sector_state_to_wire(SectorId(1, 2), SectorStateReply(True, "aborted via CLI"))
    assert reply == {"Id": {"Miner": 1, "Number": 2}, "Finalized": True, "AbortReason": "aborted via CLI"}
    assert wire.sector_state_from_wire(reply) == SectorStateReply(True, "aborted via CLI")
    # The manager always sends a reason string, empty when the sector was not aborted; old managers send null.
    assert wire.sector_state_from_wire({"Id": reply["Id"], "Finalized": False, "AbortReason": ""}).abort_reason is None
    assert wire.sector_state_from_wire(None) == SectorStateReply(False)


def test_stores_and_pings() -> None:
    assert wire.store_info_from_wire({"Name": "a", "Path": "/s/a", "Meta": None}) == StoreInfo("a", "/s/a")
    assert wire.store_info_from_wire(None) is None
    ping = WorkerPing("w1", "10.0.0.2:17890", "0.1.0", ThreadSummary(2, 0, 1, 1, 0, 1))
    assert wire.worker_ping_to_wire(ping) == {
        "Name": "w1",
        "Dest": "10.0.0.2:17890",
        "Version": "0.1.0",
        "Summary": {"Threads": 2, "Empty": 0, "Paused": 1, "Running": 1, "Waiting": 0, "Errors": 1},
    }
    record = WorkerPingRecord(ping, 1_700_000_000)
    assert wire.ping_records_from_wire([wire.ping_record_to_wire(record)]) == [record]


def test_snapup_allocation_and_proof() -> None:
    allocation = SnapupAllocation(AllocatedSector(SectorId(1000, 3), 2048, 5), [Deal(1, PIECE, 256, 100)], COMM_R, "a")
    encoded = wire.snapup_allocation_to_wire(allocation)
    assert encoded["Public"] == {"CommR": list(COMM_R)} and encoded["Private"] == {"AccessInstance": "a"}
    decoded = wire.snapup_allocation_from_wire(encoded)
    assert decoded is not None and decoded.deals == allocation.deals and decoded.old_comm_r == COMM_R
    proof = SnapupProof(COMM_R, COMM_D, "a", [PIECE], b"proof")
    assert wire.snapup_proof_to_wire(proof)["Pieces"] == [{"/": PIECE}]
    assert wire.snapup_proof_from_wire(wire.snapup_proof_to_wire(proof)) == proof


# -- round trips --------------------------------------------------------------------------------------------


@given(sector=sector_ids, proof_type=st.integers(0, 19))
def test_allocated_sectors_round_trip(sector: SectorId, proof_type: int) -> None:
    allocated = AllocatedSector(sector, [2048, 8 << 20, 512 << 20, 32 << 30, 64 << 30][proof_type % 5], proof_type)
    assert wire.allocated_sector_from_wire(wire.allocated_sector_to_wire(allocated)) == allocated


@given(info=st.builds(PreCommitInfo, commitments, commitments, randomness))
def test_precommits_round_trip(info: PreCommitInfo) -> None:
    assert wire.precommit_from_wire(wire.precommit_to_wire(info)) == info


@given(deal_list=st.lists(deals, max_size=4))
def test_deals_round_trip(deal_list: list[Deal]) -> None:
    assert wire.deals_from_wire(wire.deals_to_wire(deal_list)) == deal_list


@given(
    report=st.builds(
        StateReport, st.text(), st.text(), st.text(), st.text(), st.text(),
        st.none() | st.builds(FailureReport, st.sampled_from(["Temporary", "Permanent", "Critical"]), st.text()),
    )
)  # fmt: skip
def test_state_reports_round_trip(report: StateReport) -> None:
    assert wire.state_report_from_wire(wire.state_report_to_wire(report)) == report


@given(proof=st.builds(SnapupProof, commitments, commitments, st.text(), st.lists(cids, max_size=3), st.binary()))
def test_snapup_proofs_round_trip(proof: SnapupProof) -> None:
    assert wire.snapup_proof_from_wire(wire.snapup_proof_to_wire(proof)) == proof


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decode", "value", "message"),
    [
        (wire.sector_id_from_wire, {"Miner": -1, "Number": 1}, "SectorID.Miner: expected an unsigned integer"),
        (wire.sector_id_from_wire, {"Miner": True, "Number": 1}, "SectorID.Miner: expected an unsigned integer"),
        (wire.sector_id_from_wire, {"Miner": 1}, "SectorID.Number: missing"),
        (wire.sector_id_from_wire, [1, 2], "SectorID: expected an object"),
        (wire.allocated_sector_from_wire, {"ID": {"Miner": 1, "Number": 1}, "ProofType": 99}, "unknown seal proof"),
        (wire.ticket_from_wire, {"Ticket": "not base64!", "Epoch": 1}, "Ticket.Ticket: not standard base64"),
        (wire.ticket_from_wire, {"Ticket": "AAAA", "Epoch": 1}, "expected 32 bytes of randomness, got 3"),
        (wire.precommit_from_wire, {"CommR": [1] * 31, "CommD": [0] * 32, "Ticket": {}}, "CommR: expected an array"),
        (wire.precommit_from_wire, {"CommR": [256] * 32, "CommD": [0] * 32, "Ticket": {}}, "integers from 0 to 255"),
        (wire.submit_reply_from_wire, {"Res": 0, "Desc": None}, "SubmitResp.Res: unknown submit result 0"),
        (wire.poll_reply_from_wire, {"State": 9}, "PollStateResp.State: unknown on-chain state 9"),
        (wire.deals_from_wire, [{"Piece": {"Size": 128, "PieceCID": {"/": PIECE}}, "DealInfo": None}],
         "SectorPieces[0]: a piece without a deal (a filler piece) is not supported"),
        (wire.deals_from_wire, [{"Piece": {"Size": 128, "PieceCID": PIECE}, "DealInfo": wire.deals_to_wire(
            [Deal(1, PIECE, 128, 1)])[0]["DealInfo"]}],
         'SectorPieces[0].Piece.PieceCID: expected a CID as {"/": "<cid>"}'),
    ],
)  # fmt: skip
def test_decoders_refuse_what_the_reference_would_not_parse(decode, value, message: str) -> None:
    with pytest.raises(WireError) as caught:
        decode(value)
    assert message in str(caught.value)


# -- the manager's address ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("/ip4/127.0.0.1/tcp/1789", "http://127.0.0.1:1789/rpc/v0"),
        ("/ip6/2001:db8::1/tcp/1789", "http://[2001:db8::1]:1789/rpc/v0"),
        ("/dns/manager/tcp/1789", "http://manager:1789/rpc/v0"),
        ("/dns4/hello.com/tcp/1789/https", "https://hello.com:1789/rpc/v0"),
        ("/dns6/hello.com/tcp/1789/http", "http://hello.com:1789/rpc/v0"),
        ("http://hello.com:1789", "http://hello.com:1789/rpc/v0"),
        ("https://hello.com", "https://hello.com:443/rpc/v0"),
        ("HTTP://10.0.0.2:1789/whatever", "http://10.0.0.2:1789/rpc/v0"),
    ],
)
def test_manager_addresses_become_the_rpc_url_as_the_reference_maps_them(address: str, url: str) -> None:
    assert manager_rpc_url(address) == url


@given(text=st.text(max_size=40))
def test_any_address_text_is_a_url_or_one_clear_error(text: str) -> None:
    try:
        url = manager_rpc_url(text)
    except AddressError as error:
        assert ("\n" not in str(error) and repr(text) in str(error)) or "address" in str(error)
    else:
        assert url.startswith(("http://", "https://")) and url.endswith("/rpc/v0")


@given(
    host=st.ip_addresses(v=4).map(str),
    port=st.integers(1, 65535),
    scheme=st.sampled_from(["", "/http", "/https"]),
)
def test_multiaddrs_round_trip_host_port_and_scheme(host: str, port: int, scheme: str) -> None:
    url = manager_rpc_url(f"/ip4/{host}/tcp/{port}{scheme}")
    assert url == f"{'https' if scheme == '/https' else 'http'}://{host}:{port}/rpc/v0"
