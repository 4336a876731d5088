"""The package as a whole: its map lists every module."""

from __future__ import annotations


def test_the_package_index_names_every_module():
    """nbutils/__init__.py's docstring is the map of the package: every module and subpackage is on it."""
    import pkgutil
    import re

    import nbutils

    listed = set(re.findall(r"^- ``(\w+)``", nbutils.__doc__, flags=re.M))
    listed |= set(re.findall(r"``(finetune|translation|experiments)``", nbutils.__doc__))
    present = {m.name for m in pkgutil.iter_modules(nbutils.__path__)} - {"assets"}
    assert present == listed, (sorted(present - listed), sorted(listed - present))
