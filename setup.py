"""Builds the C backends of sealer_fsm.proofs; everything else about the package is in pyproject.toml."""

import runpy
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PROOFS = "sealer_fsm/proofs"
COMPILE_ARGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"]
POSEIDON_GENERATOR = Path(PROOFS) / "_poseidon_params.py"
POSEIDON_HEADER_DIR = Path("build") / "poseidon"


class BuildWithPoseidonConstants(build_ext):
    """Generates `_poseidon_constants.h` (Grain round constants and the optimised matrices, checked against
    neptune's vectors) before compiling; it is rebuilt only when the generator changes."""

    def run(self) -> None:
        header = POSEIDON_HEADER_DIR / "_poseidon_constants.h"
        if not header.exists() or header.stat().st_mtime < POSEIDON_GENERATOR.stat().st_mtime:
            runpy.run_path(str(POSEIDON_GENERATOR))["write_header"](header)
        for extension in self.extensions:
            if extension.name.endswith("._poseidon"):
                extension.include_dirs.append(str(POSEIDON_HEADER_DIR.resolve()))
        super().run()


setup(
    ext_modules=[
        Extension(
            "sealer_fsm.proofs._native",
            sources=[f"{PROOFS}/{name}.c" for name in ("_native", "_sha256", "_sha256_x86", "_fr32")],
            depends=[f"{PROOFS}/_sha256.h", f"{PROOFS}/_fr32.h"],
            extra_compile_args=COMPILE_ARGS,
            extra_link_args=["-pthread"],
        ),
        Extension(
            "sealer_fsm.proofs._sdr",
            sources=[
                f"{PROOFS}/{name}.c"
                for name in ("_sdr", "_sdr_graph", "_sdr_prf", "_sdr_labels", "_sha256", "_sha256_x86")
            ],
            depends=[f"{PROOFS}/{name}.h" for name in ("_sdr_graph", "_sdr_labels", "_sha256")],
            extra_compile_args=COMPILE_ARGS,
            extra_link_args=["-pthread"],
        ),
        Extension(
            "sealer_fsm.proofs._poseidon",
            sources=[f"{PROOFS}/{name}.c" for name in ("_poseidon_module", "_poseidon", "_poseidon_avx2", "_trees")],
            depends=[f"{PROOFS}/{name}.h" for name in ("_fr", "_poseidon", "_poseidon_perm", "_trees")],
            extra_compile_args=COMPILE_ARGS,
            extra_link_args=["-pthread"],
        ),
    ],
    cmdclass={"build_ext": BuildWithPoseidonConstants},
)
