"""The model-side pieces of fine-tuning, one module per task.

- ``classification``  a classification head on the GPT's last real token, its loss and training, features
                      of a frozen body (notebook 07)
- ``translation``     English to French by continuing a prompt: the format, the loss mask, fine-tuning,
                      greedy translation, and reading the errors (notebook 08)

Both train with the course's one loop, ``nbutils.train.Trainer``. The commands that produce the stored
results live in ``nbutils.recipes`` (``sentiment_curves``, ``translation``); a task module never imports
its recipe.
"""
