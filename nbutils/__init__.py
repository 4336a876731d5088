"""nbutils: the small library behind the course "How large language models work, by building one".

Each module holds one idea of the course, named as the notebooks name it (``../shared/DESIGN.md`` has the
picture: data flows from the world to the model and back to the evaluation against the truth):

- ``world``        the toy world: a seeded story generator that knows its own ground truth (and its task data)
- ``tokenizers``   characters, bytes, byte-level BPE, GPT-2's tokenizer (offline), WordPiece
- ``data``         corpora, splits, language-model windows and batches, the fresh-story stream, padding/collation
- ``ngrams``       counting which word follows a prefix (notebook 00)
- ``bigram``       the bigram language model, from counts and as a trainable table (notebook 02)
- ``probability``  softmax, cross-entropy, perplexity, entropy
- ``attention``    scaled dot-product attention, causal masks (True = may attend), multi-head attention
- ``model``        the GPT used by every notebook from 04 on: one forward, hook points, patching
- ``checkpoint``   saving and loading models safely (safetensors + JSON, written atomically)
- ``hf``           the course GPT as transformers' GPT2LMHeadModel and back; its tokenizer as GPT-2's files (12)
- ``train``        the one training loop: schedule, AdamW, clipping, evaluation callback, history, resume
- ``progress``     what a person watching a run sees: progress bar, live loss plot, the stop button
- ``generate``     greedy decoding, temperature, top-k, top-p, batched greedy with a stop, log-likelihood
- ``pretrain``     the shipped course model: its tokenizer, configuration, loader, validation losses
- ``evaluate``     the model against its world's truth: loss from each story's start, answers to "Where is X?",
                   the loss by kind of word next to the true process's
- ``probes``       linear and small nonlinear probes of hidden states, with control tasks and baselines
- ``patching``     activation patching: logit difference, the (layer x position) patching grid
- ``heads``        attention heads one by one: ablation (zero / mean), previous-token, induction and copying scores
- ``tasks``        model-side pieces of fine-tuning: the classifier head (07), the translation prompt and mask (08)
- ``baselines``    the bag-of-words baseline and logistic regression (notebook 07)
- ``metrics``      accuracy, confusion matrix, exact match, chrF, intervals, distinct n-grams
- ``scaling``      counting FLOPs (about 6N per token), the law L(N, D) = E + A/N^alpha + B/D^beta and its fit (11)
- ``distributed``  training on several processes: torch.distributed, DDP, sharded batches, launched by torchrun (11)
- ``calibration``  confidence of the world model's answers against accuracy: reliability bins, ECE (12)
- ``plots``        every figure of the course (matplotlib)
- ``widgets``      interactive front ends that fall back to a static picture
- ``checks``       instant checks for the exercises
- ``student``      ``python -m nbutils.student`` writes the student copies of the notebooks
- ``device``       choosing CPU / CUDA / MPS and seeding every random generator
- ``validate``     the argument checks every module shares (``require_int``, ``require_float``)
- ``recipes``      the commands behind every stored result (``python -m nbutils.recipes.<name>``)

Old import paths that still work and only re-export: ``finetune`` (now ``tasks.classification``,
``baselines``, ``metrics``), ``translation`` (now ``tasks.translation``, ``tasks.translation_errors``,
``recipes.translation``), ``experiments`` (now ``recipes``); the stored results name the commands they were
made with, and those commands still run.
"""

__version__ = "0.1.0"
