"""Choosing where tensors live (CPU, CUDA or Apple MPS) and seeding every random generator.

The course runs on a laptop CPU, and the same code runs unchanged on a GPU when one is present.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["pick_device", "seed_everything", "describe_device"]

_VALID = ("cpu", "cuda", "mps")


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on.

    With ``prefer=None`` the environment variable ``NBUTILS_DEVICE`` decides if it is set, otherwise
    the first available of CUDA, MPS and CPU is used. Pass ``"cpu"``, ``"cuda"`` or ``"mps"`` to force one.
    """
    choice = prefer if prefer is not None else os.environ.get("NBUTILS_DEVICE")
    if choice is None or choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = str(choice).split(":")[0]
    if kind not in _VALID:
        raise ValueError(f"unknown device {choice!r}: use one of {_VALID} or 'auto'")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA GPU on this machine")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for, but Apple's MPS backend is not available here")
    return torch.device(choice)


def device_of(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on (the CPU for a model without parameters): inputs go there too."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's random generators so that a notebook gives the same numbers every run."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def describe_device(device: torch.device | None = None) -> str:
    """One line a student can read: which device, and its name when it is a GPU."""
    device = device or pick_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"
