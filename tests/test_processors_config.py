"""`[processors]` as the reference spells it: defaults, the legacy `[processors.limit]`, and a one-line refusal
naming the key for every mistake; the protocol's lines and a cpuset list, fuzzed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.config import ConfigError, ProcessorsConfig, load_machine_file, parse_cpuset
from sealer_fsm.processors._protocol import ProtocolError, decode_request, decode_response, error_message, failure_of
from sealer_fsm.processors._spawn import environment

THREAD = '[[sealing_thread]]\nlocation = "t0"\n[[attached]]\nlocation = "store"\n'
REPO = Path(__file__).resolve().parents[1]


def load(tmp_path: Path, section: str) -> ProcessorsConfig:
    path = tmp_path / "machine.toml"
    path.write_text(THREAD + section)
    return load_machine_file(path, tmp_path / "home").processors


def test_no_section_means_every_stage_in_process_without_limits(tmp_path: Path) -> None:
    assert load(tmp_path, "") == ProcessorsConfig()


def test_the_reference_example_with_its_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[processors.limit]
pc1 = 4
transfer = 8
[processors.limitation.concurrent]
pc1 = 2
pc2 = 1
[processors.limitation.staggered]
pc1 = "5min"
[processors.ext_locks]
gpu = 1
[[processors.pc1]]
numa_preferred = 0
cgroup.cpuset = "0-3,8"
concurrent = 2
envs = { FIL_PROOFS_USE_MULTICORE_SDR = "1" }
[[processors.pc2]]
locks = ["gpu"]
[[processors.c2]]
bin = "./bin/c2-prover"
args = ["--gpu", "0"]
stable_wait = "30s"
auto_restart = false
inherit_envs = false
locks = ["gpu"]
""",
    )
    assert config.concurrent == {"pc1": 2, "transfer": 8, "pc2": 1}  # limitation.concurrent wins over limit
    assert config.staggered == {"pc1": 300.0} and config.ext_locks == {"gpu": 1}
    (pc1,) = config.external["pc1"]
    assert (pc1.bin, pc1.args, pc1.stable_wait, pc1.auto_restart, pc1.inherit_envs) == (None, None, 5.0, True, True)
    assert (pc1.cpus, pc1.cgroup.group_name, pc1.numa_preferred, pc1.concurrent) == ((0, 1, 2, 3, 8), "vc-worker", 0, 2)
    assert pc1.label == "processor pc1 #0 (sealer-fsm processor pc1)"
    (c2,) = config.external["c2"]
    assert c2.bin == str(tmp_path / "home" / "bin" / "c2-prover") and c2.args == ("--gpu", "0")
    assert (c2.stable_wait, c2.auto_restart, c2.inherit_envs, c2.locks) == (30.0, False, False, ("gpu",))


