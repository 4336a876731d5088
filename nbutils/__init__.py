"""nbutils: the small library behind the course "How large language models work, by building one".

Each module holds one idea of the course, named as the notebooks name it:

- ``world``        the toy world: a seeded story generator that knows its own ground truth
- ``data``         loading a corpus, train/validation splits, language-model windows and batches
- ``tokenizers``   characters, bytes, byte-level BPE, GPT-2's tokenizer (offline), WordPiece
- ``ngrams``       counting which word follows a prefix (notebook 00)
- ``bigram``       the bigram language model, from counts and as a trainable table (notebook 02)
- ``probability``  softmax, cross-entropy, perplexity, entropy
- ``attention``    scaled dot-product attention, causal masks, heads
- ``model``        the GPT used by every notebook from 04 on
- ``checkpoint``   saving and loading models safely (safetensors + JSON, written atomically)
- ``train``        the training loop, schedules, evaluation and checkpoints (over token ids or any batch source)
- ``generate``     greedy decoding, temperature, top-k, top-p, log-likelihood of a text
- ``pretrain``     the shipped course model: its recipe, its loader, validation losses (notebook 05)
- ``evaluate``     the model against its world's truth: loss from each story's start, answers to "Where is X?",
                   the loss by kind of word next to the true process's
- ``finetune``     a classification head on the GPT, its training, the bag-of-words baseline (notebook 07)
- ``translation``  English to French by continuing a prompt, the loss mask, greedy translation (notebook 08)
- ``metrics``      accuracy, exact match, chrF
- ``plots``        every figure of the course (matplotlib)
- ``widgets``      interactive front ends that fall back to a static picture
- ``checks``       instant checks for the exercises
- ``student``      ``python -m nbutils.student`` writes the student copies of the notebooks
- ``device``       choosing CPU / CUDA / MPS and seeding every random generator
- ``experiments``  commands behind the stored results of notebooks 05-07 (``python -m nbutils.experiments.<name>``)
- ``recipes``      commands behind the course models and their training records (``python -m nbutils.recipes.<name>``)
"""

__version__ = "0.1.0"
