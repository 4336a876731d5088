"""The world-model recipe's bookkeeping: which snapshots ship, and a README whose numbers are the record's."""

from __future__ import annotations

import subprocess
import sys

from nbutils.recipes.world_model import jump_snapshots, render_readme


def fake_record():
    accuracies = [0.0, 0.1, 0.3, 0.4, 0.45, 0.5, 0.9, 0.95]
    points = [{"step": 100 * i, "tokens": 100 * i * 8192, "stories_read": 50 * i, "elapsed_s": 30.0 * i,
               "val_loss": 2.0 - 0.1 * i, "gap": 1.2 - 0.1 * i, "answerable": 10, "answerable_accuracy": a,
               "by_answer": {"place": [int(10 * a), 10], "holder": [0, 0]}} for i, a in enumerate(accuracies)]
    points[-1]["unanswerable_kl"] = {"questions": 5, "mean_kl": 0.0123, "mean_mass": 0.99}
    points[-1]["word_kinds"] = {"answer": {"tokens": 4, "model_nats": 2.0, "true_nats": 1.0, "gap_per_token": 0.25},
                                "end": {"tokens": 0, "model_nats": 0.0, "true_nats": 0.0, "gap_per_token": float("nan")}}
    points[-1]["detail_stories"] = 200
    return {"recipe": "python -m nbutils.recipes.world_model --layers 6 --buffer 16",
            "model_config": {"vocab_size": 1024, "context_length": 256, "n_layer": 6, "n_head": 4, "n_embd": 128},
            "train_config": {"steps": 700, "batch_size": 32, "lr": 2e-3, "min_lr": 2e-4, "warmup_steps": 100,
                             "weight_decay": 0.1, "grad_clip": 1.0, "seed": 0},
            "evaluation": {"stories": 600, "floor_per_token": 0.8024, "stories_longer_than_context": 52},
            "points": points, "tokens_cut": 1_500_000, "tokens_repeated": 900_000, "total_s": 3600}


def test_snapshots_sit_around_the_largest_jump():
    record = fake_record()
    assert jump_snapshots(record["points"]) == [200, 500, 600]  # the jump is 500 -> 600 (0.5 -> 0.9); 200: about half of 500


def test_readme_quotes_the_record():
    text = render_readme(fake_record(), [300, 500, 600])
    assert "`python -m nbutils.recipes.world_model --layers 6 --buffer 16`" in text and "packed first-fit" in text
    assert "| 600 | 4.9M | 1.400 | 0.600 | 90% | 90% | - | - |" in text
    assert "| 700 | 5.7M | 1.300 | 0.500 | 95% | 90% | - | 0.012 |" in text
    assert "| answer | 4 | 0.500 | 0.250 | 0.250 |" in text and "| end |" not in text
    assert "steps 300, 500, 600" in text


def test_the_command_answers_help():
    out = subprocess.run([sys.executable, "-m", "nbutils.recipes.world_model", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--ship" in out and "--rescore" in out and "--buffer" in out


def test_resume_counts_on_from_the_checkpoint(tmp_path):
    """``--resume`` trains a saved model further: the record's steps and tokens count on from the checkpoint's step,
    and the folder it writes is itself a checkpoint one can resume again."""
    import json

    from nbutils.checkpoint import load_checkpoint, save_checkpoint
    from nbutils.model import GPT, GPTConfig
    from nbutils.pretrain import course_tokenizer

    tokenizer = course_tokenizer()
    start = tmp_path / "start"
    save_checkpoint(start, GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=256, n_layer=1, n_head=2,
                                         n_embd=16)), tokenizer=tokenizer, step=40)
    out = tmp_path / "more"
    subprocess.run([sys.executable, "-m", "nbutils.recipes.world_model", "--quick", "--resume", str(start),
                    "--seed", "5", "--out", str(out)], capture_output=True, text=True, check=True)
    record = json.loads((out / "record.json").read_text())
    assert record["resumed_from"] == {"model": str(start), "step": 40, "tokens": 40 * 2 * 256}
    assert [p["step"] for p in record["points"]] == [40, 43, 46]
    assert record["points"][-1]["tokens"] == 46 * 2 * 256  # --quick: rows of 2
    assert load_checkpoint(out).step == 46 and load_checkpoint(out).model.config.n_embd == 16


