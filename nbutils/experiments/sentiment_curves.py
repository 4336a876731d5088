"""Deprecated: the learning-curve command moved to ``nbutils.recipes.sentiment_curves``
(``python -m nbutils.recipes.sentiment_curves``). This module only re-exports its names, and
``python -m nbutils.experiments.sentiment_curves`` still runs it.
"""

from __future__ import annotations

import sys

from nbutils.recipes.sentiment_curves import *  # noqa: F401,F403
from nbutils.recipes.sentiment_curves import main

if __name__ == "__main__":
    sys.exit(main())
