"""Builds the C backend of sealer_fsm.proofs; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

PROOFS = "sealer_fsm/proofs"
COMPILE_ARGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"]

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
    ],
)
