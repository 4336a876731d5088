"""Deprecated: classification fine-tuning moved. Import from the new homes instead:

- ``nbutils.tasks.classification``  the classifier head, its loss and training, features of a frozen body
- ``nbutils.baselines``             ``BagOfWords``, ``LogisticRegression``, ``BowClassifier``
- ``nbutils.metrics``               ``accuracy``, ``confusion_matrix``
- ``nbutils.data``                  ``pad_batch``
- ``GPT.hidden_states(idx)``        the hidden states after the final LayerNorm, with gradients

This module only re-exports those names.
"""

from __future__ import annotations

from nbutils.baselines import *  # noqa: F401,F403
from nbutils.data import pad_batch  # noqa: F401
from nbutils.metrics import accuracy, confusion_matrix  # noqa: F401
from nbutils.tasks.classification import *  # noqa: F401,F403
