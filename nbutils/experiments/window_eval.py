"""Deprecated: the window-evaluation command moved to ``nbutils.recipes.window_eval``
(``python -m nbutils.recipes.window_eval``). This module only re-exports its names, and
``python -m nbutils.experiments.window_eval`` still runs it.
"""

from __future__ import annotations

import sys

from nbutils.recipes.window_eval import *  # noqa: F401,F403
from nbutils.recipes.window_eval import main

if __name__ == "__main__":
    sys.exit(main())
