"""What every recipe writes beside its result: versions, an atomic JSON file, a progress line."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from nbutils.checkpoint import write_atomic

__all__ = ["versions", "write_json", "Progress"]


def versions() -> dict[str, str]:
    """The versions a result depends on (Python, torch, numpy, the machine)."""
    import numpy

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "machine": platform.machine(), "threads": str(torch.get_num_threads())}


def write_json(path: str | Path, data: Any, ensure_ascii: bool = True) -> None:
    """Write ``data`` as indented JSON, atomically (a crash leaves the previous file), readable by everyone
    (mode 644). ``ensure_ascii=False`` keeps letters such as é as they are (French text) instead of ``\\u00e9``."""
    path = Path(path)
    text = json.dumps(data, indent=1, sort_keys=False, ensure_ascii=ensure_ascii) + "\n"
    write_atomic(path, text.encode("utf-8"))
    path.chmod(0o644)


class Progress:
    """Print one line per report with the time since the start, flushed at once (for logs of long runs)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed / 60:6.1f} min] {message}", file=sys.stdout, flush=True)
