"""The environment in which the course's notebooks are executed for their stored outputs and tests.

``tools/run_notebooks.py`` (which writes the stored outputs), the nbval run of ``pytest`` (which compares
against them) and the browser test all start their kernels with ``kernel_env()``, so that the same
code prints the same numbers.

What changes floating-point results between two machines, and what this file does about it:

- The CPU's vector instructions. On x86 torch picks AVX-512 or AVX2 kernels at run time, and MKL
  (matrix products, ``exp``, ``log``) does the same; the two give different last bits. Where the CPU
  has AVX2 we cap both at AVX2 (``ATEN_CPU_CAPABILITY``, ``MKL_CBWR``; ``OPENBLAS_CORETYPE`` for
  numpy's matrix products), which nearly every x86 machine of the last ten years supports. ARM
  machines (Apple) differ anyway and are not capped. numpy's own vectorised ``exp``/``log`` are not
  capped: print rounded numbers.
- The number of threads, which can change how reductions are split. Fixed at 2 (a student laptop).
- The device: ``NBUTILS_DEVICE=cpu`` keeps a GPU machine on the CPU.
- Hash seeds: ``PYTHONHASHSEED=0`` fixes the order of sets of strings.

None of this can promise the same last bits on every CPU (vendors, MKL code paths and reduction orders
differ), so the notebooks follow one rule (README, "Tests"): a number that depends on rounding or on a
training run is printed at a precision that holds across machines and asserted with a tolerance. The "alt"
profile below checks the rule: it runs the kernels with other floating-point code paths on purpose.

Not set here: ``OMP_WAIT_POLICY``. It changes speed, never results. With OpenMP's default, torch's two
threads spin briefly between operations, which on an otherwise idle 2-core machine makes a training step
of the course's GPT about 1.7x faster than ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once); on a CPU
that other programs keep busy it is the other way round (measured by ``bench/bench_train.py``). A value
set in the calling environment is passed on to the kernels.
- The user's own configuration: a fresh IPython directory (no startup scripts) and matplotlib's
  default style file (no personal matplotlibrc changing figure sizes).

The kernel must not believe that a front end is attached: ``JPY_SESSION_NAME`` is removed (the course's
widgets show their static picture without a front end), and so is ``MPLBACKEND`` (ipykernel then picks
the inline backend).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["COURSE_ENV", "REMOVED_VARIABLES", "PROFILES", "PROFILE_VARIABLE", "ALT_PROFILE_ENV", "kernel_env",
           "profile_from_env", "cpu_has_avx2"]

COURSE_ENV: dict[str, str] = {
    "PYTHONHASHSEED": "0",
    "NBUTILS_DEVICE": "cpu",
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "TOKENIZERS_PARALLELISM": "false",  # no fork warning from Hugging Face tokenizers
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # no debugger warning at kernel start-up
    "TZ": "UTC",
}

REMOVED_VARIABLES = ("JPY_SESSION_NAME", "MPLBACKEND", "PYTHONSTARTUP")

#: The numeric profiles a kernel can start in. "home" writes and checks the stored outputs; "alt" checks them
#: with deliberately different floating-point code paths, so that an output that only holds on one kind of
#: CPU fails here, before it fails on an instructor's machine.
PROFILES = ("home", "alt")
#: The environment variable that chooses the profile (``pytest --numeric-profile`` sets it too).
PROFILE_VARIABLE = "NBUTILS_NUMERIC_PROFILE"

#: The "alt" profile: every setting is legal and changes which kernels compute the same mathematics.
#: - torch's generic (non-vectorised) CPU kernels instead of AVX2/AVX-512 ones (reductions, exp, softmax, ...);
#: - MKL's "compatible" code path (matrix products with SSE2 kernels and another blocking);
#: - one thread instead of two (reductions split differently, another summation order);
#: - numpy without its AVX2/AVX-512 dispatch (its generic SIMD kernels for exp, log, sums);
#: - OpenBLAS (numpy's matrix products) with its generic x86-64 kernels.
ALT_PROFILE_ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Prescott",
}

_ipython_dir: str | None = None


def _fresh_ipython_dir() -> str:
    """One empty IPython directory per process, removed when the process ends."""
    global _ipython_dir
    if _ipython_dir is None:
        _ipython_dir = tempfile.mkdtemp(prefix="course-ipython-")
        atexit.register(shutil.rmtree, _ipython_dir, ignore_errors=True)
    return _ipython_dir


def cpu_has_avx2() -> bool:
    """True on an x86-64 Linux machine whose CPU has AVX2 (read from /proc/cpuinfo)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return " avx2" in flags


def _matplotlib_default_rc() -> str | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    rc = Path(spec.origin).parent / "mpl-data" / "matplotlibrc"
    return str(rc) if rc.is_file() else None


def profile_from_env(base: Mapping[str, str] | None = None) -> str:
    """The numeric profile named by ``NBUTILS_NUMERIC_PROFILE`` in ``base`` (default ``os.environ``); "home" if unset."""
    env = os.environ if base is None else base
    profile = env.get(PROFILE_VARIABLE, "") or "home"
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE}={profile!r}: choose one of {', '.join(PROFILES)}")
    return profile


def kernel_env(base: Mapping[str, str] | None = None, profile: str | None = None) -> dict[str, str]:
    """Return a copy of ``base`` (default: ``os.environ``) set up for a reproducible notebook kernel.

    ``profile``: "home" (the default; the stored outputs are written under it) or "alt" (other floating-point
    code paths, see ``ALT_PROFILE_ENV``); ``None`` reads ``NBUTILS_NUMERIC_PROFILE`` from ``base``.
    """
    env = dict(os.environ if base is None else base)
    profile = profile_from_env(env) if profile is None else profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    for name in REMOVED_VARIABLES:
        env.pop(name, None)
    env.update(COURSE_ENV)
    if cpu_has_avx2():
        env["ATEN_CPU_CAPABILITY"] = "avx2"
        env["MKL_CBWR"] = "AVX2"
        env["OPENBLAS_CORETYPE"] = "Haswell"  # numpy's OpenBLAS: the AVX2 kernels
    if profile == "alt":
        env.update(ALT_PROFILE_ENV)
    env[PROFILE_VARIABLE] = profile
    env["IPYTHONDIR"] = _fresh_ipython_dir()
    rc = _matplotlib_default_rc()
    if rc is not None:
        env["MATPLOTLIBRC"] = rc
    return env