def test_a_continuation_with_another_batch_size_counts_the_tokens_read(tmp_path):
    """The tokens a resumed model has read come from its run's record (or its training config), not from the
    continuation's batch size: a model of 3000 steps of 32 rows has read 24.6M tokens, whatever comes next."""
    import json

    from nbutils.checkpoint import load_checkpoint, save_checkpoint
    from nbutils.model import GPT, GPTConfig
    from nbutils.recipes.world_model import tokens_read_before
    from nbutils.train import TrainConfig

    model = GPT(GPTConfig(vocab_size=64, context_length=256, n_layer=1, n_head=2, n_embd=16))
    save_checkpoint(tmp_path / "a", model, step=3000, train_config=TrainConfig(steps=3000, batch_size=32))
    assert tokens_read_before(load_checkpoint(tmp_path / "a"), tmp_path / "a", 16, 256) == 3000 * 32 * 256
    save_checkpoint(tmp_path / "b", model, step=3000)
    (tmp_path / "b" / "record.json").write_text(json.dumps({"points": [{"step": 3000, "tokens": 123_456}]}))
    assert tokens_read_before(load_checkpoint(tmp_path / "b"), tmp_path / "b", 16, 256) == 123_456
    save_checkpoint(tmp_path / "c", model, step=10)  # neither: the continuation's rows
    assert tokens_read_before(load_checkpoint(tmp_path / "c"), tmp_path / "c", 16, 256) == 10 * 16 * 256


def test_a_continuation_ships_as_one_two_stage_record():
    """``--ship`` of a ``--resume`` run: the base's points up to the resumed step, then the continuation's; both
    recipes kept, steps and time added, and the README tells the two stages apart."""
    import pytest

    from nbutils.recipes.world_model import merge_stages

    base = fake_record()
    slow = ("word_kinds", "unanswerable_kl", "detail_stories")
    more_points = [{**{k: v for k, v in base["points"][-1].items() if k not in slow}, "step": s, "tokens": s * 8192, "answerable_accuracy": a}
                   for s, a in ((700, 0.95), (800, 0.97), (900, 0.99))]
    more = {**base, "recipe": "python -m nbutils.recipes.world_model --resume M --steps 200 --seed 5",
            "train_config": {**base["train_config"], "steps": 200, "lr": 1e-3, "min_lr": 1e-4, "seed": 5},
            "points": more_points, "total_s": 600, "resumed_from": {"model": "M", "step": 700},
            "versions": {"threads": "2"}}
    merged = merge_stages(base, more)
    assert [p["step"] for p in merged["points"]] == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]
    assert merged["points"][7]["answerable_accuracy"] == 0.95  # the resumed model as the continuation scored it
    assert all(merged["points"][7][k] == base["points"][-1][k] for k in slow)  # its slower measures kept
    assert not any(k in merged["points"][8] for k in slow)
    assert merged["points"][8]["stories_read"] == base["points"][-1]["stories_read"] + more_points[1]["stories_read"]
    assert merged["points"][8]["elapsed_s"] == base["total_s"] + more_points[1]["elapsed_s"]
    assert merged["train_config"]["steps"] == 900 and merged["total_s"] == 4200 and "resumed_from" not in merged
    assert [s["train_config"]["seed"] for s in merged["stages"]] == [0, 5]
    assert merged["recipe"].startswith("python -m nbutils.recipes.world_model --layers 6") and " && " in merged["recipe"]
    text = render_readme(merged, [200, 500, 600])
    assert "in 2 stages" in text and "Stage 1: 700 steps, cosine from 0.002 to 0.0002, stream seed 1000" in text
    assert ("Stage 2: 200 steps, cosine from 0.001 to 0.0001, stream seed 1005 (a new warm-up, from the model of "
            "step 700)") in text
    assert "| 900 | 7.4M |" in text and "900 steps" in text and "seed 1000 then 1005)" in text
    opening = text.split("\n")[2]
    assert opening.startswith("Made in 2 stages") and "70 minutes in all" in opening and "then `python -m" in opening
    assert "--rescore" not in opening  # its last point has no slower measures
    assert "stream seed 1005 (a new warm-up, from the model of step 700), 2 torch threads, 10 minutes." in text
    with pytest.raises(ValueError, match="starts at step 600"):
        merge_stages(base, {**more, "resumed_from": {"model": "M", "step": 600}})
