"""Machine files and the units they are written in: typed, validated once, refused in one line naming the key."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer_fsm.config import ConfigError, default_home, load_machine_file
from sealer_fsm.units import format_duration, format_size, parse_duration, parse_size, shown

THREAD = '[[sealing_thread]]\nlocation = "a"\n'
STORE = '[[attached]]\nlocation = "store"\n'


@given(st.integers(0, 1 << 50))
def test_sizes_round_trip_through_their_shortest_spelling(size):
    assert parse_size(format_size(size)) == size


@given(st.integers(0, 10**6), st.sampled_from([("ms", 0.001), ("s", 1), ("min", 60), ("h", 3600), ("d", 86400)]))
def test_durations_parse_every_unit_up_to_a_year(amount, unit):
    suffix, seconds = unit
    if amount * seconds <= 365 * 86400:
        assert parse_duration(f"{amount}{suffix}") == pytest.approx(amount * seconds)
    else:
        with pytest.raises(ValueError, match="at most a year"):
            parse_duration(f"{amount}{suffix}")


@given(st.one_of(st.text(max_size=20), st.text(alphabet="0123456789.smhdinKMGTiB ", max_size=30)))
def test_size_and_duration_parsers_accept_or_explain(text):
    for parser in (parse_size, parse_duration):
        try:
            value = parser(text)
        except ValueError as error:
            assert shown(text) in str(error) and "\n" not in str(error)
        else:
            assert 0 <= value <= (365 * 86400 if parser is parse_duration else 2**64 - 1)


@given(st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.booleans(), st.none(), st.binary(max_size=4)))
def test_size_and_duration_parsers_refuse_what_is_not_a_finite_quantity(value):
    for parser in (parse_size, parse_duration):
        try:
            result = parser(value)
        except ValueError:
            continue
        assert math.isfinite(result) and 0 <= result <= 2**64 - 1
        assert parser is parse_size or result <= 365 * 86400


def test_composite_durations_and_formatting():
    assert parse_duration("1h 30min") == 5400
    assert parse_duration("250ms") == 0.25
    assert format_duration(3723) == "1h 2m 3s"
    assert parse_size("32GiB") == 32 << 30
    with pytest.raises(ValueError, match="expected a size like '2KiB'"):
        parse_size("2KB2")


def test_defaults_follow_the_reference_and_threads_override_them(tmp_path):
    path = tmp_path / "host.toml"
    path.write_text(
        "[sealing]\nmax_retries = 7\n"
        '[[sealing_thread]]\nlocation = "a"\n'
        '[[sealing_thread]]\nlocation = "/abs/b"\nplan = "snapup"\n'
        'sealing = {max_retries = 2, seal_interval = "5min"}\n' + STORE
    )
    config = load_machine_file(path, home=tmp_path / "home")
    assert config.name == "host" and config.worker.rpc_server.port == 17890
    first, second = config.threads
    assert (first.sealing.max_retries, first.sealing.recover_interval, first.sealing.seal_interval) == (7, 60.0, 30.0)
    assert first.sealing.rpc_polling_interval == 180.0 and first.sealing.request_task_max_retries == 3
    assert (second.sealing.max_retries, second.sealing.seal_interval, second.plan) == (2, 300.0, "snapup")
    assert first.location == tmp_path / "home" / "a" and str(second.location) == "/abs/b"
    assert (config.proofs.parent_cache_dir, config.proofs.simulate) == ("parent-cache", [])
    assert config.resolve(config.proofs.parent_cache_dir) == tmp_path / "home" / "parent-cache"
    assert config.sector_manager.devnet.proof_type is None


def test_the_proofs_section_names_simulated_stages_and_the_parent_cache(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(
        '[[sealing_thread]]\nlocation = "a"\n'
        '[proofs]\nsimulate = ["pc1", "pc2"]\nparent_cache_dir = "/srv/parents"\n'
        '[sector_manager.devnet]\nsector_size = "32GiB"\nproof_type = 3\n' + STORE
    )
    config = load_machine_file(path)
    assert config.proofs.simulate == ["pc1", "pc2"]
    assert config.resolve(config.proofs.parent_cache_dir) == Path("/srv/parents")
    assert config.sector_manager.devnet.proof_type == 3


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[sealing_thread]]\nlocation = "a"\nplna = "sealer"\n', "[[sealing_thread]] #0: unknown key 'plna'"),
        ('[sealing]\nmax_retries = "five"\n[[sealing_thread]]\nlocation = "a"\n', "[sealing] max_retries: expected"),
        ('[sealing]\nseal_interval = "soon"\n[[sealing_thread]]\nlocation = "a"\n', "[sealing] seal_interval:"),
        ('[[sealing_thread]]\nlocation = "a"\nplan = "sealr"\n', "[[sealing_thread]] #0 plan: unknown plan 'sealr'"),
        (THREAD + THREAD + STORE, "[[sealing_thread]] #1 location: 'a' is the location of [[sealing_thread]] #0"),
        ("[worker]\nname = 3\n", "[worker] name: expected a string"),
        ('[worker.rpc_server]\nport = "x"\n', "[worker.rpc_server] port: expected a whole number"),
        ("[[attached]]\nlocation = 1\n", "[[attached]] #0 location: expected a string"),
        ("", "no [[sealing_thread]] defined"),
        ('[[sealing_thread]]\nlocation = "a"\nsealing = {max_retries = -1}\n', "must not be negative"),
        (THREAD + STORE + '[sector_manager]\nkind = "lotus"\n', "unknown kind 'lotus'"),
        (THREAD + STORE + "[proofs]\nthreads = 0\n", "[proofs] threads: must be from 1 to 256"),
        (THREAD + STORE + "[proofs]\nthreads = 999\n", "[proofs] threads: must be from 1 to 256"),
        (
            THREAD + STORE + '[proofs]\nsimulate = ["pc1", "pc3"]\n',
            "[proofs] simulate: unknown stage 'pc3' (stages: pc1, pc2, c1, c2, snap_encode, snap_prove)",
        ),
        (THREAD + STORE + '[proofs]\nsimulate = "pc1"\n', "[proofs] simulate: expected a list"),
        (
            THREAD + STORE + "[sector_manager.devnet]\nproof_type = 20\n",
            "[sector_manager.devnet] proof_type: seal proof type 20 is not registered",
        ),
        (
            THREAD + STORE + "[sector_manager.devnet]\nproof_type = 6\n",
            "[sector_manager.devnet] proof_type: 6 (StackedDrg8MiBV1_1) seals 8MiB sectors, not 2KiB",
        ),
        ("[[sealing_thread]\n", "TOML syntax error"),
    ],
)
def test_a_bad_machine_file_is_refused_in_one_line_naming_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_machine_file(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert words in message


DEVNET = "[sector_manager.devnet]\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # Issue 10 #16, as found: each was accepted, then stalled, slept forever or crashed the worker.
        (THREAD + STORE + DEVNET + 'block_time = "0s"\n', "[sector_manager.devnet] block_time: must be more than 0"),
        (THREAD + STORE + DEVNET + "block_time = 0\n", "[sector_manager.devnet] block_time: must be more than 0"),
        (THREAD + STORE + "[sealing]\nseal_interval = inf\n", "[sealing] seal_interval: "),
        (THREAD + STORE + "[sealing]\nrecover_interval = nan\n", "[sealing] recover_interval: "),
        (THREAD + STORE + '[sealing]\nrpc_polling_interval = "1' + "0" * 400 + 's"\n', "rpc_polling_interval: "),
        (THREAD + STORE + "[worker]\ndrain_timeout = -inf\n", "[worker] drain_timeout: "),
        (THREAD + STORE + DEVNET + "miner = 18446744073709551616\n", "[sector_manager.devnet] miner: must be at most"),
        (THREAD, "[[attached]]: no persist store"),
        (THREAD + '[[attached]]\nlocation = "s"\nreadonly = true\n', "[[attached]]: no writable persist store"),
        (
            '[[sealing_thread]]\nlocation = "threads/0"\n[[sealing_thread]]\nlocation = "threads/0/../0"\n' + STORE,
            "[[sealing_thread]] #1 location: 'threads/0/../0' is the location of [[sealing_thread]] #0",
        ),
        ('[worker]\nname = "../../../tmp/escape"\n' + THREAD + STORE, "[worker] name: "),
        # The same classes of fault, swept over the rest of the schema.
        (THREAD + STORE + '[proofs]\nsimulate = ["c1"]\n', "[proofs] simulate: c1 is simulated only with pc2"),
        (THREAD + STORE + "[sealing]\nallowed_miners = [-1]\n", "[sealing] allowed_miners[0]: must not be negative"),
        (THREAD + STORE + "[sealing]\nallowed_miners = [99999999999999999999]\n", "allowed_miners[0]: must be at"),
        (THREAD + STORE + '[sealing]\nallowed_sizes = ["2KB2"]\n', "[sealing] allowed_sizes[0]: expected a size"),
        (THREAD + STORE + '[sealing]\nallowed_sizes = ["3KiB"]\n', "[sealing] allowed_sizes[0]: "),
        (THREAD + STORE + "[sealing]\nmax_retries = 99999999999999999999\n", "[sealing] max_retries: must be at"),
        (THREAD + STORE + '[sealing]\nmin_deal_space = "99999999999999999999TiB"\n', "min_deal_space: "),
        (THREAD + STORE + "[worker.rpc_server]\nport = 65536\n", "[worker.rpc_server] port: must be at most 65535"),
        (THREAD + STORE + '[worker.rpc_server]\ntoken = ""\n', "[worker.rpc_server] token: must not be empty"),
        (THREAD + STORE + '[worker.rpc_server]\nhost = ""\n', "[worker.rpc_server] host: must not be empty"),
        (THREAD + STORE + DEVNET + 'sector_size = "128GiB"\n', "[sector_manager.devnet] sector_size: "),
        (THREAD + STORE + DEVNET + "seed = 18446744073709551616\n", "[sector_manager.devnet] seed: must be at most"),
        ('[[sealing_thread]]\nlocation = ""\n' + STORE, "[[sealing_thread]] #0 location: must not be empty"),
        ('[[sealing_thread]]\nlocation = "a\\u0000b"\n' + STORE, "[[sealing_thread]] #0 location: "),
        (THREAD + '[[attached]]\nlocation = ""\n', "[[attached]] #0 location: must not be empty"),
        (THREAD + '[[attached]]\nlocation = "a/data"\n', "[[attached]] #0 location: 'a/data' lies inside"),
        (THREAD + '[[attached]]\nlocation = "."\n', "[[attached]] #0 location: '.' contains the location of"),
        (THREAD + STORE + '[[attached]]\nname = "b"\nlocation = "./store"\n', "[[attached]] #1 location: "),
        (THREAD + STORE + '[[attached]]\nname = ""\nlocation = "s2"\n', "[[attached]] #1 name: must not be empty"),
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ('[[sealing_thread]]\nlocation = "a"\nplan = "' + "p" * 300 + '"\n' + STORE, "#0 plan: File name too long"),
    ],
)
def test_bad_values_are_refused_in_one_line_naming_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_machine_file(path, home=tmp_path / "home")
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert words in message


def test_a_machine_file_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(THREAD.encode() + STORE.encode() + b'[worker]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as refused:
        load_machine_file(path)
    assert str(refused.value).startswith(f"{path}: not UTF-8 text") and "\n" not in str(refused.value)


def test_worker_name_is_a_plain_name_so_the_default_home_stays_under_var(tmp_path):
    path = tmp_path / "host.toml"
    path.write_text('[worker]\nname = "host-1.example_a"\n' + THREAD + STORE)
    config = load_machine_file(path)
    assert config.home == default_home("host-1.example_a").absolute() and config.home.parent.name == "var"


def _toml(value):
    """A TOML value (inline form) for what the strategies below produce."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(key)} = {_toml(item)}" for key, item in value.items()) + "}"


