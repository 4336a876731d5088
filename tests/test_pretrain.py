"""Tests of nbutils.pretrain and its command nbutils.recipes.pretrain: training the course model, the shipped checkpoint.

Losses are recomputed with plain ``torch.nn.functional.cross_entropy`` on the model's logits, not with the
module's own ``validation_loss``, so that the numbers in ``training_log.json`` are checked independently.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nbutils.model import GPT
from nbutils.pretrain import DEFAULT_OUT, load_course_model, validation_loss
from nbutils.recipes.pretrain import main
from nbutils.tokenizers.bpe import GPT2_SPLIT_PATTERN, BPETokenizer
from nbutils.train import History
from nbutils.world import default_corpus

SENTENCE = "The cat is on the roof."
FILES = ("checkpoint.json", "model.safetensors", "tokenizer.json", "training_log.json", "README.md")


@pytest.fixture(scope="module")
def fresh_tokenizer() -> BPETokenizer:
    """The course tokenizer trained from scratch, exactly as the course describes it."""
    return BPETokenizer.train(default_corpus(0).train_text, vocab_size=1024, pattern=GPT2_SPLIT_PATTERN)


@pytest.fixture(scope="module")
def val_ids(fresh_tokenizer) -> torch.Tensor:
    return torch.tensor(fresh_tokenizer.encode(default_corpus(0).val_text), dtype=torch.long)


def reference_loss(model: GPT, ids: torch.Tensor, n_windows: int) -> float:
    """Mean next-token cross-entropy over the first ``n_windows`` consecutive windows, with F.cross_entropy."""
    T = model.config.context_length
    windows = torch.stack([ids[k * T: k * T + T + 1] for k in range(n_windows)])
    with torch.no_grad():
        logits = model(windows[:, :-1])[0]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1)).item()


# ----------------------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, fresh_tokenizer) -> Path:
    out = tmp_path_factory.mktemp("course_model")
    assert main(["--quick", "--out", str(out), "--device", "cpu"]) == 0
    return out


def test_quick_run_writes_every_file(quick_run: Path):
    for name in FILES:
        assert (quick_run / name).is_file(), name
    assert not list(quick_run.glob(".*.tmp")), "temporary files were left behind"
    assert not (quick_run / "training_state.safetensors").exists(), "no optimiser state is shipped"
    log = json.loads((quick_run / "training_log.json").read_text())
    for key in ("history", "train_config", "wall_seconds", "tokens_seen", "final_val_loss_per_token",
                "final_val_loss_per_char", "entropy_floor_per_char", "entropy_floor_per_token", "versions"):
        assert key in log, key
    assert log["versions"]["torch"] == torch.__version__
    assert log["steps"] == log["history"]["steps"][-1]
    assert log["tokens_seen"] == log["steps"] * log["train_config"]["batch_size"] * 128
    assert "python -m nbutils.recipes.pretrain --quick" in (quick_run / "README.md").read_text()
    assert log["command"] == "python -m nbutils.recipes.pretrain --quick"


def test_quick_run_loads_and_matches_its_log(quick_run: Path, fresh_tokenizer, val_ids):
    model, tokenizer, info = load_course_model(device="cpu", path=quick_run)
    assert isinstance(model, GPT) and not model.training
    assert tokenizer.encode(SENTENCE) == fresh_tokenizer.encode(SENTENCE)
    log = info["log"]
    assert isinstance(info["history"], History) and info["history"].steps == log["history"]["steps"]
    # the logged loss is the loss of these weights on the first windows of the validation text
    assert log["final_val_loss_per_token"] == pytest.approx(reference_loss(model, val_ids, 4), abs=1e-4)
    chars_per_token = len(default_corpus(0).val_text) / len(val_ids)
    assert log["final_val_loss_per_char"] == pytest.approx(log["final_val_loss_per_token"] / chars_per_token)
    floor = default_corpus(0).entropy_floor("val")
    assert log["entropy_floor_per_char"] == pytest.approx(floor.nats_per_char)
    assert log["entropy_floor_per_token"] == pytest.approx(floor.per_token(chars_per_token))


def test_validation_loss_against_cross_entropy(quick_run: Path, val_ids):
    model, _, _ = load_course_model(device="cpu", path=quick_run)
    loss, count = validation_loss(model, val_ids, max_windows=3)
    assert count == 3 * 128
    assert loss == pytest.approx(reference_loss(model, val_ids, 3), abs=1e-5)
    # a last window shorter than the context is scored too: every token but the first, exactly once
    short = val_ids[:300]
    loss, count = validation_loss(model, short)
    assert count == 299
    with torch.no_grad():
        parts = [(short[s:s + 129], model(short[s:s + 129][None, :-1])[0][0]) for s in (0, 128, 256)]
    expected = torch.cat([F.cross_entropy(logits, w[1:], reduction="none") for w, logits in parts]).mean()
    assert loss == pytest.approx(expected.item(), abs=1e-5)


def test_quick_needs_an_output_folder():
    with pytest.raises(SystemExit):
        main(["--quick"])


def test_the_old_command_name_still_runs_the_recipe():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "nbutils.pretrain", "--help"], capture_output=True, text=True,
                          check=True)
    assert done.stdout.startswith("usage: python -m nbutils.recipes.pretrain")


def test_bad_arguments_are_refused(tmp_path: Path):
    from nbutils.recipes.pretrain import pretrain

    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        pretrain(tmp_path, steps=0, verbose=False)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        pretrain(tmp_path, seed=-1, verbose=False)
    with pytest.raises(SystemExit):
        main(["--steps", "0", "--out", str(tmp_path)])


def test_missing_checkpoint_says_how_to_make_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="python -m nbutils.recipes.pretrain"):
        load_course_model(device="cpu", path=tmp_path / "nothing here")


# ----------------------------------------------------------------------------------------- the shipped model
def test_shipped_checkpoint_is_small_and_complete():
    for name in FILES:
        assert (DEFAULT_OUT / name).is_file(), f"{name} is missing: run python -m nbutils.recipes.pretrain"
    total = sum(f.stat().st_size for f in DEFAULT_OUT.iterdir() if f.is_file())
    assert total < 10 * 2**20, f"the shipped model takes {total / 2**20:.1f} MB"


def test_shipped_model_loads_and_matches_the_course_tokenizer(fresh_tokenizer, val_ids):
    started = time.perf_counter()
    model, tokenizer, info = load_course_model(device="cpu")
    assert time.perf_counter() - started < 5.0
    assert not model.training
    assert model.config.vocab_size == fresh_tokenizer.vocab_size == 1024
    assert tokenizer.encode(SENTENCE) == fresh_tokenizer.encode(SENTENCE)
    assert tokenizer.decode(tokenizer.encode(SENTENCE)) == SENTENCE
    log = info["log"]
    assert not log["quick"]
    assert info["history"].last_step == log["steps"] == info["step"]
    # its loss on a few windows of the validation text is close to the logged value for the whole text
    loss = reference_loss(model, val_ids, 8)
    assert abs(loss - log["final_val_loss_per_token"]) < 0.3
    assert log["final_val_loss_per_token"] < 0.8 * log["history"]["val_loss"][0], "the model has not learned"


def test_world_model_loads_with_its_record(fresh_tokenizer, val_ids):
    from nbutils.pretrain import WORLD_MODEL

    model, tokenizer, info = load_course_model(device="cpu", path=WORLD_MODEL)
    assert not model.training and model.config.context_length == 256 and model.config.vocab_size == 1024
    # the same tokenizer as the small course model, byte for byte, and as the course tokenizer trained afresh
    assert (WORLD_MODEL / "tokenizer.json").read_bytes() == (DEFAULT_OUT / "tokenizer.json").read_bytes()
    assert tokenizer.merges == fresh_tokenizer.merges
    assert info["log"] == {} and info["record"]["points"][-1]["step"] == info["step"]
    assert info["val_loss_per_token"] == info["record"]["points"][-1]["val_loss"]
    # the record's loss is on whole stories; consecutive windows that start anywhere cost this model more
    loss = reference_loss(model, val_ids, 8)
    assert info["val_loss_per_token"] < loss < info["val_loss_per_token"] + 0.5
    small, _, small_info = load_course_model(device="cpu")
    assert small.config.context_length == 128 and small_info["record"] == {}
    assert small_info["val_loss_per_token"] == small_info["log"]["final_val_loss_per_token"]
