"""The world model's confidence in its answers against how often they are right (notebook 12).

    python -m nbutils.recipes.calibration               # writes nbutils/assets/calibration.json (under a minute)

For every answerable "Where is X?" in the 600 held-out evaluation stories (``nbutils.recipes.world_model.eval_stories``)
the shipped world model's greedy answer, its confidence and whether it is right (``nbutils.calibration``), with
the reliability bins and the expected calibration error, overall and for places and holders apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import Sequence

import torch

from nbutils.recipes.report import Progress, versions, write_json

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_OUT = ASSETS / "calibration.json"
N_BINS = 10


def summary(answers, n_bins: int = N_BINS) -> dict:
    """Accuracy, mean confidence, ECE and bins of a list of ``AnswerConfidence``."""
    from nbutils.calibration import expected_calibration_error, reliability_bins

    conf, right = [a.confidence for a in answers], [a.correct for a in answers]
    return {"questions": len(answers), "accuracy": sum(right) / len(right), "mean_confidence": sum(conf) / len(conf),
            "ece": expected_calibration_error(conf, right, n_bins),
            "bins": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in dataclasses.asdict(b).items()}
                     for b in reliability_bins(conf, right, n_bins)]}  # an empty bin's means are null


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from nbutils.calibration import answer_confidences
    from nbutils.pretrain import load_course_model
    from nbutils.recipes.world_model import eval_stories

    torch.set_num_threads(1)
    say = Progress()
    model, tokenizer, _ = load_course_model(device="cpu", path=ASSETS / "world_model")
    answers = answer_confidences(model, tokenizer, eval_stories())
    record = {"recipe": "python -m nbutils.recipes.calibration", "model": "nbutils/assets/world_model",
              "stories": len(eval_stories()), "n_bins": N_BINS, "versions": versions(),
              "all": summary(answers), "places": summary([a for a in answers if not a.holder]),
              "holders": summary([a for a in answers if a.holder]),
              "answers": [[a.story, round(a.confidence, 6), a.correct, a.holder] for a in answers]}
    record["total_s"] = round(say.elapsed, 1)
    write_json(args.out, record)
    say(f"{len(answers)} answers, accuracy {record['all']['accuracy']:.3f}, ECE {record['all']['ece']:.3f}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
