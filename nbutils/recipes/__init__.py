"""The commands behind the course's stored results, one module each (``python -m nbutils.recipes.<name>``).

- ``world_model``: the course model that knows its world: fresh stories, windows from a story's start, and a
  record of loss and world-question answers at many points of training (``nbutils/assets/world_model/``); the
  model notebooks 05-08 load (``load_course_model(path=WORLD_MODEL)``).
- ``pretrain``: the small 4-minute course model (``nbutils/assets/course_model/``, notebooks 03-04; the recipe's
  pieces are in :mod:`nbutils.pretrain`).
- ``window_eval``: the world model's validation loss with and without story resets
  (``nbutils/assets/window_eval.json``, notebook 05).
- ``sample_quality``: the world model's samples at several temperatures and top-p values, scored against the
  true process (``nbutils/assets/sample_quality.json``, notebook 06).
- ``sentiment_curves``: learning curves of sentiment classifiers against the number of labelled reviews
  (``nbutils/assets/sentiment_curves.json``, notebook 07).
- ``translation``: the fine-tuned English-to-French model and the scores of it and of a from-scratch baseline
  (``nbutils/assets/translation_model/``, ``translation_results.json``, notebook 08).
- ``world_probes``: what the world model knows about its world: answers against the prior, probes with controls
  over five checkpoints, place-swap patching, steering and head ablation
  (``nbutils/assets/world_model/probe_scores.json``, notebook 09).
- ``head_scores``: the world model's attention heads at five checkpoints (previous-token, prefix-matching,
  copying, name recall, in-context learning score) and zero/mean ablations (``nbutils/assets/world_model/head_scores.json``,
  notebook 10).
- ``scaling``: the CPU scaling sweep (model sizes x token budgets), its fits with the entropy floor free and fixed,
  and a matmul/throughput benchmark (``nbutils/assets/scaling/``, notebook 11).
- ``ddp_pretrain``: the course model trained on several processes with DDP, launched by ``torchrun`` (notebook 11).
- ``variants``: baseline, RMSNorm, rotary positions, SwiGLU and all three, trained on the same rows with two seeds
  (``nbutils/assets/variants.json``, notebook 12).
- ``calibration``: the world model's answer confidence against accuracy on every answerable question
  (``nbutils/assets/calibration.json``, notebook 12).

They share :mod:`nbutils.recipes.report` (versions, atomic JSON, progress lines). Library modules never parse
command lines or write READMEs; recipes do.
"""
