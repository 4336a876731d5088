"""WordPiece, the tokenizer of BERT, written from scratch.

Three differences from BPE:

* **It works on words, not bytes.** A pre-tokenizer first cuts the text into words and punctuation marks
  (``"Don't stop!"`` -> ``don ' t stop !``), lowercasing it if asked. A piece that continues a word is
  written with the prefix ``##``: ``"playing"`` may become ``play ##ing``.
* **It merges by likelihood, not by frequency.** Training starts from single characters and repeatedly
  merges the neighbouring pair with the highest score ``count(ab) / (count(a) * count(b))``: a pair whose
  parts are rarely seen apart wins over a pair that is merely frequent. Ties go to the pair seen more
  often, then to the alphabetically smallest pair. (``score="frequency"`` merges the most frequent pair
  instead, like BPE; that is what the ``tokenizers`` library's ``WordPieceTrainer`` does.)
* **Encoding is greedy longest-match-first.** Each word is read left to right; at every position the
  longest piece in the vocabulary is taken. A word that cannot be spelled with the vocabulary becomes
  ``[UNK]`` as a whole.

**Decoding is lossy.** ``decode`` glues ``##`` pieces to the piece before them and puts one space between
all other pieces. So the original spacing and (with ``lowercase=True``) capital letters are gone, and
punctuation stands apart: ``decode(encode("Hello,  World!"))`` returns ``"hello , world !"``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Literal, Sequence

import regex

from nbutils.tokenizers.base import Tokenizer, check_text, check_unique_names

__all__ = ["WordPieceTokenizer", "pre_tokenize", "BERT_SPECIAL_TOKENS"]

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PREFIX = "##"

# BERT's punctuation: every Unicode punctuation character, plus the ASCII symbols $ + < = > ^ ` | ~.
_PUNCTUATION = r"\p{P}$+<=>^`|~"
_WORD_OR_PUNCTUATION = regex.compile(rf"[^\s{_PUNCTUATION}]+|[{_PUNCTUATION}]")


def pre_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Cut text into words and single punctuation marks, dropping whitespace (like BERT's pre-tokenizer)."""
    check_text(text)
    return _WORD_OR_PUNCTUATION.findall(text.lower() if lowercase else text)


def _spell(word: str) -> list[str]:
    """A word as its initial units: the first character bare, every other one with the ``##`` prefix."""
    return [word[0]] + [PREFIX + char for char in word[1:]]


def _join(first: str, second: str) -> str:
    """The piece made by merging two neighbouring pieces: ``("play", "##ing") -> "playing"``."""
    return first + second[len(PREFIX):]


