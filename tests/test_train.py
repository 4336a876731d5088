"""Tests of nbutils.train and of the exercise checks in nbutils.checks.training.

The schedule is compared with torch's own LR schedulers, one Trainer step with a loop written out by hand
(torch's AdamW, clip_grad_norm_ and nbutils.data.get_batch), and an interrupted run with an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import signal
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from nbutils.checks.core import CheckFailed
from nbutils.checks.training import check_shift_by_one, check_training_step, make_inputs_targets
from nbutils.data import get_batch
from nbutils.model import GPT, GPTConfig
from nbutils.data import collate, shuffled_batches
from nbutils.progress import TrainingProgress, person_watching, plot_loss_curves
from nbutils.train import History, TrainConfig, Trainer, lm_loss, lr_at, make_optimizer

VOCAB = 7


def tiny_model(dropout: float = 0.0) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=VOCAB, context_length=8, n_layer=1, n_head=2, n_embd=16, dropout=dropout))


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable sequence: a repeating pattern with a little noise."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 300)
    noise = torch.rand(len(ids), generator=generator) < 0.05
    ids[noise] = torch.randint(0, VOCAB, (int(noise.sum()),), generator=generator)
    return ids[:1800], ids[1800:]


def small_config(**changes) -> TrainConfig:
    settings = dict(steps=30, batch_size=4, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_every=10, eval_batches=2,
                    log_every=4, device="cpu")
    settings.update(changes)
    return TrainConfig(**settings)


# ------------------------------------------------------------------------------------------- schedule
def test_lr_schedule_matches_torch_schedulers():
    cfg = TrainConfig(steps=60, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    warm_up = torch.optim.lr_scheduler.LinearLR(optimizer, 1 / cfg.warmup_steps, 1.0, cfg.warmup_steps - 1)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps - cfg.warmup_steps, cfg.min_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's deprecation chatter about epochs
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warm_up, cosine], [cfg.warmup_steps])
        for step in range(cfg.steps + 1):
            assert lr_at(step, cfg) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9), step
            optimizer.step()
            scheduler.step()
    assert lr_at(cfg.steps + 100, cfg) == cfg.min_lr
    assert lr_at(0, TrainConfig(warmup_steps=0)) == TrainConfig().lr


def test_train_config_rejects_bad_values():
    for bad in (dict(steps=0), dict(lr=0.0), dict(min_lr=1.0), dict(grad_clip=0.0), dict(beta2=1.0),
                dict(batch_size=2.5), dict(warmup_steps=-1), dict(seed=-3)):
        with pytest.raises(ValueError, match="TrainConfig"):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"stepz": 3})


def test_optimizer_decays_only_matrices():
    model = tiny_model()
    optimizer = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))  # tied head once


# ------------------------------------------------------------------------------------------- the loop
def test_trainer_matches_a_hand_written_loop(data):
    train_ids, val_ids = data
    cfg = small_config(steps=6, eval_every=100)
    trainer = Trainer(tiny_model(), train_ids, val_ids, cfg)
    trainer.train(progress="off")

    model = tiny_model()  # the reference: the same step written out with torch's pieces
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    generator = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, y = get_batch(train_ids, cfg.batch_size, 8, generator=generator)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    # Rounding differs by ~1e-9 (fused AdamW, foreach clipping). The key bias has a true gradient of 0 (softmax
    # ignores a constant added to every score), so AdamW turns its rounding noise into steps of ~1e-6.
    for mine, reference in zip(trainer.model.parameters(), model.parameters()):
        assert torch.allclose(mine, reference, rtol=0, atol=1e-5)
    assert trainer.history.train_loss == pytest.approx(losses, abs=1e-6)


def test_training_reduces_loss_and_keeps_a_consistent_history(data):
    train_ids, val_ids = data
    calls = []
    trainer = Trainer(tiny_model(), train_ids, val_ids, small_config(steps=60, eval_every=25))
    history = trainer.train(progress="off", callback=lambda h: calls.append(h.last_step))
    assert history.steps == list(range(1, 61))
    assert history.val_steps == [0, 25, 50, 60]
    assert history.tokens_seen[-1] == 60 * 4 * 8
    assert history.lr == [lr_at(s, trainer.config) for s in range(60)]
    assert history.val_loss[-1] < history.val_loss[0] - 0.5
    assert abs(history.val_loss[0] - torch.log(torch.tensor(float(VOCAB))).item()) < 0.2
    assert trainer.evaluate() == pytest.approx(history.val_loss[-1])  # the same fixed validation batches
    assert calls[0] == 0 and calls[-1] == 60 and 60 in calls
    assert History.from_json(json.dumps(history.to_dict())) == history


def test_interrupted_run_continues_to_the_same_result(data):
    train_ids, val_ids = data
    straight = Trainer(tiny_model(dropout=0.1), train_ids, val_ids, small_config())
    straight.train(progress="off")

    def stop_at_13(history: History) -> None:
        if history.last_step >= 13:
            raise KeyboardInterrupt

    stopped = Trainer(tiny_model(dropout=0.1), train_ids, val_ids, small_config(log_every=1))
    stopped.train(progress="off", callback=stop_at_13)
    assert stopped.step == 13
    stopped.config.log_every = 4
    stopped.train(progress="off")
    assert stopped.history == straight.history
    for a, b in zip(stopped.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)


def test_stop_button_finishes_the_current_step(data, capsys):
    """SIGINT (JupyterLab's stop button) asks the loop to stop; the step in progress completes."""
    train_ids, val_ids = data
    straight = Trainer(tiny_model(), train_ids, val_ids, small_config(log_every=1))
    straight.train(progress="off")

    def press_stop(history: History) -> None:
        if history.last_step == 7:
            os.kill(os.getpid(), signal.SIGINT)

    trainer = Trainer(tiny_model(), train_ids, val_ids, small_config(log_every=1))
    trainer.train(progress=TrainingProgress("terminal"), callback=press_stop)
    assert trainer.step == 7
    assert "stopped at step 7 of 30" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the usual handler is back
    trainer.train(progress="off")
    assert trainer.history == straight.history


def test_person_watching_detection(monkeypatch):
    for name in ("NBUTILS_LIVE", "NBUTILS_WIDGETS", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert not person_watching()
    monkeypatch.setenv("JPY_SESSION_NAME", "notebook.ipynb")
    assert person_watching()
    monkeypatch.setenv("NBUTILS_WIDGETS", "0")  # the older name, still read
    assert not person_watching()
    monkeypatch.setenv("NBUTILS_LIVE", "1")  # the one name, read first
    assert person_watching()


def test_progress_display_is_handed_in_and_train_draws_nothing(data, capsys):
    import nbutils.train as train_module

    assert "progress" not in train_module.__dict__ and "plots" not in train_module.__dict__
    train_ids, val_ids = data
    trainer = Trainer(tiny_model(), train_ids, val_ids, small_config(steps=4, eval_every=2))
    trainer.train()
    assert capsys.readouterr().out == ""  # no display given: nothing printed
    trainer.train(until=6, progress=TrainingProgress("terminal"))
    assert "trained at step 6 of 6 (2 steps in" in capsys.readouterr().out
    with pytest.raises(TypeError, match="TrainingProgress"):
        trainer.train(progress="terminal")
    with pytest.raises(ValueError, match="mode"):
        TrainingProgress("loud")


def test_plot_loss_curves_draws_both_curves(data):
    train_ids, val_ids = data
    history = Trainer(tiny_model(), train_ids, val_ids, small_config(steps=10, eval_every=5)).train(progress="off")
    ax = plot_loss_curves(history, floor=0.3)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "train" in labels and "validation" in labels
    assert list(ax.get_lines()[1].get_xdata()) == [0, 5, 10]
    plot_loss_curves(history.to_dict())
    import matplotlib.pyplot as plt

    plt.close("all")


def _masked_examples(n: int = 24) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Variable-length (ids, targets) examples whose first targets are masked, like translation examples."""
    generator = torch.Generator().manual_seed(1)
    examples = []
    for i in range(n):
        length = 3 + i % 5
        ids = torch.randint(0, VOCAB, (length + 1,), generator=generator)
        targets = ids[1:].clone()
        targets[:2] = -100
        examples.append((ids[:-1], targets))
    return examples


def test_trainer_over_an_iterator_of_masked_batches_matches_a_hand_written_loop():
    examples = _masked_examples()
    cfg = small_config(steps=7, batch_size=5, log_every=3)
    val = collate(examples[:6])
    trainer = Trainer(tiny_model(), shuffled_batches(examples, 5, collate, torch.Generator().manual_seed(3)),
                      config=cfg, evaluate=lambda m: lm_loss(m, val).item())
    history = trainer.train()

    model = tiny_model()
    optimizer = make_optimizer(model, cfg)
    generator = torch.Generator().manual_seed(3)
    order, losses, tokens = [], [], []
    for step in range(cfg.steps):
        if len(order) < 5:
            order += torch.randperm(len(examples), generator=generator).tolist()
        chosen, order = order[:5], order[5:]
        x, y = collate([examples[i] for i in chosen])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        tokens.append((tokens[-1] if tokens else 0) + int((y != -100).sum()))
    assert history.train_loss == pytest.approx(losses, abs=1e-6)
    assert history.tokens_seen == tokens  # only the targets in the loss are counted
    assert history.val_steps == [0, 7]
    assert history.val_loss[-1] == pytest.approx(lm_loss(model, val).item(), abs=1e-5)


def test_trainer_explains_bad_batches_and_settings(data):
    train_ids, val_ids = data
    with pytest.raises(TypeError, match="iterator of batches"):
        Trainer(tiny_model(), 42, None, small_config())
    with pytest.raises(ValueError, match="not both"):
        Trainer(tiny_model(), train_ids, val_ids, small_config(), evaluate=lambda m: 0.0)
    short = Trainer(tiny_model(), iter([collate(_masked_examples(2))]), config=small_config(steps=3))
    with pytest.raises(ValueError, match="ran out after 1 steps"):
        short.train()


def test_trainer_rejects_bad_data():
    with pytest.raises(TypeError, match="1-D tensor"):
        Trainer(tiny_model(), torch.zeros(100), None, small_config())
    with pytest.raises(ValueError, match="context_length"):
        Trainer(tiny_model(), torch.arange(5) % VOCAB, None, small_config())


# ------------------------------------------------------------------------------------------- exercise checks
def test_shift_check_accepts_the_reference_and_explains_mistakes(capsys):
    check_shift_by_one(make_inputs_targets)
    assert "✓" in capsys.readouterr().out
    mistakes = {
        "same as x": lambda ids, T, s: (ids[s:s + T], ids[s:s + T]),
        "context_length = 4 as well": lambda ids, T, s: (ids[s:s + T], ids[s + 1:s + T]),
        "swapped": lambda ids, T, s: (ids[s + 1:s + T + 1], ids[s:s + T]),
        "exactly context_length": lambda ids, T, s: (ids[s:s + T + 1], ids[s + 1:s + T + 2]),
    }
    for hint, wrong in mistakes.items():
        with pytest.raises(CheckFailed, match="hint") as info:
            check_shift_by_one(wrong)
        assert hint in str(info.value)


def _forgot_zero_grad(model, optimizer, x, y):
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _forgot_step(model, optimizer, x, y):
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    return loss.item()


def _returns_tensor(model, optimizer, x, y):
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss


def _clears_too_late(model, optimizer, x, y):
    _, loss = model(x, y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def test_training_step_check_explains_mistakes(capsys):
    from nbutils.checks.training import training_step

    check_training_step(training_step)
    assert "✓" in capsys.readouterr().out
    for wrong, hint in [(_forgot_zero_grad, "optimizer.zero_grad() at the start"),
                        (_forgot_step, "did you call optimizer.step()"),
                        (_returns_tensor, "loss.item()"),
                        (_clears_too_late, "between loss.backward() and optimizer.step()")]:
        with pytest.raises(CheckFailed, match="hint") as info:
            check_training_step(wrong)
        assert hint in str(info.value), wrong.__name__


def test_training_benchmark_runs(capsys):
    """A smoke test of bench/bench_train.py on a tiny model: both sides train and agree."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_train.py"
    spec = importlib.util.spec_from_file_location("bench_train", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--steps", "4", "--eval-every", "2", "--chunk", "2", "--eval-batches", "1", "--bytes", "20000",
                "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--context", "8", "--batch", "2",
                "--warmup", "1", "--peak-sizes", "64", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "speed ratio nbutils / reference" in out and "(within ±0.03)" in out
