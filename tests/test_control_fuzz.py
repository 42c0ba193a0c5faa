"""A sweep of malformed and refused requests: the server always answers, and no task ever changes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.raw_http import post
from tests.support.running_worker import RunningWorker, worker_process
from tests.test_control_rpc import SETTLED_OPTIONS, settled

READ_ONLY = [
    "VenusWorker.WorkerList",
    "VenusWorker.WorkerVersion",
    "SealerFsm.Info",
    "SealerFsm.History",
    "SealerFsm.Plans",
    "SealerFsm.PlanOf",
]
MUTATING = ["VenusWorker.WorkerPause", "VenusWorker.WorkerResume", "SealerFsm.Pause", "SealerFsm.Resume"]
SEALER_STATES = {"Empty", "Allocated", "DealsAcquired", "PieceAdded", "TreeDBuilt", "TicketAssigned", "PC1Done"}
SEALER_STATES |= {"PC2Done", "PCSubmitted", "PCLanded", "Persisted", "PersistanceSubmitted", "SeedAssigned"}
SEALER_STATES |= {"C1Done", "C2Done", "ProofSubmitted", "Finished", "Abort", "Aborted"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ids = st.none() | st.integers() | st.text(max_size=8) | st.booleans() | st.lists(st.integers(), max_size=2)
no_such_thread = st.integers().filter(lambda index: not 0 <= index < 4) | st.booleans() | st.floats() | st.text()


def request(method: st.SearchStrategy, params: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"method": method, "params": params},
        optional={"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", 2]), "id": ids},
    )


requests = st.one_of(
    request(st.sampled_from(READ_ONLY) | st.text(max_size=30), json_values),
    # Refused by construction: no such thread, a state outside the plan of a paused sealer thread, or a resume of
    # a thread that is not paused (whatever the state).
    request(st.sampled_from(MUTATING), st.lists(json_values, max_size=3).flatmap(
        lambda rest: no_such_thread.map(lambda index: [index, *rest]))),
    request(st.sampled_from(MUTATING), st.builds(lambda index: {"index": index}, no_such_thread)),
    request(st.just("SealerFsm.Resume"), st.tuples(st.sampled_from([0, 3]), st.text().filter(
        lambda state: state not in SEALER_STATES)).map(list)),
    request(st.sampled_from(["SealerFsm.Resume", "VenusWorker.WorkerResume"]),
            st.tuples(st.sampled_from([1, 2]), st.none() | st.text()).map(list)),
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(json.dumps),
    requests.map(json.dumps),
    st.lists(requests | json_values, max_size=5).map(json.dumps),
)


def task_snapshot(worker: RunningWorker) -> list[tuple]:
    """What a request must not change: each thread's task, state, pause, error, retry and history length."""
    with worker.client() as client:
        return [
            (
                thread["job_id"],
                thread["job_state"],
                thread["thread_state"]["state"],
                thread["paused"],
                thread["last_error"],
                thread["retry"],
                len(client.call("SealerFsm.History", thread["index"])["entries"]),
            )
            for thread in client.call("VenusWorker.WorkerList")
        ]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    with worker_process(tmp_path_factory.mktemp("fuzz"), *SETTLED_OPTIONS) as running:
        running.wait_for(settled)
        yield running


@pytest.fixture(scope="module")
def baseline(worker: RunningWorker) -> list[tuple]:
    return task_snapshot(worker)


@settings(max_examples=300, deadline=None)
@given(body=bodies)
def test_malformed_requests_never_crash_the_server_or_change_a_task(
    worker: RunningWorker, baseline: list[tuple], body: str | bytes
) -> None:
    status, answer = post(worker.port, body, {"Content-Type": "application/json"})
    assert status in (200, 204)
    if status == 200:
        responses = answer if isinstance(answer, list) else [answer]
        assert responses and all(response["jsonrpc"] == "2.0" for response in responses)
        assert all(("result" in response) != ("error" in response) for response in responses)
        assert all(response.get("error", {}).get("code") != -32603 for response in responses)
    assert task_snapshot(worker) == baseline
