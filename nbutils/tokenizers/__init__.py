"""Tokenizers, from the simplest to GPT-2's: text -> list of ids -> text.

All of them share one small interface (``base.Tokenizer``): ``encode``, ``decode``, ``vocab_size``,
``token_bytes``, ``token_str``, ``save`` and ``load``.

- ``CharTokenizer``       one id per character of a training text
- ``ByteTokenizer``       one id per UTF-8 byte (256 ids)
- ``BPETokenizer``        byte-level byte-pair encoding, trained from scratch (``count_pairs`` and ``merge``
                          are its two building blocks)
- ``GPT2Tokenizer``       GPT-2's 50,257-token BPE, loaded offline; ``tiktoken_gpt2()`` is tiktoken's version
- ``WordPieceTokenizer``  BERT's WordPiece, trained from scratch
"""

from nbutils.tokenizers.base import Tokenizer
from nbutils.tokenizers.bpe import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer, count_pairs, merge
from nbutils.tokenizers.chars import ByteTokenizer, CharTokenizer
from nbutils.tokenizers.gpt2 import GPT2Tokenizer, tiktoken_gpt2
from nbutils.tokenizers.wordpiece import WordPieceTokenizer

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "ByteTokenizer",
    "BPETokenizer",
    "GPT2Tokenizer",
    "WordPieceTokenizer",
    "tiktoken_gpt2",
    "count_pairs",
    "merge",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
]
