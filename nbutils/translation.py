"""Deprecated: the translation task moved. Import from the new homes instead:

- ``nbutils.tasks.translation``         the format, the loss mask, fine-tuning, ``translate``, ``translate_many``
- ``nbutils.tasks.translation_errors``  reading the errors (``error_kinds``, ``aligned_words``, ``reordering``)
- ``nbutils.recipes.translation``       the command (``python -m nbutils.recipes.translation``), the stored
                                        results and their loaders
- ``nbutils.data.collate``              padding of examples into a batch

This module only re-exports those names, and ``python -m nbutils.translation`` still runs the recipe.
"""

from __future__ import annotations

import sys

from nbutils.data import IGNORE_INDEX, collate  # noqa: F401
from nbutils.recipes.translation import *  # noqa: F401,F403
from nbutils.recipes.translation import main
from nbutils.tasks.translation import *  # noqa: F401,F403
from nbutils.tasks.translation_errors import *  # noqa: F401,F403

if __name__ == "__main__":
    sys.exit(main())
