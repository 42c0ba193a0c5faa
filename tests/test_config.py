"""Machine files and the units they are written in: typed, validated once, refused in one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.units import format_duration, format_size, parse_duration, parse_size


@given(st.integers(0, 1 << 50))
def test_sizes_round_trip_through_their_shortest_spelling(size):
    assert parse_size(format_size(size)) == size


@given(st.integers(0, 10**6), st.sampled_from([("ms", 0.001), ("s", 1), ("min", 60), ("h", 3600), ("d", 86400)]))
def test_durations_parse_every_unit(amount, unit):
    suffix, seconds = unit
    assert parse_duration(f"{amount}{suffix}") == pytest.approx(amount * seconds)


@given(st.text(max_size=20))
def test_size_and_duration_parsers_accept_or_explain(text):
    for parser in (parse_size, parse_duration):
        try:
            value = parser(text)
        except ValueError as error:
            assert repr(text) in str(error)
        else:
            assert value >= 0


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
        'sealing = {max_retries = 2, seal_interval = "5min"}\n'
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
        '[sector_manager.devnet]\nsector_size = "32GiB"\nproof_type = 3\n'
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
        ('[[sealing_thread]]\nlocation = "a"\n[[sealing_thread]]\nlocation = "a"\n', "is already used by thread #0"),
        ("[worker]\nname = 3\n", "[worker] name: expected a string"),
        ('[worker.rpc_server]\nport = "x"\n', "[worker.rpc_server] port: expected a whole number"),
        ("[[attached]]\nlocation = 1\n", "[[attached]] #0 location: expected a string"),
        ("", "no [[sealing_thread]] defined"),
        ('[[sealing_thread]]\nlocation = "a"\nsealing = {max_retries = -1}\n', "must not be negative"),
        ('[[sealing_thread]]\nlocation = "a"\n[sector_manager]\nkind = "lotus"\n', "unknown kind 'lotus'"),
        ('[[sealing_thread]]\nlocation = "a"\n[proofs]\nthreads = 0\n', "[proofs] threads: must be from 1 to 256"),
        (
            '[[sealing_thread]]\nlocation = "a"\n[proofs]\nsimulate = ["pc1", "pc3"]\n',
            "[proofs] simulate: unknown stage 'pc3' (stages: pc1, pc2, c1, c2, snap_encode, snap_prove)",
        ),
        ('[[sealing_thread]]\nlocation = "a"\n[proofs]\nsimulate = "pc1"\n', "[proofs] simulate: expected a list"),
        (
            '[[sealing_thread]]\nlocation = "a"\n[sector_manager.devnet]\nproof_type = 20\n',
            "[sector_manager.devnet] proof_type: seal proof type 20 is not registered",
        ),
        (
            '[[sealing_thread]]\nlocation = "a"\n[sector_manager.devnet]\nproof_type = 6\n',
            "[sector_manager.devnet] proof_type: 6 (StackedDrg8MiBV1_1) seals 8MiB sectors, not 2KiB",
        ),
        ('[[sealing_thread]]\nlocation = "a"\n[proofs]\nthreads = 999\n', "[proofs] threads: must be from 1 to 256"),
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
