"""Quality and diversity of the world model's samples, measured against the true process.

    python -m nbutils.recipes.sample_quality          # writes nbutils/assets/sample_quality.json
    python -m nbutils.recipes.sample_quality --samples 48 --out FILE

For each decoding setting (a temperature sweep without filters, and a top-p sweep at temperature 1) the
world model (``--model DIR``: another checkpoint) writes ``--samples`` stories, each starting after a blank line (the separator between
two stories: the model begins a new story) and ending at the next blank line, or after ``MAX_NEW_TOKENS``
tokens (then it "did not finish"). ``nbutils.world.score_story`` then gives each finished story its exact
probability under the generator that wrote the training stories:

- ``valid``: the generator could have written it (probability > 0): every sentence is grammatical for
  the toy world and agrees with the story so far;
- ``true_nll_per_char``: ``-log P(story) / characters`` for the valid ones, in nats, on the scale of the
  entropy floor (``corpus.entropy_floor("val").nats_per_char``): a perfect model sampled at temperature 1
  writes stories whose mean is near the floor; below it means safer, more predictable stories than the
  world writes, above it means rarer ones;
- ``valid_prefix_share``: over all samples (finished or not), the share of characters that lie in the
  longest run of whole sentences from the start that the generator could have begun a story with;
- ``distinct_stories`` and ``distinct_3``: how many samples are different, and the share of distinct
  token triples over all samples of the setting (diversity, ``nbutils.metrics.distinct_n``).

``valid_share_95`` is the 95% Wilson interval of the valid share (``nbutils.metrics.wilson_interval``, as a
fraction).

Every setting uses its own seeded ``torch.Generator`` (seed 0), on the CPU, so the command writes the same
file on any machine, up to rare differences in the last digits of a probability. It took 1056 s
with the world model (measured, one thread of a 2-core CPU that other jobs kept busy). Notebook ``06_generation`` loads the result (``load_results``) and uses ``valid_prefix_chars``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from nbutils.metrics import distinct_n, wilson_interval
from nbutils.recipes.report import versions, write_json

OUT = Path(__file__).resolve().parents[1] / "assets" / "sample_quality.json"
MAX_NEW_TOKENS = 256
SETTINGS = (
    [{"temperature": t, "top_p": None} for t in (0.5, 0.7, 1.0, 1.3, 1.6)]
    + [{"temperature": 1.0, "top_p": p} for p in (0.5, 0.8, 0.9, 0.95)]
)


@torch.no_grad()
def sample_stories(model, separator: list[int], n: int, temperature: float, top_p: float | None,
                   seed: int = 0, max_new_tokens: int = MAX_NEW_TOKENS, return_unfinished: bool = False):
    """``n`` stories after ``separator``: the new token ids up to (not including) the next separator, or
    None for a story that did not finish within ``max_new_tokens``. Finished rows leave the batch."""
    from nbutils.generate import sample_next

    T = model.config.context_length
    generator = torch.Generator().manual_seed(seed)
    rows = torch.tensor([separator] * n)
    alive = list(range(n))
    result: list[list[int] | None] = [None] * n
    k = len(separator)
    for _ in range(max_new_tokens):
        logits, _ = model(rows[:, -T:])
        next_ids = sample_next(logits[:, -1].float(), temperature=temperature, top_p=top_p, generator=generator)
        rows = torch.cat([rows, next_ids[:, None]], dim=1)
        keep = []
        for j, i in enumerate(alive):
            new = rows[j, len(separator):].tolist()
            if len(new) >= k and new[-k:] == separator:
                result[i] = new[:-k]
            else:
                keep.append(j)
        alive = [alive[j] for j in keep]
        rows = rows[keep]
        if not alive:
            break
    unfinished = [rows[j, len(separator):].tolist() for j in range(len(alive))]
    return (result, unfinished) if return_unfinished else result


_CUT = re.compile(r'[.?!]"?(?= )')


def valid_prefix_chars(text: str) -> int:
    """The length of the longest prefix of whole sentences of ``text`` that the generator could have
    begun a story with (``next_word_distribution`` from the empty world accepts it); 0 if none.
    Whether a prefix can be continued is monotone in its length, so a binary search finds it."""
    from nbutils.world import WorldState, next_word_distribution

    cuts = [m.end() for m in _CUT.finditer(text)] + [len(text)]

    def ok(end: int) -> bool:
        try:
            next_word_distribution(WorldState.empty(), text[:end])
            return True
        except ValueError:
            return False

    lo, hi = 0, len(cuts)  # cuts[:lo] known good, cuts[hi:] known bad
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(cuts[mid]):
            lo = mid + 1
        else:
            hi = mid
    return cuts[lo - 1] if lo else 0


def run(n_samples: int, model_path: str | Path | None = None) -> dict:
    """Sample and score ``n_samples`` stories for every setting of ``SETTINGS`` with a pretrained model (None:
    the world model, ``nbutils.pretrain.WORLD_MODEL``); returns what the JSON holds."""
    from nbutils.pretrain import WORLD_MODEL, load_course_model
    from nbutils.world import STORY_SEPARATOR, default_corpus, score_story

    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    folder = Path(model_path) if model_path is not None else WORLD_MODEL
    model, tok, info = load_course_model("cpu", path=folder)
    separator = tok.encode(STORY_SEPARATOR)
    floor = default_corpus(0).entropy_floor("val").nats_per_char
    settings = []
    for setting in SETTINGS:
        t0 = time.perf_counter()
        stories, unfinished = sample_stories(model, separator, n_samples, setting["temperature"], setting["top_p"],
                                             return_unfinished=True)
        sample_stories_cache = list(unfinished)
        records = []
        for ids in stories:
            if ids is None:
                text = tok.decode(sample_stories_cache.pop(0))
                records.append({"finished": False, "valid": False, "chars": len(text),
                                "valid_prefix_chars": valid_prefix_chars(text)})
                continue
            text = tok.decode(ids)
            nll = score_story(text).nll if text.strip() else math.inf
            records.append({"finished": True, "valid": math.isfinite(nll), "chars": len(text), "tokens": len(ids),
                            "true_nll": nll if math.isfinite(nll) else None,
                            "valid_prefix_chars": len(text) if math.isfinite(nll) else valid_prefix_chars(text)})
        finished = [r for r in records if r["finished"]]
        valid = [r for r in finished if r["valid"]]
        prefix_share = sum(r["valid_prefix_chars"] for r in records) / max(1, sum(r["chars"] for r in records))
        per_char = [r["true_nll"] / r["chars"] for r in valid]
        mean = sum(per_char) / len(per_char) if per_char else None
        sd = (math.sqrt(sum((x - mean) ** 2 for x in per_char) / (len(per_char) - 1))
              if len(per_char) > 1 else None)
        pooled = (sum(r["true_nll"] for r in valid) / sum(r["chars"] for r in valid)) if valid else None
        done_ids = [ids for ids in stories if ids is not None]
        settings.append({
            **setting,
            "samples": n_samples,
            "finished": len(finished),
            "valid": len(valid),
            "valid_share": len(valid) / n_samples,
            "valid_share_95": [bound / 100 for bound in wilson_interval(len(valid), n_samples)],
            "valid_prefix_share": prefix_share,
            "true_nll_per_char_mean": mean,
            "true_nll_per_char_95": ([mean - 1.96 * sd / math.sqrt(len(per_char)),
                                      mean + 1.96 * sd / math.sqrt(len(per_char))] if sd is not None else None),
            "true_nll_per_char_pooled": pooled,
            "mean_tokens_finished": (sum(len(s) for s in done_ids) / len(done_ids)) if done_ids else None,
            "distinct_stories": len({tuple(s) for s in done_ids}),
            "distinct_3": distinct_n(done_ids, 3),
            "example": tok.decode(stories[0]) if stories[0] is not None else None,
            "seconds": round(time.perf_counter() - t0, 1),
        })
        print(json.dumps({k: v for k, v in settings[-1].items() if k != "example"}), flush=True)
    return {
        "command": ("python -m nbutils.recipes.sample_quality" + ("" if n_samples == 48 else f" --samples {n_samples}")
                    + ("" if model_path is None else f" --model {model_path}")),
        "model": (f"the world model (nbutils/assets/world_model), step {info['step']}, on the CPU" if model_path is None
                  else f"{folder} (step {info['step']}), on the CPU"),
        "prompt": "the story separator (a blank line), so every sample is a new story",
        "max_new_tokens": MAX_NEW_TOKENS,
        "seed": 0,
        "entropy_floor_per_char": floor,
        "settings": settings,
        "seconds": round(time.perf_counter() - started, 1),
        "versions": versions(),
    }


def load_results(path: str | Path | None = None) -> dict:
    """The stored result of the command (``nbutils/assets/sample_quality.json`` by default)."""
    return json.loads(Path(path or OUT).read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.recipes.sample_quality",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=48, help="stories per setting (default 48)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--model", type=Path, default=None,
                        help="a pretrained checkpoint folder (default: nbutils/assets/world_model)")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples must be at least 1, got {args.samples}")
    write_json(args.out, run(args.samples, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