def test_a_childs_environment_is_built_as_the_reference_builds_it(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[processors.pc1]]\ninherit_envs = false\nnuma_preferred = 1\ncgroup.cpuset = "2-3"\n'
        'cgroup.group_name = "sealers"\nenvs = { VC_CG_CPUSET = "3", A = "b" }\n[[processors.pc2]]\n',
    )
    (pc1,), (pc2,) = config.external["pc1"], config.external["pc2"]
    env = environment(pc1, {"FIL_PROOFS_PARENT_CACHE": "/p"}, parent={"HOME": "/root"})
    assert env["VENUS_WORKER_NUMA_PREFERRED"] == "1" and env["VC_CG_NAME"].startswith("sealers/sub-pc1-")
    assert env["VC_CG_NAME"].endswith("-0") and env["VC_CG_CPUSET"] == "3"  # `envs` win
    assert env["A"] == "b" and env["FIL_PROOFS_PARENT_CACHE"] == "/p" and "HOME" not in env
    assert environment(pc2, None, parent={"HOME": "/root"}) == {"HOME": "/root"}


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("[processors]\nlimits = {}\n", "[processors]: unknown key 'limits'"),
        ("[processors.limitation.concurrent]\npc3 = 1\n", "[processors.limitation.concurrent] pc3: unknown stage"),
        ("[processors.limit]\ntree_d = 1\n", "[processors.limit] tree_d: the tree_d step does not run through"),
        ('[processors.limitation.staggered]\nadd_pieces = "1min"\n', "staggered] add_pieces: the add_pieces step"),
        ("[processors.limitation.concurrent]\npc1 = 0\n", "[processors.limitation.concurrent] pc1: expected a whole"),
        (
            "[processors.limitation.concurrent]\npc1 = true\n",
            "[processors.limitation.concurrent] pc1: expected a whole",
        ),
        ('[processors.limitation.staggered]\npc1 = "soon"\n', "[processors.limitation.staggered] pc1: expected a"),
        ('[processors.limitation.staggered]\npc1 = "500ms"\n', "pc1: must be at least 1s as in the reference"),
        ("[processors.limitation]\ncuncurrent = {}\n", "[processors.limitation]: unknown key 'cuncurrent'"),
        ("[processors.ext_locks]\ngpu = -1\n", "[processors.ext_locks] gpu: expected a whole number of at least 1"),
        ("[[processors.pc2]]\nlocks = ['gpu']\n", "[[processors.pc2]] #0 locks: unknown lock 'gpu' (declared in"),
        ("[[processors.pc1]]\nbinn = 'x'\n", "[[processors.pc1]] #0: unknown key 'binn'"),
        ("[[processors.pc1]]\nbin = ''\n", "[[processors.pc1]] #0 bin: must not be empty"),
        ("[[processors.pc1]]\nconcurrent = 0\n", "[[processors.pc1]] #0 concurrent: must be at least 1"),
        ("[[processors.pc1]]\nstable_wait = '0s'\n", "[[processors.pc1]] #0 stable_wait: must be longer than 0s"),
        ("[[processors.pc1]]\ncgroup.cpuset = '3-1'\n", "[[processors.pc1]] #0 cgroup.cpuset: bad CPU range '3-1'"),
        ("[[processors.pc1]]\ncgroup.cpuset = 'a'\n", "#0 cgroup.cpuset: expected CPU numbers and ranges"),
        ("[[processors.pc1]]\ncgroup.cpu = '1'\n", "[[processors.pc1]] #0 cgroup: unknown key 'cpu'"),
        ("[[processors.pc1]]\nenvs = { A = 1 }\n", "[[processors.pc1]] #0 envs.A: expected a string"),
        ("[[processors.pc1]]\nnuma_preferred = -1\n", "[[processors.pc1]] #0 numa_preferred: must not be negative"),
        ("[[processors.pc1]]\ncgroup.group_name = '../x'\n", "cgroup.group_name: expected a path like 'vc-worker'"),
        ("[[processors.snap_prove]]\n", "[[processors.snap_prove]]: the snap_prove step does not run through"),
        ("[processors]\npc1 = 3\n", "[processors] pc1: expected [[processors.pc1]] entries"),
        ("[[processors.window_post]]\n", "[processors] window_post: not a stage of this worker"),
        ("[processors.static_tree_d]\n2KiB = 'x'\n", "[processors] static_tree_d: not supported"),
    ],
)
def test_a_bad_processors_section_is_refused_in_one_line_naming_the_key(
    tmp_path: Path, section: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refusal:
        load(tmp_path, section)
    message = str(refusal.value)
    assert words in message and "\n" not in message and message.startswith(str(tmp_path / "machine.toml"))


@given(st.sets(st.integers(0, 300), min_size=1))
def test_a_cpuset_list_reads_back_the_cpus_it_names(cpus: set[int]) -> None:
    parts, ordered = [], sorted(cpus)
    start = previous = ordered[0]
    for cpu in [*ordered[1:], None]:
        if cpu is not None and cpu == previous + 1:
            previous = cpu
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if cpu is not None:
            start = previous = cpu
    assert parse_cpuset(",".join(parts)) == tuple(ordered)


@given(st.text(max_size=30))
def test_a_cpuset_parser_accepts_or_explains(text: str) -> None:
    try:
        parse_cpuset(text)
    except ValueError as error:
        assert repr(text) in str(error)


@given(st.binary(max_size=200))
def test_any_line_from_a_child_is_a_response_or_a_protocol_error(line: bytes) -> None:
    for decode in (decode_response, decode_request):
        try:
            decode(line)
        except ProtocolError as error:
            assert len(str(error)) < 200  # quoted, truncated


@given(st.text(max_size=100))
def test_a_failure_crosses_the_protocol_with_its_level_and_on_one_line(text: str) -> None:
    failure = failure_of(error_message(ValueError(text)), "processor pc1 #0 (x)")
    assert failure.level == "permanent" and "\n" not in failure.message
    assert failure_of("temporary: child busy", "p").level == "temporary"
    assert failure_of("abort: no", "p").message == "no"


def test_the_sample_host_loads_and_fits_its_limits_to_its_children() -> None:
    config = load_machine_file(REPO / "machines" / "processors.toml", REPO / "var" / "never-created")
    processors = config.processors
    assert processors.concurrent == {"pc1": 12, "pc2": 1, "c2": 1}
    pc1 = processors.external["pc1"]
    assert sum(entry.concurrent or 0 for entry in pc1) == processors.concurrent["pc1"]
    assert [entry.numa_preferred for entry in pc1] == [0, 1]
    assert all(len(entry.cpus or ()) == 12 for entry in pc1)
    (c2,) = processors.external["c2"]
    assert c2.locks == ("gpu",) and c2.bin == "/opt/prover/c2-prover" and processors.ext_locks == {"gpu": 1}
    assert len(config.threads) > processors.concurrent["pc1"]
