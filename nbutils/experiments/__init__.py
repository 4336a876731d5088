"""The old home of the commands behind the course's stored results; they live in :mod:`nbutils.recipes` now.

- ``python -m nbutils.recipes.sentiment_curves``  (``nbutils.experiments.sentiment_curves`` still re-exports it)
- ``python -m nbutils.recipes.window_eval``       (``nbutils.experiments.window_eval`` still re-exports it)
- ``python -m nbutils.recipes.sample_quality``    writes ``nbutils/assets/sample_quality.json``
"""
