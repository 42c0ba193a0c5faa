"""Dependencies point one way (plans → machine → runtime → steps, which use store / manager / proofs), and the
wiring that joins runtime and manager lives beside assembly: checked on the source, so a shortcut cannot return."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sealer_fsm"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_the_manager_and_the_store_never_import_the_layers_above_them():
    above = ("sealer_fsm.runtime", "sealer_fsm.steps", "sealer_fsm.cli", "sealer_fsm.control", "sealer_fsm.tui")
    for path in [*modules_under("manager"), *modules_under("store")]:
        wrong = {name for name in imports_of(path) if name.startswith(above)}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"
    for path in modules_under("store"):
        wrong = {name for name in imports_of(path) if name.startswith(("sealer_fsm.manager", "sealer_fsm.plans"))}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_assembly_and_wiring_use_only_the_public_manager_api():
    for name in ("assembly.py", "wiring.py"):
        private = {
            module
            for module in imports_of(PACKAGE / name)
            if module.startswith("sealer_fsm.") and any(part.startswith("_") for part in module.split("."))
        }
        assert not private, f"{name} imports private modules {sorted(private)}"


def test_the_store_reads_no_step_data_keys():
    for path in modules_under("store"):
        strings = {node.value for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)}
        assert not strings & {"sector_id", "comm_d_cid", "comm_r_cid"}, path.name


def test_the_runtime_s_own_event_names_are_defined_once_in_the_plan_model():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_model.py" and path.parent.name == "plans":
            continue
        strings = {node.value for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)}
        assert "SetState" not in strings, f"{path.relative_to(PACKAGE)} spells out the SetState event"
