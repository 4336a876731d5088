"""Tests for nbutils.device: choosing a device, seeding, finding a model's device."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from nbutils.device import describe_device, device_of, pick_device, seed_everything


def test_pick_device_cpu_and_bad_names():
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError):
        pick_device("tpu")


def test_pick_device_refuses_a_missing_gpu():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            pick_device("cuda")


def test_seed_everything_repeats_every_generator():
    def draws():
        return random.random(), float(np.random.rand()), torch.rand(1).item()

    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_device_of_a_model_and_of_a_model_without_weights():
    assert device_of(nn.Linear(2, 3)) == torch.device("cpu")
    assert device_of(nn.ReLU()) == torch.device("cpu")
    assert describe_device(torch.device("cpu")).startswith("cpu")