_NASTY_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 65535, 65536, 2**64 - 1, 2**64]),
    st.floats(),
    st.booleans(),
    st.sampled_from(["", "0s", "10ms", "inf", "nan", "1" + "0" * 400 + "s", "2KiB", "3KiB", "128GiB", "a\0b"]),
    st.sampled_from(["t0", "t0/../t0", "./t0", "t0/data", "store", "../../../tmp/escape", ".", "/", "devnet"]),
    st.text(max_size=8),
)
_NASTY = st.one_of(_NASTY_SCALARS, st.lists(_NASTY_SCALARS, max_size=3))

SCHEMA_KEYS = {
    "worker": ["name", "drain_timeout"],
    "worker.rpc_server": ["host", "port", "token"],
    "sealing": [
        "allowed_miners", "allowed_sizes", "enable_deals", "disable_cc", "max_deals", "min_deal_space",
        "max_retries", "seal_interval", "recover_interval", "rpc_polling_interval", "ignore_proof_check",
        "request_task_max_retries", "verify_after_pc2",
    ],
    "sector_manager.devnet": [
        "miner", "sector_size", "block_time", "precommit_epochs", "seed_epochs", "proof_epochs",
        "ticket_expiry_epochs", "seed", "precommit_fail_rate", "proof_fail_rate", "files_missed_rate",
        "rpc_error_rate", "abort_rate",
    ],
    "proofs": ["threads"],
    "thread": ["location", "plan"],
    "store": ["name", "location", "readonly"],
}  # fmt: skip


