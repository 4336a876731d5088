"""Longer experiments behind the course's figures, each a command that stores its result under ``nbutils/assets/``.

The notebooks load the stored JSON and plot it (a notebook must run in a couple of minutes on a laptop,
these take longer). Run one again to check or to change it:

- ``python -m nbutils.experiments.sentiment_curves``  learning curves of the sentiment classifiers
  (fine-tuned pretrained GPT, the same GPT trained from scratch, a frozen body, bag of words) against
  the number of labelled reviews; writes ``nbutils/assets/sentiment_curves.json``.
- ``python -m nbutils.experiments.window_eval``  the course model's validation loss with and without story
  resets (how much of the gap to the entropy floor comes from windowing); writes ``nbutils/assets/window_eval.json``.
- ``python -m nbutils.experiments.sample_quality``  the course model's samples at several temperatures and
  top-p values, scored against the true process (validity, true NLL, distinct-3); writes
  ``nbutils/assets/sample_quality.json``.
"""
