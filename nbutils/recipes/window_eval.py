"""How much of the world model's gap to the entropy floor comes from reading the text in windows?

    python -m nbutils.recipes.window_eval            # writes nbutils/assets/window_eval.json
    python -m nbutils.recipes.window_eval --out FILE

``nbutils.pretrain.validation_loss`` reads the validation text in consecutive windows of ``context_length`` tokens (256 for the world model): a token
near the start of a window is predicted from few tokens, even when its story began long before. Here every
token of the validation text is scored twice with the world model (``--model DIR``: another checkpoint):

- ``consecutive``: as ``validation_loss`` does (the number in ``training_log.json``);
- ``story``: ``nbutils.pretrain.sliding_window_losses`` (which reads each story with
  ``nbutils.evaluate.story_logits(..., stride=1)``) with a reset at every blank line between stories:
  each token is predicted from the 256 tokens before it, or from the start of its own story (the blank
  line before it) when the story so far is shorter. That is the most a 256-token model can see of what the
  entropy floor's reader sees.

Both score the same 25,907 tokens. The difference is the part of the gap that windowing explains; what is
left is the model. The JSON also splits the tokens by their distance from the start of their story.
It took 54 s with the world model (measured, one thread on this project's 2-core CPU, other jobs sharing it);
most of it goes to the 1,708 tokens more than 256 tokens into their story, scored one window each (64 windows a
batch).
Notebook ``05_pretraining`` loads the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from nbutils.recipes.report import versions, write_json

OUT = Path(__file__).resolve().parents[1] / "assets" / "window_eval.json"


def run(model_path: str | Path | None = None) -> dict:
    """Score the validation text both ways with a pretrained model (None: the world model,
    ``nbutils.pretrain.WORLD_MODEL``); returns what the JSON file holds."""
    from nbutils.data import encode_corpus
    from nbutils.pretrain import WORLD_MODEL, load_course_model, segment_starts, sliding_window_losses, validation_loss
    from nbutils.world import STORY_SEPARATOR, default_corpus

    started = time.perf_counter()
    folder = Path(model_path) if model_path is not None else WORLD_MODEL
    model, tok, info = load_course_model("cpu", path=folder)
    corpus = default_corpus(0)
    val_ids = encode_corpus(corpus.val_text, tok)
    T = model.config.context_length
    chars_per_token = len(corpus.val_text) / len(val_ids)
    floor_per_token = corpus.entropy_floor("val").per_token(chars_per_token)

    consecutive_loss, n = validation_loss(model, val_ids)
    consecutive = sliding_window_losses(model, val_ids, resets=range(0, len(val_ids), T))  # the same, per token
    starts = segment_starts(val_ids, tok.encode(STORY_SEPARATOR))
    story = sliding_window_losses(model, val_ids, resets=starts)

    # distance of each target from the start of its story (the separator before it), in tokens
    bounds = [0, *starts]
    distance = torch.empty(len(val_ids) - 1, dtype=torch.long)
    for k, r in enumerate(bounds):
        end = bounds[k + 1] if k + 1 < len(bounds) else len(val_ids) - 1
        targets = torch.arange(r + 1, end + 1)
        distance[targets - 1] = targets - r
    groups = {}
    for name, mask in (("within_context", distance <= T), ("beyond_context", distance > T)):
        groups[name] = {"tokens": int(mask.sum()), "consecutive": consecutive[mask].mean().item(),
                        "story": story[mask].mean().item()}
    return {
        "command": "python -m nbutils.recipes.window_eval" + ("" if model_path is None else f" --model {model_path}"),
        "model": (f"the world model (nbutils/assets/world_model), step {info['step']}" if model_path is None
                  else f"{folder} (step {info['step']})"),
        "context_length": T,
        "tokens_scored": n,
        "stories": len(bounds),
        "floor_per_token": floor_per_token,
        "consecutive_loss": consecutive_loss,
        "consecutive_loss_recomputed": consecutive.mean().item(),
        "story_sliding_loss": story.mean().item(),
        "gap_consecutive": consecutive_loss - floor_per_token,
        "gap_story_sliding": story.mean().item() - floor_per_token,
        "explained_by_windowing": consecutive_loss - story.mean().item(),
        "groups": groups,
        "definition_of_groups": "within_context: tokens at most context_length tokens after the blank line "
                                "before their story; beyond_context: the others",
        "seconds": round(time.perf_counter() - started, 1),
        "versions": versions(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.recipes.window_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--model", type=Path, default=None,
                        help="a pretrained checkpoint folder (default: nbutils/assets/world_model)")
    args = parser.parse_args(argv)
    result = run(args.model)
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "versions"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