@st.composite
def machine_documents(draw):
    """A sound machine file (two threads, two stores) with a few keys anywhere in the schema set to nasty
    values: the loader must refuse them in one line or produce a config that is safe to run."""
    tables = {"worker": {}, "worker.rpc_server": {}, "sealing": {}, "sector_manager.devnet": {}, "proofs": {}}
    threads = [{"location": "t0"}, {"location": "t1", "plan": "snapup"}]
    stores = [{"name": "a", "location": "store-a"}, {"name": "b", "location": "store-b"}]
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.sampled_from(sorted(SCHEMA_KEYS)))
        key = draw(st.sampled_from(SCHEMA_KEYS[table]))
        value = draw(_NASTY)
        if table == "thread":
            draw(st.sampled_from(threads))[key] = value
        elif table == "store":
            draw(st.sampled_from(stores))[key] = value
        else:
            tables[table][key] = value
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    lines += ["[[sealing_thread]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in t.items()) for t in threads]
    lines += ["[[attached]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in s.items()) for s in stores]
    return "\n".join(lines) + "\n"


def _assert_safe_to_run(config) -> None:
    """What every accepted machine file guarantees to the code that runs it."""
    for sealing in [config.sealing, *(thread.sealing for thread in config.threads)]:
        for seconds in (sealing.seal_interval, sealing.recover_interval, sealing.rpc_polling_interval):
            assert math.isfinite(seconds) and 0 <= seconds <= 365 * 86400
        assert not sealing.verify_after_pc2
        for number in [sealing.max_retries, sealing.request_task_max_retries, *(sealing.allowed_miners or [])]:
            assert 0 <= number < 2**64
        for size in sealing.allowed_sizes or []:
            assert parse_size(size) & (parse_size(size) - 1) == 0
    devnet = config.sector_manager.devnet
    assert 0 < devnet.block_time <= 365 * 86400 and 0 <= devnet.miner < 2**64 and 0 <= devnet.seed < 2**64
    assert 256 <= devnet.sector_size <= 64 << 30
    assert 0 <= config.worker.rpc_server.port <= 65535 and math.isfinite(config.worker.drain_timeout)
    assert config.name and "/" not in config.name and config.name not in (".", "..")
    assert any(not store.readonly for store in config.attached)
    real = [Path(os.path.realpath(thread.location)) for thread in config.threads]
    real += [Path(os.path.realpath(config.resolve(store.location))) for store in config.attached]
    for index, path in enumerate(real):
        assert not any(path.is_relative_to(other) or other.is_relative_to(path) for other in real[:index])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(machine_documents())
def test_the_loader_refuses_in_one_line_or_gives_a_config_safe_to_run(tmp_path, document):
    path = tmp_path / "machine.toml"
    path.write_text(document)
    try:
        config = load_machine_file(path, home=tmp_path / "home")
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 400, message
    else:
        _assert_safe_to_run(config)
