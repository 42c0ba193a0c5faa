"""Builds the C backend of sealer_fsm.proofs; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

PROOFS = "sealer_fsm/proofs"

setup(
    ext_modules=[
        Extension(
            "sealer_fsm.proofs._native",
            sources=[f"{PROOFS}/_native.c", f"{PROOFS}/_sha256.c", f"{PROOFS}/_fr32.c"],
            depends=[f"{PROOFS}/_sha256.h", f"{PROOFS}/_fr32.h"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
            extra_link_args=["-pthread"],
        )
    ]
)
