"""A stand-in for an operator's external C2 prover (a filecoin-ffi based program, say), for tests only.

It is a separate program that knows nothing of sealer_fsm: it speaks the reference's protocol on stdin/stdout,
checks that each task has exactly the reference's c2 fields (`c1out`, `prover_id` as 32 byte values, `sector_id`,
`miner_id`) and that `c1out` has those of rust-fil-proofs' `SealCommitPhase1Output`, and answers with a 192-byte
"proof" derived from the task by SHA-256. That proof is NOT a Groth16 proof; it only has the length of one, which
is all the devnet can check of an external prover's proof.

    python tests/support/fake_prover.py LOG      (LOG gets each task's field names, one line per task)
"""

from __future__ import annotations

import hashlib
import json
import sys

FIELDS = ["c1out", "prover_id", "sector_id", "miner_id"]
C1_FIELDS = ["registered_proof", "vanilla_proofs", "comm_r", "comm_d", "replica_id", "seed", "ticket"]


def prove(task: dict) -> dict:
    if list(task) != FIELDS:
        raise ValueError(f"expected the fields {FIELDS}, got {list(task)}")
    if not isinstance(task["c1out"], dict) or list(task["c1out"]) != C1_FIELDS:
        raise ValueError(f"c1out: expected a SealCommitPhase1Output with the fields {C1_FIELDS}")
    prover = task["prover_id"]
    if not isinstance(prover, list) or len(prover) != 32 or any(not isinstance(b, int) or b > 255 for b in prover):
        raise ValueError("prover_id is not 32 byte values")
    if not all(isinstance(task[key], int) for key in ("sector_id", "miner_id")):
        raise ValueError("sector_id and miner_id must be numbers")
    seed = hashlib.sha256(json.dumps(task, sort_keys=True).encode()).digest()
    return {"proof": list((seed * 6)[:192])}


def main(log: str) -> None:
    print("c2 processor ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "task" not in request:
            continue  # a cancel request: this prover cannot stop one (the worker kills it instead)
        with open(log, "a") as file:
            file.write(" ".join(request["task"]) + "\n")
        try:
            response = {"id": request["id"], "err_msg": None, "output": prove(request["task"])}
        except ValueError as error:
            response = {"id": request["id"], "err_msg": str(error), "output": None}
        print(json.dumps(response), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
