"""The commands behind the course's stored results, one module each (``python -m nbutils.recipes.<name>``).

- ``world_model``: the course model that knows its world: fresh stories, windows from a story's start, and a
  record of loss and world-question answers at many points of training (``nbutils/assets/world_model/``).

They share :mod:`nbutils.recipes.report` (versions, atomic JSON, progress lines). Library modules never parse
command lines or write READMEs; recipes do.
"""