class WordPieceTokenizer(Tokenizer):
    """A WordPiece tokenizer: a vocabulary of pieces (id = position in ``vocab``) and the ``[UNK]`` token."""

    def __init__(self, vocab: Sequence[str], lowercase: bool = True,
                 special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS, unk_token: str = "[UNK]",
                 max_word_chars: int = 100) -> None:
        vocab = list(vocab)
        if len(set(vocab)) != len(vocab):
            duplicates = sorted({piece for piece, n in Counter(vocab).items() if n > 1})
            raise ValueError(f"the vocabulary has duplicate pieces: {duplicates[:10]}")
        names = check_unique_names(special_tokens)
        missing = [name for name in [*names, unk_token] if name not in vocab]
        if missing:
            raise ValueError(f"special tokens {missing} are not in the vocabulary")
        if unk_token not in names:
            raise ValueError(f"the unknown token {unk_token!r} must be one of the special tokens {names}")
        index = {piece: i for i, piece in enumerate(vocab)}
        super().__init__({name: index[name] for name in names})
        self.vocab: list[str] = vocab
        self.token_to_id: dict[str, int] = index
        self.lowercase = bool(lowercase)
        self.unk_token = unk_token
        self.unk_id = index[unk_token]
        self.max_word_chars = int(max_word_chars)
        self._cache: dict[str, list[int]] = {}

    # ----------------------------------------------------------------- training
    @classmethod
    def train(cls, text: str, vocab_size: int, lowercase: bool = True,
              special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS, unk_token: str = "[UNK]",
              max_word_chars: int = 100,
              score: Literal["likelihood", "frequency"] = "likelihood") -> "WordPieceTokenizer":
        """Learn a vocabulary of ``vocab_size`` pieces (special tokens and single characters included).

        ``score`` chooses the pair to merge: ``"likelihood"`` (WordPiece's ``count(ab) / (count(a) count(b))``)
        or ``"frequency"`` (``count(ab)``, as in BPE). Training stops early if no pair is left to merge.
        """
        check_text(text)
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if score not in ("likelihood", "frequency"):
            raise ValueError(f'score must be "likelihood" or "frequency", got {score!r}')
        names = check_unique_names(special_tokens)
        word_counts = Counter(w for w in pre_tokenize(text, lowercase) if len(w) <= max_word_chars)
        if not word_counts:
            raise ValueError("cannot train a WordPiece tokenizer on empty text (no words found)")

        words = [_spell(word) for word in word_counts]
        alphabet = sorted({unit for units in words for unit in units})
        vocab = names + [unit for unit in alphabet if unit not in names]
        if vocab_size < len(vocab):
            raise ValueError(f"vocab_size must be at least {len(vocab)} ({len(names)} special tokens and "
                             f"{len(alphabet)} single characters found in the text), got {vocab_size}")
        for piece in _learn_pieces(words, list(word_counts.values()), vocab_size - len(vocab), set(vocab),
                                   score):
            vocab.append(piece)
        return cls(vocab, lowercase, names, unk_token, max_word_chars)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # ----------------------------------------------------------------- encoding and decoding
    def _encode_word(self, word: str) -> list[int]:
        """Greedy longest-match-first: at each position take the longest piece that is in the vocabulary."""
        if len(word) > self.max_word_chars:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self.token_to_id:
                    ids.append(self.token_to_id[piece])
                    start = end
                    break
            else:
                return [self.unk_id]  # no piece fits here: the whole word is unknown
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in pre_tokenize(text, self.lowercase):
            if word not in self._cache:
                self._cache[word] = self._encode_word(word)
            ids.extend(self._cache[word])
        return ids

    def tokenize(self, text: str) -> list[str]:
        """The pieces of ``text`` as strings, e.g. ``['play', '##ing', '!']``."""
        return [self.vocab[i] for i in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Pieces joined back into words: ``##`` pieces glue to the one before, other pieces get a space.

        Lossy: spacing, capitals (when lowercasing) and unknown words are not recovered (see the module doc).
        """
        text: list[str] = []
        for token_id in ids:
            piece = self.token_str(token_id)
            if piece.startswith(PREFIX) and token_id not in self._special_by_id:
                text.append(piece[len(PREFIX):])
            else:
                text.append(" " + piece if text else piece)
        return "".join(text)

    def _token_bytes(self, token_id: int) -> bytes:
        return self.vocab[token_id].encode("utf-8")

    # ----------------------------------------------------------------- saving
    def _to_dict(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, "special_tokens": list(self.special_tokens),
                "unk_token": self.unk_token, "max_word_chars": self.max_word_chars, "vocab": self.vocab}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "WordPieceTokenizer":
        return cls(data["vocab"], data["lowercase"], data["special_tokens"], data["unk_token"],
                   data["max_word_chars"])


def _learn_pieces(words: list[list[str]], freqs: list[int], budget: int, known: set[str],
                  score: str = "likelihood") -> list[str]:
    """Merge pieces by ``score`` until ``budget`` new pieces exist (or no pair is left).

    ``words`` holds each distinct word spelled as pieces and ``freqs`` how often it occurs. As in
    ``bpe.train_merges``, pair counts are updated only for the words that contain the merged pair.
    """
    unit_counts: Counter[str] = Counter()
    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for index, (units, freq) in enumerate(zip(words, freqs)):
        for unit in units:
            unit_counts[unit] += freq
        for pair in zip(units, units[1:]):
            pair_counts[pair] += freq
            where[pair].add(index)

    def preference(pair: tuple[str, str]) -> tuple[float, int, tuple[str, str]]:
        count = pair_counts[pair]
        likelihood = count / (unit_counts[pair[0]] * unit_counts[pair[1]]) if score == "likelihood" else 0.0
        # min() of this key: highest score, then highest count, then the alphabetically smallest pair
        return (-likelihood, -count, pair)

    new_pieces: list[str] = []
    while len(new_pieces) < budget and pair_counts:
        best = min(pair_counts, key=preference)
        merged = _join(*best)
        if merged not in known:  # two different pairs can spell the same piece
            known.add(merged)
            new_pieces.append(merged)
        for index in where.pop(best):
            old = words[index]
            new = _merge_units(old, best, merged)
            if len(new) == len(old):
                continue
            freq = freqs[index]
            for unit in old:
                unit_counts[unit] -= freq
            for unit in new:
                unit_counts[unit] += freq
            for pair in zip(old, old[1:]):
                pair_counts[pair] -= freq
                if pair_counts[pair] == 0:
                    del pair_counts[pair]
            for pair in zip(new, new[1:]):
                pair_counts[pair] += freq
                where[pair].add(index)
            words[index] = new
    return new_pieces


def _merge_units(units: list[str], pair: tuple[str, str], merged: str) -> list[str]:
    """Replace every occurrence of ``pair`` in ``units`` by ``merged``, left to right."""
    out: list[str] = []
    i = 0
    while i < len(units):
        if i + 1 < len(units) and units[i] == pair[0] and units[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(units[i])
            i += 1
    return out
