"""The control RPC against a real worker process: every method, and every refusal changes nothing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealer_fsm import __version__
from sealer_fsm.control import ControlClient, ControlClientError
from tests.support.raw_http import post, rpc
from tests.support.running_worker import RunningWorker, worker_process

WORKER_INFO_KEYS = {"location", "plan", "job_id", "index", "thread_state", "job_state", "job_stage", "last_error"}
# Thread 0 (sealer) pauses at TicketAssigned, thread 1 (snapup) runs snap_encode forever, thread 2 (sealer)
# runs pc2 forever, thread 3 (sealer) pauses at SeedAssigned: nothing moves until someone acts.
SETTLED_OPTIONS = (
    "--threads", "4", "--plan", "sealer", "--plan", "snapup", "--plan", "sealer", "--plan", "sealer",
    "--fail", "pc1@0", "--block", "snap_encode@1", "--block", "pc2@2", "--fail", "c1@3",
)  # fmt: skip


def settled(threads: list[dict]) -> bool:
    expected = ["TicketAssigned", "TreeDBuilt", "PC1Done", "SeedAssigned"]
    states = [thread["thread_state"]["state"] for thread in threads]
    return [thread["job_state"] for thread in threads] == expected and states == [
        "Paused",
        "Running",
        "Running",
        "Paused",
    ]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    with worker_process(tmp_path_factory.mktemp("settled"), *SETTLED_OPTIONS) as running:
        running.wait_for(settled)
        yield running


@pytest.fixture
def fresh_worker(tmp_path: Path):
    with worker_process(tmp_path / "worker", *SETTLED_OPTIONS) as running:
        running.wait_for(settled)
        yield running


def error_of(worker: RunningWorker, method: str, params: object = None) -> dict:
    answer = rpc(worker.port, method, params)
    assert "result" not in answer, answer
    return answer["error"]


# -- the reference's methods --------------------------------------------------------------------------------


def test_worker_list_has_the_reference_worker_info_fields(worker: RunningWorker) -> None:
    threads = worker.client().call("VenusWorker.WorkerList")
    assert [thread["index"] for thread in threads] == [0, 1, 2, 3]
    for thread in threads:
        assert set(thread) >= WORKER_INFO_KEYS
        assert thread["job_id"].startswith("s-t01000-")
    assert threads[0]["plan"] == "sealer" and threads[1]["plan"] == "snapup"
    assert threads[0]["thread_state"]["state"] == "Paused" and "elapsed" in threads[0]["thread_state"]
    assert threads[2]["thread_state"] == {
        "state": "Running",
        "elapsed": threads[2]["thread_state"]["elapsed"],
        "proc": None,
    }
    assert threads[0]["job_stage"] == "PC1"
    assert threads[0]["last_error"] == "permanent: test switch: step pc1 fails on thread 0"
    assert threads[2]["last_error"] is None


def test_worker_version_is_the_package_version(worker: RunningWorker) -> None:
    assert worker.client().call("VenusWorker.WorkerVersion") == __version__


def test_venus_resume_of_a_thread_that_is_not_paused_returns_false(worker: RunningWorker) -> None:
    assert worker.client().call("VenusWorker.WorkerResume", 2, None) is False


# -- our own methods ----------------------------------------------------------------------------------------


def test_info_counts_threads_by_thread_state(worker: RunningWorker) -> None:
    info = worker.client().call("SealerFsm.Info")
    assert info["name"] == "test-worker" and info["version"] == __version__
    assert info["pid"] == worker.process.pid
    assert info["threads"] == 4
    assert info["thread_states"] == {"Idle": 0, "Running": 2, "Waiting": 0, "Paused": 2}
    assert info["errors"] == 2 and info["empty"] == 0
    assert info["plans"] == ["sealer", "snapup"]


def test_history_lists_the_task_transitions_and_the_failure(worker: RunningWorker) -> None:
    history = worker.client().call("SealerFsm.History", 0)
    assert history["task_id"] is not None and history["plan"] == "sealer"
    events = [entry["event"] for entry in history["entries"]]
    assert events == ["Allocate", "AcquireDeals", "AddPiece", "BuildTreeD", "AssignTicket", None]
    assert history["entries"][-1]["failure"].startswith("permanent: test switch")


def test_plans_returns_every_loaded_plan(worker: RunningWorker) -> None:
    plans = worker.client().call("SealerFsm.Plans")
    assert sorted(plans) == ["sealer", "snapup"]
    sealer_states = [state["name"] for state in plans["sealer"]["states"]]
    assert len(sealer_states) == 18 and sealer_states[-1] == "Abort"
    assert plans["snapup"]["source"].endswith("plans/snapup.yaml")


def test_plan_of_gives_the_thread_position_for_a_diagram(worker: RunningWorker) -> None:
    position = worker.client().call("SealerFsm.PlanOf", 3)
    assert position["plan"]["plan"] == "sealer"
    assert (position["state"], position["prev_state"], position["last_event"]) == (
        "SeedAssigned",
        "PersistanceSubmitted",
        "AssignSeed",
    )


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("VenusWorker.WorkerPause", [4]),
        ("VenusWorker.WorkerPause", [-1]),
        ("VenusWorker.WorkerResume", [99, None]),
        ("SealerFsm.Pause", [4, True]),
        ("SealerFsm.Resume", [4]),
        ("SealerFsm.History", [10**12]),
        ("SealerFsm.PlanOf", [4]),
    ],
)
def test_an_index_out_of_range_is_invalid_params(worker: RunningWorker, method: str, params: list) -> None:
    error = error_of(worker, method, params)
    assert error["code"] == -32602
    assert error["data"] == {"kind": "thread_not_found"}
    assert "not found" in error["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "missing parameter 'index'"),
        (["0"], "parameter 'index' must be an integer"),
        ([True], "parameter 'index' must be an integer"),
        ([0.0], "parameter 'index' must be an integer"),
        ([0, "x", 1], "expected at most 2 parameters"),
        ({"index": 0, "sate": "Empty"}, "unknown parameter 'sate'"),
        ([0, 5], "parameter 'state' must be a string or null"),
    ],
)
def test_malformed_params_are_invalid_params(worker: RunningWorker, params: object, message: str) -> None:
    error = error_of(worker, "VenusWorker.WorkerResume", params)
    assert error["code"] == -32602 and message in error["message"]


def test_a_state_not_in_the_plan_is_refused_with_the_valid_states(worker: RunningWorker) -> None:
    error = error_of(worker, "SealerFsm.Resume", [3, "SnapEncoded"])  # thread 3 runs sealer
    assert error["code"] == -32602 and error["data"]["kind"] == "state_refused"
    assert error["data"]["valid_states"][0] == "Empty" and "PC1Done" in error["data"]["valid_states"]
    assert "'SnapEncoded' is not in plan 'sealer'; valid states: Empty, Allocated," in error["message"]
    assert worker.client().call("SealerFsm.PlanOf", 3)["state"] == "SeedAssigned"


def test_resuming_a_thread_that_is_not_paused_is_refused(worker: RunningWorker) -> None:
    with pytest.raises(ControlClientError, match="thread 2 is not paused") as caught:
        worker.client().call("SealerFsm.Resume", 2, None)
    assert caught.value.code == -32602 and caught.value.data == {"kind": "not_paused"}


def test_an_unknown_method_is_method_not_found(worker: RunningWorker) -> None:
    assert error_of(worker, "VenusWorker.WorkerSetEnv", ["a", "b"])["code"] == -32601


def test_malformed_json_is_a_parse_error(worker: RunningWorker) -> None:
    status, answer = post(worker.port, b'{"jsonrpc": "2.0", "method": ')
    assert status == 200 and answer["error"]["code"] == -32700 and answer["id"] is None
    status, answer = post(worker.port, b"\xff\xfe not utf-8")
    assert answer["error"]["code"] == -32700


@pytest.mark.parametrize(
    "request_object",
    [
        42,
        "VenusWorker.WorkerList",
        {"method": "VenusWorker.WorkerList", "id": 1},
        {"jsonrpc": "1.0", "method": "VenusWorker.WorkerList", "id": 1},
        {"jsonrpc": "2.0", "method": 7, "id": 1},
        {"jsonrpc": "2.0", "method": "VenusWorker.WorkerList", "params": "all", "id": 1},
        {"jsonrpc": "2.0", "method": "VenusWorker.WorkerList", "id": {"nested": 1}},
    ],
)
def test_something_that_is_not_a_request_is_an_invalid_request(worker: RunningWorker, request_object: object) -> None:
    status, answer = post(worker.port, json.dumps(request_object))
    assert status == 200 and answer["error"]["code"] == -32600


def test_a_batch_is_answered_per_request_and_notifications_are_not(worker: RunningWorker) -> None:
    batch = [
        {"jsonrpc": "2.0", "method": "VenusWorker.WorkerVersion", "id": "a"},
        {"jsonrpc": "2.0", "method": "VenusWorker.WorkerVersion"},  # notification
        {"jsonrpc": "2.0", "method": "NoSuchMethod"},  # notification: even its error is not answered
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "SealerFsm.PlanOf", "params": [9], "id": 5},
    ]
    status, answers = post(worker.port, json.dumps(batch))
    assert status == 200
    by_id = {answer["id"]: answer for answer in answers}
    assert len(answers) == 3
    assert by_id["a"]["result"] == __version__
    assert by_id[None]["error"]["code"] == -32600
    assert by_id[5]["error"]["code"] == -32602


def test_an_empty_batch_is_an_invalid_request_and_notifications_only_get_no_content(worker: RunningWorker) -> None:
    status, answer = post(worker.port, "[]")
    assert status == 200 and answer["error"]["code"] == -32600
    notification = {"jsonrpc": "2.0", "method": "VenusWorker.WorkerVersion"}
    assert post(worker.port, json.dumps([notification, notification])) == (204, None)
    assert post(worker.port, json.dumps(notification)) == (204, None)


def test_one_client_reuses_its_connection(worker: RunningWorker) -> None:
    with worker.client() as client:
        for _ in range(20):
            assert client.call("VenusWorker.WorkerVersion") == __version__


# -- while threads seal -------------------------------------------------------------------------------------


def test_a_hundred_parallel_worker_lists_while_threads_seal(tmp_path: Path) -> None:
    with worker_process(tmp_path / "sealing", "--threads", "6", "--plan", "sealer", "--plan", "snapup") as running:
        local = threading.local()

        def list_threads(_: int) -> list[dict]:
            if not hasattr(local, "client"):
                local.client = ControlClient(running.address)
            return local.client.call("VenusWorker.WorkerList")

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(list_threads, range(100)))
        assert len(answers) == 100
        assert all([thread["index"] for thread in answer] == list(range(6)) for answer in answers)
        finished = running.client().call("SealerFsm.Info")
        assert finished["threads"] == 6


# -- operator stories (each on its own worker, since they change it) ----------------------------------------


def test_resume_into_tree_d_built_walks_again_to_the_failing_pc1(fresh_worker: RunningWorker) -> None:
    client = fresh_worker.client()
    entries = client.call("SealerFsm.History", 0)["entries"]  # before the resume: the thread may walk on at once
    assert client.call("SealerFsm.Resume", 0, "TreeDBuilt", False, "ticket expired") is True
    fresh_worker.wait_for(lambda threads: len(client.call("SealerFsm.History", 0)["entries"]) >= len(entries) + 2)
    forced = next(entry for entry in client.call("SealerFsm.History", 0)["entries"] if entry["event"] == "SetState")
    assert (forced["from"], forced["to"], forced["actor"], forced["reason"]) == (
        "TicketAssigned",
        "TreeDBuilt",
        "operator",
        "ticket expired",
    )
    threads = fresh_worker.wait_for(lambda threads: threads[0]["thread_state"]["state"] == "Paused")
    assert threads[0]["job_state"] == "TicketAssigned"


def test_resume_into_a_state_without_its_data_needs_force(fresh_worker: RunningWorker) -> None:
    client = fresh_worker.client()
    with pytest.raises(ControlClientError, match=r"needs task data .*\(pc1_out, comm_r\); resume with force"):
        client.call("SealerFsm.Resume", 0, "PC2Done")
    assert client.call("SealerFsm.PlanOf", 0)["state"] == "TicketAssigned"
    assert client.call("SealerFsm.Resume", 0, "PC2Done", True, "operator knows best") is True
    fresh_worker.wait_for(lambda threads: threads[0]["job_state"] not in ("TicketAssigned", "PC2Done"))


def test_resume_into_aborted_drops_the_sector_and_takes_the_next_task(fresh_worker: RunningWorker) -> None:
    client = fresh_worker.client()
    sector = client.call("VenusWorker.WorkerList")[0]["job_id"]
    assert client.call("VenusWorker.WorkerResume", 0, "Aborted") is True
    threads = fresh_worker.wait_for(lambda threads: threads[0]["job_id"] not in (None, sector))
    assert threads[0]["plan"] == "sealer"


def test_pause_waits_for_a_checkpoint_and_pause_now_cancels_the_step(fresh_worker: RunningWorker) -> None:
    client = fresh_worker.client()
    assert client.call("VenusWorker.WorkerPause", 2) is True
    assert client.call("VenusWorker.WorkerPause", 2) is False  # already pending
    assert client.call("VenusWorker.WorkerList")[2]["thread_state"]["state"] == "Running"  # blocked, no checkpoint
    assert client.call("SealerFsm.Pause", 2, True) is True
    threads = fresh_worker.wait_for(lambda threads: threads[2]["thread_state"]["state"] == "Paused")
    assert threads[2]["job_state"] == "PC1Done" and threads[2]["last_error"] is None
    assert client.call("SealerFsm.Resume", 2) is True
    fresh_worker.wait_for(lambda threads: threads[2]["thread_state"]["state"] == "Running")
