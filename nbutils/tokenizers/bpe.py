"""Byte-level byte-pair encoding (BPE), written from scratch.

The idea in one paragraph: start from the 256 byte values. Find the pair of neighbouring ids that occurs
most often in the training text, give it a new id and replace every occurrence by that id ("a merge").
Repeat until the vocabulary is as large as you want. Encoding a new text replays the merges, earliest first.

Two pure functions carry the whole idea and are what the notebook's exercises ask for:

    count_pairs([1, 2, 3, 1, 2])        -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    merge([1, 2, 3, 1, 2], (1, 2), 9)   -> [9, 3, 9]

``BPETokenizer.train`` makes this fast enough for megabytes of text without changing the result:

1. **Pre-split** the text with a regular expression (GPT-2's or GPT-4's pattern) into chunks such as
   ``"Hello"``, ``" world"``, ``"!"``. Merges never cross a chunk boundary, so " the" can become one token
   but "e t" cannot.
2. **Count unique chunks.** ``" the"`` appears thousands of times but is stored once, with its frequency.
3. **Count pairs once**, over the unique chunks, each weighted by the chunk's frequency.
4. **Update incrementally.** After merging the pair ``(a, b)`` only the chunks that contained it change, and
   an index ``pair -> chunks that contain it`` says which ones they are. Their old pairs are subtracted,
   their new pairs added, and nothing else is recounted.

**Tie-breaking rule.** At each step the most frequent pair wins; when several pairs are equally frequent,
the *smallest pair of ids* wins, comparing ``(a, b)`` as tuples: (32, 116) beats (32, 119) and (101, 32).
The naive reference in ``bench/bench_tokenizers.py`` and in the tests uses the same rule, so the merges are
identical, not just equally good.
"""

from __future__ import annotations

import heapq
import warnings
from collections import Counter, defaultdict
from typing import Any, Iterable, Sequence

import regex

from nbutils.tokenizers.base import Tokenizer, check_special_tokens, check_text, check_unique_names

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "BPETokenizer",
    "count_pairs",
    "merge",
    "split_into_chunks",
    "train_merges",
]

#: GPT-2's pre-split pattern: common English contractions, runs of letters with an optional leading space,
#: runs of digits, runs of other symbols, and whitespace (a run of spaces keeps its last space for the next word).
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: GPT-4's pattern (tiktoken's cl100k_base): case-insensitive contractions, numbers in groups of at most
#: three digits, and newlines kept apart from other whitespace.
GPT4_SPLIT_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
                      r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")

Pair = tuple[int, int]
Merge = tuple[Pair, int]

# Chunks longer than this are not cached when encoding (with pattern=None the whole text is one chunk).
_CACHE_MAX_CHUNK = 256
_CACHE_MAX_ENTRIES = 200_000


