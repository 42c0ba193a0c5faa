"""CommP of what is not a plain file (issue 10 #15): pipes and special files are streamed to their end or refused,
and a file that changes while it is hashed is an error, never a silently zero-filled commitment.

Before: `/dev/stdin` from a pipe, `<(cat f)` and `/proc` files all gave the empty piece (payload size 0, from
`st_size`), `/dev/zero` too, and a file truncated during hashing gave its original size, zero-filled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from sealer_fsm import cli, proofs
from sealer_fsm.proofs import _reference

FRC_0069_PAYLOAD = bytes([0] * 127 + [1] * 127 + [2] * 127 + [3] * 127)
FRC_0069_CID = "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
FRC_0069_CID_V2 = "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
EMPTY_PIECE_CID = "baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"
SEALER_FSM = Path(sys.executable).with_name("sealer-fsm")
BACKENDS = proofs.available_backends()


@contextmanager
def running_on(backend: str) -> Iterator[None]:
    proofs.use_backend(backend)
    try:
        yield
    finally:
        proofs.use_backend("best")


def commp_command(*args: str, stdin: bytes | None = None, shell: bool = False) -> subprocess.CompletedProcess[bytes]:
    """The installed command, directly or through bash (for `<(...)`, pipes and redirects)."""
    if shell:
        return subprocess.run(["/bin/bash", "-c", " ".join(args)], input=stdin, capture_output=True, check=False)
    return subprocess.run([str(SEALER_FSM), *args], input=stdin, capture_output=True, check=False)


def test_commp_of_stdin_from_a_pipe_is_the_piped_data() -> None:
    result = commp_command("proofs", "commp", "/dev/stdin", "--json", stdin=FRC_0069_PAYLOAD)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "cid": FRC_0069_CID,
        "cid_v2": FRC_0069_CID_V2,
        "payload_size": 508,
        "piece_size": 512,
    }


def test_commp_of_a_process_substitution_reads_the_pipe_to_its_end(tmp_path: Path) -> None:
    payload = tmp_path / "payload"
    payload.write_bytes(FRC_0069_PAYLOAD)
    result = commp_command(str(SEALER_FSM), "proofs", "commp", "--json", f"<(cat {payload})", shell=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cid"] == FRC_0069_CID


@pytest.mark.skipif(not os.path.exists("/proc/sys/kernel/ostype"), reason="needs Linux procfs")
def test_commp_of_a_proc_file_hashes_its_content_not_its_zero_size() -> None:
    content = Path("/proc/sys/kernel/ostype").read_bytes()
    assert content and os.stat("/proc/sys/kernel/ostype").st_size == 0
    assert proofs.commp_file("/proc/sys/kernel/ostype") == proofs.commp_bytes(content)


def test_commp_of_a_device_without_end_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commp", "/dev/zero"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("sealer-fsm: cannot hash /dev/zero: ") and "no end" in error
    assert error.count("\n") == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("length", [0, 1, 127, 508, 1_040_385, 9 << 20])
def test_a_stream_gives_the_commitment_of_the_same_bytes_in_a_file(tmp_path: Path, backend: str, length: int) -> None:
    """Through a real pipe, around the part and chunk edges (9 MiB is more than one streaming chunk)."""
    data = os.urandom(length)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with suppress(BrokenPipeError), os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        with running_on(backend):
            streamed = proofs.commp_file(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)  # a reader that stopped early must not leave the feeder blocked
        feeder.join()
    assert streamed == proofs.commp_bytes(data)


def test_a_stream_is_hashed_in_bounded_memory() -> None:
    """72 MiB through a pipe: the peak RSS growth stays far below the data (a memory bound, not timing)."""
    script = textwrap.dedent(
        """
        import resource, sys
        from sealer_fsm import proofs
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        commitment = proofs.commp_file("/dev/stdin")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(commitment.payload_size, commitment.piece_size, (after - before) * 1024)
        """
    )
    zeros = bytes(72 << 20)
    result = subprocess.run([sys.executable, "-c", script], input=zeros, capture_output=True, check=True)
    payload, piece, growth = map(int, result.stdout.split())
    assert (payload, piece) == (72 << 20, 128 << 20)
    assert growth < 40 << 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_read_is_an_error_in_every_backend_not_zeros(tmp_path: Path, backend: str) -> None:
    """The backends' file entry point, told the file has 4,000 bytes when 1,000 are left: `read_input` in C
    (and its Python reference) used to zero-fill the rest."""
    path = tmp_path / "shrunk"
    path.write_bytes(os.urandom(1000))
    with running_on(backend), open(path, "rb") as file:
        from sealer_fsm.proofs import _backend

        with pytest.raises(EOFError):
            _backend.subtree_root_of_fd(file.fileno(), 4000, 0, 4096, True, 1)
        with pytest.raises(EOFError):
            _backend.subtree_root_of_fd(file.fileno(), 4000, 0, 4096, False, 1)


def test_the_python_reference_refuses_a_short_read_too(tmp_path: Path) -> None:
    path = tmp_path / "shrunk"
    path.write_bytes(os.urandom(1000))
    with open(path, "rb") as file, pytest.raises(EOFError):
        _reference.subtree_root_of_fd(file.fileno(), 4000, 0, 4096, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_truncated_while_hashed_is_an_error_naming_it(tmp_path: Path, backend: str) -> None:
    """A sparse file of two hashing chunks, cut to half after the first chunk: it used to hash as zeros."""
    path = tmp_path / "payload.car"
    with open(path, "wb") as file:
        file.truncate(130 << 20)

    def truncate(done: int, total: int) -> None:
        if done < total:
            os.truncate(path, done // 2)

    with running_on(backend), pytest.raises(proofs.FileChanged) as changed:
        proofs.commp_file(path, progress=truncate)
    assert str(path) in str(changed.value) and "changed while" in str(changed.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_written_to_while_hashed_is_an_error(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "staged"
    with open(path, "wb") as file:
        file.truncate(4 << 20)

    os.utime(path, (0, 0))  # any write now moves the modification time, however coarse the clock

    def scribble(done: int, total: int) -> None:
        with open(path, "r+b") as file:
            file.write(b"x")

    with running_on(backend), pytest.raises(proofs.FileChanged):
        proofs.tree_root_of_file(path, progress=scribble)


def test_commd_refuses_a_v2_cid_whose_size_disagrees(capsys: pytest.CaptureFixture[str]) -> None:
    """A v2 piece CID carries its tree height: `:SIZE` must say the same."""
    assert cli.main(["proofs", "commd", "--sector-size", "2KiB", f"{FRC_0069_CID_V2}:1KiB"]) == 1
    error = capsys.readouterr().err
    assert "512B" in error and "1KiB" in error and FRC_0069_CID_V2 in error and error.count("\n") == 1
    assert cli.main(["proofs", "commd", "--sector-size", "2KiB", f"{FRC_0069_CID_V2}:512"]) == 0


def test_the_installed_command_on_bash_redirects_is_what_a_user_gets(tmp_path: Path) -> None:
    """`sealer-fsm proofs commp /dev/stdin < file` (a regular file on stdin) and `cat file | ...` agree."""
    payload = tmp_path / "payload"
    payload.write_bytes(FRC_0069_PAYLOAD)
    piped = commp_command(f"cat {payload} |", str(SEALER_FSM), "proofs", "commp", "/dev/stdin", shell=True)
    redirected = commp_command(str(SEALER_FSM), "proofs", "commp", "/dev/stdin", f"< {payload}", shell=True)
    assert piped.returncode == redirected.returncode == 0
    assert FRC_0069_CID.encode() in piped.stdout and piped.stdout == redirected.stdout
    assert EMPTY_PIECE_CID.encode() not in piped.stdout

