"""Tests of nbutils.checkpoint: safetensors files, tied weights, mismatch errors, atomic writes, exact resume."""

from __future__ import annotations

import json
import os

import pytest
import safetensors
import torch

import nbutils.checkpoint as checkpoint_module
from nbutils.checkpoint import load_checkpoint, save_checkpoint, tokenizer_identity
from nbutils.model import GPT, GPTConfig
from nbutils.tokenizers import CharTokenizer
from nbutils.train import History, TrainConfig, Trainer

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer.train(TEXT)


@pytest.fixture(scope="module")
def ids(tokenizer) -> torch.Tensor:
    return torch.tensor(tokenizer.encode(TEXT))


def tiny_gpt(vocab_size: int, n_embd: int = 16, dropout: float = 0.0) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab_size, context_length=8, n_layer=1, n_head=2, n_embd=n_embd,
                         dropout=dropout))


def config(**changes) -> TrainConfig:
    settings = dict(steps=16, batch_size=4, warmup_steps=3, eval_every=5, eval_batches=2, log_every=3,
                    lr=3e-3, device="cpu")
    settings.update(changes)
    return TrainConfig(**settings)


def test_round_trip_rebuilds_and_reties_the_model(tmp_path, tokenizer):
    model = tiny_gpt(tokenizer.vocab_size)
    save_checkpoint(tmp_path / "ckpt", model, tokenizer=tokenizer, step=0)
    with safetensors.safe_open(str(tmp_path / "ckpt" / "model.safetensors"), "pt") as file:
        stored = set(file.keys())
    assert "wte.weight" in stored and "lm_head.weight" not in stored  # the tied tensor is stored once
    meta = json.loads((tmp_path / "ckpt" / "checkpoint.json").read_text())
    assert meta["tied"] == {"lm_head.weight": "wte.weight"} and meta["model_config"]["n_embd"] == 16

    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.model.lm_head.weight is loaded.model.wte.weight  # tied again
    for (name, a), b in zip(model.state_dict().items(), loaded.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert loaded.tokenizer.encode("the cat") == tokenizer.encode("the cat")
    assert loaded.step == 0 and loaded.history is None and loaded.optimizer_state is None

    into = tiny_gpt(tokenizer.vocab_size)
    with torch.no_grad():
        into.wte.weight.zero_()
    load_checkpoint(tmp_path / "ckpt", model=into, tokenizer=tokenizer)
    assert torch.equal(into.wte.weight, model.wte.weight) and into.lm_head.weight is into.wte.weight


def test_mismatches_are_explained(tmp_path, tokenizer):
    save_checkpoint(tmp_path, tiny_gpt(tokenizer.vocab_size, n_embd=16), tokenizer=tokenizer)
    with pytest.raises(ValueError, match="checkpoint has n_embd=16 but the model has n_embd=32") as info:
        load_checkpoint(tmp_path, model=tiny_gpt(tokenizer.vocab_size, n_embd=32))
    assert "wte.weight: checkpoint has shape" in str(info.value)
    other = CharTokenizer.train(TEXT + "!")
    with pytest.raises(ValueError, match=r"trained with CharTokenizer \(vocab_size 14.*given is CharTokenizer "
                                         r"\(vocab_size 15.*differs in vocab_size, sha256"):
        load_checkpoint(tmp_path, tokenizer=other)
    untied = tiny_gpt(tokenizer.vocab_size)
    untied.lm_head.weight = torch.nn.Parameter(untied.wte.weight.detach().clone())
    with pytest.raises(ValueError, match="lm_head.weight is tied to wte.weight"):
        load_checkpoint(tmp_path, model=untied)


def test_tokenizer_identity_ignores_formatting_but_not_content(tokenizer):
    same = CharTokenizer.train(TEXT[::-1])  # same characters, other order of appearance
    assert tokenizer_identity(same) == tokenizer_identity(tokenizer)
    assert tokenizer_identity(CharTokenizer.train("abc"))["sha256"] != tokenizer_identity(tokenizer)["sha256"]


def test_optimizer_state_round_trip(tmp_path, ids, tokenizer):
    trainer = Trainer(tiny_gpt(tokenizer.vocab_size), ids, ids, config(steps=3))
    trainer.train(progress="off")
    trainer.save_checkpoint(tmp_path)
    model = tiny_gpt(tokenizer.vocab_size)
    optimizer = Trainer(model, ids, ids, config()).optimizer
    loaded = load_checkpoint(tmp_path, model=model, optimizer=optimizer)
    saved_state, restored = trainer.optimizer.state_dict(), optimizer.state_dict()
    assert saved_state["param_groups"] == restored["param_groups"]
    for key, values in saved_state["state"].items():
        for name, tensor in values.items():
            assert torch.equal(tensor, restored["state"][key][name]), (key, name)
    assert History.from_dict(loaded.history) == trainer.history
    assert TrainConfig.from_dict(loaded.train_config) == trainer.config


def test_resume_gives_exactly_the_same_run(tmp_path, ids, tokenizer):
    """N steps, save, load into fresh objects, N more == 2N steps in one go (weights and history)."""
    straight = Trainer(tiny_gpt(tokenizer.vocab_size, dropout=0.1), ids, ids, config())
    straight.train(progress="off")

    first = Trainer(tiny_gpt(tokenizer.vocab_size, dropout=0.1), ids, ids, config())
    first.train(until=8, progress="off")
    first.save_checkpoint(tmp_path / "half", tokenizer=tokenizer)
    torch.manual_seed(1234)  # disturb every global random state, as a new process would have its own
    torch.rand(10)
    resumed = Trainer.from_checkpoint(tmp_path / "half", ids, ids)
    assert resumed.step == 8
    resumed.train(progress="off")
    assert resumed.history == straight.history
    for (name, a), b in zip(straight.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(a, b), name


def test_writes_are_atomic(tmp_path, monkeypatch, tokenizer):
    model = tiny_gpt(tokenizer.vocab_size)
    save_checkpoint(tmp_path, model, step=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.os, "replace", crash)
    with torch.no_grad():
        model.wte.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, model, step=2)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # old files intact, no temporary file left behind
    monkeypatch.undo()
    assert load_checkpoint(tmp_path).step == 1


def test_files_from_two_saves_are_detected(tmp_path, tokenizer):
    save_checkpoint(tmp_path / "a", tiny_gpt(tokenizer.vocab_size), step=1)
    save_checkpoint(tmp_path / "b", tiny_gpt(tokenizer.vocab_size, n_embd=32), step=2)
    os.replace(tmp_path / "b" / "model.safetensors", tmp_path / "a" / "model.safetensors")
    with pytest.raises(ValueError, match="does not belong to this checkpoint.json"):
        load_checkpoint(tmp_path / "a")
    with pytest.raises(ValueError, match="model.safetensors but the file is missing"):
        load_checkpoint(tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="no checkpoint.json"):
        load_checkpoint(tmp_path)