# --------------------------------------------------------------------------- the two small ideas
def count_pairs(ids: Sequence[int]) -> dict[Pair, int]:
    """How often each pair of neighbouring ids occurs. Overlapping pairs count: [1, 1, 1] has (1, 1) twice."""
    counts: dict[Pair, int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """A new list in which every occurrence of ``pair`` is replaced by ``new_id``, scanning left to right.

    After a match both ids are consumed, so ``merge([1, 1, 1], (1, 1), 9)`` gives ``[9, 1]``.
    """
    first, second = pair
    out: list[int] = []
    i = 0
    while i < len(ids):
        if ids[i] == first and i + 1 < len(ids) and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# --------------------------------------------------------------------------- training
def split_into_chunks(text: str, pattern: str | None, special_tokens: Iterable[str] = ()) -> Counter[str]:
    """Pre-split ``text`` and count each distinct chunk.

    Special-token strings are cut out first (they are never learned as ordinary text). With ``pattern=None``
    every piece between special tokens is a single chunk, so merges may cross word boundaries.
    """
    specials = sorted(special_tokens, key=len, reverse=True)
    pieces = regex.split("|".join(regex.escape(s) for s in specials), text) if specials else [text]
    counts: Counter[str] = Counter()
    compiled = regex.compile(pattern) if pattern is not None else None
    for piece in pieces:
        if not piece:
            continue
        counts.update(compiled.findall(piece) if compiled is not None else [piece])
    return counts


def train_merges(chunk_counts: dict[bytes, int], num_merges: int, first_id: int = 256,
                 verbose: bool = False) -> list[Merge]:
    """Learn up to ``num_merges`` merges from ``{chunk bytes: frequency}``; new ids start at ``first_id``.

    Returns the ordered list ``[((a, b), new_id), ...]``. Stops early (with fewer merges) when no pair is
    left, i.e. every chunk has become a single token.
    """
    words: list[list[int]] = [list(chunk) for chunk in chunk_counts]
    freqs: list[int] = list(chunk_counts.values())

    # pair -> weighted count, and pair -> indices of the chunks that contain it
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for index, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            counts[pair] += freq
            where[pair].add(index)

    # A heap of (-count, pair) finds the most frequent pair fast; on equal counts the smaller pair comes
    # first, which is exactly the tie-breaking rule. Entries go stale when a count changes; a popped entry
    # is used only if its count is still the current one (a fresh entry was pushed for every change).
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    merges: list[Merge] = []
    for new_id in range(first_id, first_id + num_merges):
        while heap:
            negative_count, pair = heapq.heappop(heap)
            if counts.get(pair) == -negative_count:
                break
        else:
            break  # no pair left at all
        merges.append((pair, new_id))
        if verbose:
            print(f"merge {len(merges)}/{num_merges}: {pair} -> {new_id}  ({-negative_count} occurrences)")

        # Only the chunks that contain the pair change. For each: subtract its old pairs, add its new ones.
        # A pair whose count changed holds a or b (one that disappeared) or new_id (a new one); only the new
        # pairs need this chunk in their index, the others were indexed already.
        first, second = pair
        changed: set[Pair] = set()
        for index in where.pop(pair):
            old = words[index]
            new = merge(old, pair, new_id)
            if len(new) == len(old):
                continue  # the index may remember chunks that no longer contain the pair
            freq = freqs[index]
            for p in zip(old, old[1:]):
                counts[p] -= freq
                if first in p or second in p:
                    changed.add(p)
            for p in zip(new, new[1:]):
                counts[p] += freq
                if new_id in p:
                    where[p].add(index)
                    changed.add(p)
            words[index] = new

        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
                where.pop(p, None)
    return merges


# --------------------------------------------------------------------------- the tokenizer
class BPETokenizer(Tokenizer):
    """A byte-level BPE tokenizer: an optional pre-split pattern plus an ordered list of merges.

    ``merges`` is the list ``[((a, b), new_id), ...]`` in the order they were learned; ``vocab`` maps every
    ordinary id to its bytes. New ids grow with the rank of the merge, so a smaller id means an earlier merge.

    ``byte_ids`` says which id each of the 256 bytes has. It is ``range(256)`` for tokenizers trained here;
    GPT-2 numbers its bytes in a different order (see ``gpt2.py``).
    """

    def __init__(self, merges: Iterable[Merge] = (), pattern: str | None = GPT2_SPLIT_PATTERN,
                 special_tokens: dict[str, int] | None = None, byte_ids: Sequence[int] | None = None) -> None:
        super().__init__(special_tokens)
        if pattern is not None and not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str or None, got {type(pattern).__name__}")
        self.pattern = pattern
        self._compiled = regex.compile(pattern) if pattern is not None else None

        byte_ids = list(range(256)) if byte_ids is None else [int(i) for i in byte_ids]
        if len(byte_ids) != 256 or len(set(byte_ids)) != 256:
            raise ValueError("byte_ids must give 256 distinct ids, one per byte value")
        self.byte_ids = byte_ids
        self.vocab: dict[int, bytes] = {token_id: bytes([b]) for b, token_id in enumerate(byte_ids)}

        self.merges: list[Merge] = []
        self._ranks: dict[Pair, int] = {}  # pair -> new id; a smaller new id is an earlier merge
        for (first, second), new_id in merges:
            if first not in self.vocab or second not in self.vocab:
                raise ValueError(f"merge ({first}, {second}) -> {new_id} uses an id not defined before it")
            if new_id in self.vocab or (self.merges and new_id <= self.merges[-1][1]):
                raise ValueError(f"merge ids must be new and increasing; {new_id} is not")
            self.merges.append(((first, second), new_id))
            self._ranks[(first, second)] = new_id
            self.vocab[new_id] = self.vocab[first] + self.vocab[second]

        clashes = sorted(i for i in self.special_tokens.values() if i in self.vocab)
        if clashes:
            raise ValueError(f"special token ids {clashes} are already used by ordinary tokens")
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str | None = GPT2_SPLIT_PATTERN,
              special_tokens: Sequence[str] = (), verbose: bool = False) -> "BPETokenizer":
        """Learn a BPE tokenizer whose final vocabulary has ``vocab_size`` ids.

        ``vocab_size`` counts the 256 bytes, the merges and the special tokens, so the number of merges is
        ``vocab_size - 256 - len(special_tokens)``. Special tokens get the ids after the last merge.
        If the text runs out of pairs first, training stops early with a warning. With ``pattern=None`` the
        text is not pre-split (merges may cross words); that is slow on large texts (each merge rewrites it).
        """
        check_text(text)
        if not text:
            raise ValueError("cannot train a BPE tokenizer on empty text")
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        names = check_unique_names(special_tokens)
        if vocab_size < 256 + len(names):
            raise ValueError(f"vocab_size must be at least 256 (one id per byte) plus {len(names)} special "
                             f"tokens = {256 + len(names)}, got {vocab_size}")
        num_merges = vocab_size - 256 - len(names)

        chunks = split_into_chunks(text, pattern, names)
        chunk_bytes: Counter[bytes] = Counter()
        for chunk, freq in chunks.items():
            chunk_bytes[chunk.encode("utf-8")] += freq
        merges = train_merges(chunk_bytes, num_merges, verbose=verbose)
        if len(merges) < num_merges:
            warnings.warn(f"the training text only allowed {len(merges)} merges, not {num_merges}: "
                          f"the vocabulary has {256 + len(merges) + len(names)} ids", stacklevel=2)
        first_special = 256 + len(merges)
        return cls(merges, pattern, {name: first_special + k for k, name in enumerate(names)})

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    # ----------------------------------------------------------------- encoding
    def _encode_chunk(self, chunk: bytes) -> list[int]:
        """Replay the merges on one chunk: repeatedly merge the neighbouring pair that was learned first."""
        ids = [self.byte_ids[b] for b in chunk]
        ranks = self._ranks
        never = float("inf")
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, never))
            if pair not in ranks:
                break  # no neighbouring pair was ever merged: done
            ids = merge(ids, pair, ranks[pair])
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        chunks = self._compiled.findall(text) if self._compiled is not None else [text]
        cache = self._cache
        ids: list[int] = []
        for chunk in chunks:
            encoded = cache.get(chunk)
            if encoded is None:
                encoded = self._encode_chunk(chunk.encode("utf-8"))
                if len(chunk) <= _CACHE_MAX_CHUNK and len(cache) < _CACHE_MAX_ENTRIES:
                    cache[chunk] = encoded
            ids.extend(encoded)
        return ids

    def _token_bytes(self, token_id: int) -> bytes:
        return self.vocab[token_id]

    # ----------------------------------------------------------------- saving
    def _to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
            "merges": [[a, b, new_id] for (a, b), new_id in self.merges],
        }
        if self.byte_ids != list(range(256)):
            data["byte_ids"] = self.byte_ids
        return data

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "BPETokenizer":
        merges = [((int(a), int(b)), int(new_id)) for a, b, new_id in data["merges"]]
        return cls(merges, data["pattern"], check_special_tokens(data.get("special_tokens")),
                   data.get("byte_ids"))
