"""The reference worker's machine files load here: keys we implement work, reference keys we do not implement
yet are accepted with one warning each, and keys unknown to both are refused with a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealer_fsm.config import ConfigError, load_machine_file
from tests.conftest import DATA

REFERENCE = DATA / "reference"


def test_the_reference_mock_file_loads_as_an_rpc_worker(tmp_path: Path) -> None:
    config = load_machine_file(REFERENCE / "damocles-worker.mock.toml", tmp_path)
    assert config.sector_manager.kind == "rpc"
    assert config.sector_manager.rpc_client is not None
    assert config.sector_manager.rpc_client.url == "http://127.0.0.1:1789/rpc/v0"
    assert [thread.location for thread in config.threads] == [tmp_path / f"mock-tmp/store{n}" for n in (1, 2, 3)]
    assert config.sealing.enable_deals is True and config.sealing.max_retries == 3
    assert config.metrics.enable is True
    assert [store.name or store.location for store in config.attached] == ["./mock-tmp/remote"]
    named = [warning.split(":", 1)[0] for warning in config.warnings]
    assert named == [
        "[attached_selection]",
        "[worker] scan_persist_stores",
        "[processors] static_tree_d",
        "[processors.limitation.concurrent] add_pieces",
        "[[processors.tree_d]]",
    ]
    assert all("accepted from the reference's format but not implemented here" in w for w in config.warnings)
    # What [processors] says that this worker does implement is read, not set aside.
    assert config.processors.concurrent == {"pc1": 3, "pc2": 2, "c2": 1} and config.processors.staggered == {"pc1": 60}
    assert [entry.numa_preferred for entry in config.processors.external["pc1"]] == [0, 1]


def test_every_documented_reference_key_loads(tmp_path: Path) -> None:
    config = load_machine_file(REFERENCE / "damocles-worker.full.toml", tmp_path)
    manager = config.sector_manager
    assert manager.rpc_client is not None and manager.rpc_client.headers == {"User-Agent": "jsonrpc-core-client"}
    assert manager.piece_token == "a token of the market service"
    assert config.worker.ping_interval == 30.0 and config.worker.rpc_server.port == 17891
    assert config.local_pieces_dirs == [Path("/path/to/pieces-01"), Path("/path/to/pieces-02")]
    assert config.sealing.allowed_miners == [10123, 10124, 10125] and config.sealing.min_deal_space == 8 << 30
    assert config.threads[0].plan == "snapup" and config.threads[0].sealing.request_task_max_retries == 3
    assert [store.readonly for store in config.attached] == [False, True]
    named = [warning.split(":", 1)[0] for warning in config.warnings]
    assert named == [
        "[worker] ScanPersistStores",
        "[metrics] http_listen",
        "[processors] static_tree_d (2KiB)",
        "[processors.limitation.concurrent] add_pieces",
        *(f"[[processors.{stage}]]" for stage in ("add_pieces", "tree_d", "snap_prove", "unseal")),
        "[[processors.window_post]]",
        "[[processors.sealing_daemons]]",
    ]
    assert "this worker has no window_post stage" in config.warnings[-2]
    assert config.processors.ext_locks == {"gpu1": 1} and config.processors.external["pc2"][0].locks == ("gpu1",)


def test_the_legacy_single_local_pieces_dir_is_read(machine_file, tmp_path: Path) -> None:
    path = machine_file(["sealer"])
    path.write_text(path.read_text().replace("[worker]\n", '[worker]\nlocal_pieces_dir = "pieces"\n', 1))
    assert load_machine_file(path, tmp_path).local_pieces_dirs == [tmp_path / "pieces"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("max_retries = 3", "max_retires = 3"), "[sealing]: unknown key 'max_retires' (did you mean 'max_retries'?)"),
        (("[worker]\n", "[worker]\nlocal_piece_dirs = []\n"), "did you mean 'local_pieces_dirs'?"),
        (("[[processors.tree_d]]", "[[processor.tree_d]]"), "unknown key 'processor' (did you mean 'processors'?)"),
        (("[[processors.transfer]]", "[[processors.transfr]]"), "unknown key 'transfr'"),
        (("[metrics]\n", "[metrics]\nhttp_listn = 'x'\n"),
         "[metrics]: unknown key 'http_listn' (did you mean 'http_listen'?)"),
        (("rpc_client.addr = \"/ip4/127.0.0.1/tcp/1789\"", "rpc_client.addr = \"/ip4/127.0.0.1\""),
         "[sector_manager] rpc_client.addr: multiaddr '/ip4/127.0.0.1' has no /tcp/PORT"),
        (("[sector_manager]\n", "[sector_manager]\nkind = \"damocles\"\n"),
         "unknown kind 'damocles' (available: devnet, rpc)"),
        (("[[sealing_thread]]\nlocation = \"./mock-tmp/store3\"", "[[sealing_thread]]\nlocaton = \"x\""),
         "[[sealing_thread]] #2: unknown key 'locaton' (did you mean 'location'?)"),
    ],
)  # fmt: skip
def test_keys_unknown_to_both_are_refused_with_a_suggestion(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    text = (REFERENCE / "damocles-worker.mock.toml").read_text()
    assert edit[0] in text
    path = tmp_path / "machine.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_machine_file(path, tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_rpc_kind_needs_an_address_and_devnet_stays_the_default(machine_file, tmp_path: Path) -> None:
    assert load_machine_file(machine_file(["sealer"]), tmp_path).sector_manager.kind == "devnet"
    path = machine_file(["sealer"], extra='[sector_manager]\nkind = "rpc"\n')
    with pytest.raises(ConfigError, match=r"rpc_client.addr: required with kind = \"rpc\""):
        load_machine_file(path, tmp_path)
