"""The checks of notebook 12 accept right answers, explain typical wrong ones and let stubs carry on."""

import math

import pytest
import torch

from nbutils.checks.core import CheckFailed
from nbutils.checks.modern import (calibration_bin, check_calibration_bin, check_gpt2_name, check_rms_norm,
                                   rms_norm)
from nbutils.hf import hf_name


def test_right_answers_pass(capsys):
    check_gpt2_name(hf_name)
    check_rms_norm(rms_norm)
    check_rms_norm(lambda x, w, eps=1e-5: torch.nn.RMSNorm(x.shape[-1], eps=eps, elementwise_affine=False)(x) * w)
    check_calibration_bin(calibration_bin)
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize("wrong, hint", [
    (lambda n: "h." + n, "transformer"),
    (lambda n: "transformer." + n, "calls the list of blocks `h`"),
])
def test_names_hints(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_gpt2_name(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, w, eps=1e-5: torch.nn.functional.layer_norm(x, x.shape[-1:], w, None, eps), "LayerNorm"),
    (lambda x, w, eps=1e-5: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps), "weight is missing"),
    (lambda x, w, eps=1e-5: x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w, "mean of the squares"),
])
def test_rms_hints(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_rms_norm(wrong)


def test_bin_hints():
    def inclusive(c, r, low, high):
        inside = [(a, b) for a, b in zip(c, r) if low <= a <= high]
        if not inside:
            return 0, math.nan, math.nan
        return len(inside), sum(a for a, _ in inside) / len(inside), sum(b for _, b in inside) / len(inside)

    with pytest.raises(CheckFailed, match=r"\[low, high\)"):
        check_calibration_bin(inclusive)

    def swapped(c, r, low, high):
        n, conf, acc = calibration_bin(c, r, low, high)
        return n, acc, conf

    with pytest.raises(CheckFailed, match="swapped"):
        check_calibration_bin(swapped)


def test_stub_carries_on(capsys):
    def rms_norm_stub(x, weight, eps=1e-5):
        """x / rms * weight"""
        raise NotImplementedError

    check_rms_norm(rms_norm_stub)
    assert "not written yet" in capsys.readouterr().out
