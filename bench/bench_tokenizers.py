"""Benchmark: training and encoding speed of nbutils' BPE, next to a naive trainer, `tokenizers` and tiktoken.

Usage: python bench/bench_tokenizers.py [--mb 1.0] [--merges 256] [--corpus world|synthetic] [--skip-naive]

Training (256 merges on about 1 MB of text, GPT-2's pre-split pattern):
  (a) nbutils.tokenizers.BPETokenizer.train  (incremental pair counts)
  (b) a naive trainer written below: the same pre-split, one list of ids per chunk occurrence, and every
      pair recounted after each merge. Same tie-break (most frequent pair, then smallest pair of ids), so
      its merges must equal nbutils' merges; the script checks that.
  (b') the same naive trainer on unique chunks with their frequencies (a fairer, harder baseline).
  (c) the `tokenizers` library's BpeTrainer with the ByteLevel pre-tokenizer, vocab 256 + merges (Rust,
      parallel over the machine's cores).
Encoding throughput (MB/s) on the same text: nbutils BPE, nbutils GPT-2, `tokenizers` BPE, tiktoken GPT-2.

The default corpus is synthetic English-like text with a realistic number of distinct words. The course's
toy world (--corpus world) has only about 500 distinct pre-split chunks: every trainer finishes in a
fraction of a second there, so it says little about the algorithms. Everything is offline and seeded.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import time
from typing import Callable

import regex

from nbutils.tokenizers import GPT2_SPLIT_PATTERN, BPETokenizer, GPT2Tokenizer, merge, tiktoken_gpt2
from nbutils.tokenizers.bpe import split_into_chunks
from nbutils.tokenizers.gpt2 import bytes_to_unicode


# --------------------------------------------------------------------------- corpus
def synthetic_english(n_bytes: int, seed: int = 0) -> str:
    """English-like text: 20,000 made-up words with Zipf frequencies, sentences, punctuation, newlines."""
    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    vocabulary: set[str] = set()
    while len(vocabulary) < 20_000:
        syllables = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        vocabulary.add("".join(rng.choice(consonants) + rng.choice(vowels)
                               + (rng.choice(consonants) if rng.random() < 0.4 else "")
                               for _ in range(syllables)))
    words = sorted(vocabulary)
    rng.shuffle(words)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    parts, size = [], 0
    while size < n_bytes:
        sentence = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 18)))
        sentence = sentence.capitalize() + rng.choice(".!?,.") + rng.choice("  \n")
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:n_bytes]


def load_corpus(kind: str, n_bytes: int) -> tuple[str, str]:
    """(text, description) for ``kind`` "synthetic" or "world"."""
    if kind == "world":
        from nbutils.world import generate_corpus
        return generate_corpus(0, target_bytes=n_bytes).text[:n_bytes], "toy world stories (nbutils.world, seed 0)"
    return synthetic_english(n_bytes), "synthetic English-like text (20k Zipf words, seed 0)"


# --------------------------------------------------------------------------- the naive references
def naive_train(text: str, num_merges: int, unique_chunks: bool = False) -> list[tuple[tuple[int, int], int]]:
    """The textbook trainer: after each merge, recount every pair of every chunk from scratch.

    Same pre-split and tie-break as nbutils (most frequent pair, then the smallest pair of ids). With
    ``unique_chunks=False`` it keeps one list per chunk *occurrence*, as the simplest implementations do;
    with ``unique_chunks=True`` it keeps each distinct chunk once with its frequency (nbutils' step 2), so
    the only remaining difference to nbutils is recounting versus updating the pair counts.
    """
    if unique_chunks:
        chunks = split_into_chunks(text, GPT2_SPLIT_PATTERN)
        words = [list(chunk.encode("utf-8")) for chunk in chunks]
        freqs = list(chunks.values())
    else:
        words = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT2_SPLIT_PATTERN, text)]
        freqs = [1] * len(words)
    merges = []
    for new_id in range(256, 256 + num_merges):
        counts: dict[tuple[int, int], int] = {}
        for word, freq in zip(words, freqs):
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append((best, new_id))
        words = [merge(word, best, new_id) for word in words]
    return merges


# --------------------------------------------------------------------------- `tokenizers` (Hugging Face)
def hf_train(text: str, num_merges: int):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, min_frequency=0, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)
    return tokenizer


# --------------------------------------------------------------------------- helpers
def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs, and the result of the last run."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="megabytes of text (default 1.0)")
    parser.add_argument("--merges", type=int, default=256, help="number of merges to learn (default 256)")
    parser.add_argument("--corpus", choices=["synthetic", "world"], default="synthetic",
                        help="synthetic English-like text (default) or the toy world (only ~500 distinct chunks)")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the slow naive trainer")
    args = parser.parse_args()

    text, description = load_corpus(args.corpus, int(args.mb * 1_000_000))
    size_mb = len(text.encode("utf-8")) / 1e6
    n_chunks = len(split_into_chunks(text, GPT2_SPLIT_PATTERN))
    print(f"corpus: {description}: {size_mb:.2f} MB, {n_chunks} distinct pre-split chunks; "
          f"{args.merges} merges; {os.cpu_count()} CPU cores visible")

    # ------------------------------------------------------------------ training
    print(f"\n{'training':<36}seconds")
    t_ours, ours = timed(lambda: BPETokenizer.train(text, 256 + args.merges), repeat=3)
    print(f"  {'(a) nbutils BPETokenizer.train':<32}{t_ours:9.3f}   (best of 3)")
    t_hf, hf = timed(lambda: hf_train(text, args.merges), repeat=3)
    print(f"  {'(c) tokenizers BpeTrainer':<32}{t_hf:9.3f}   (best of 3; Rust, multi-threaded)")
    naive_times: dict[str, float] = {}
    if not args.skip_naive:
        for label, unique in (("(b) naive, one list per chunk", False), ("(b') naive, unique chunks", True)):
            seconds, naive_merges = timed(lambda: naive_train(text, args.merges, unique_chunks=unique))
            naive_times[label] = seconds
            print(f"  {label:<32}{seconds:9.3f}   (once); merges == nbutils merges: {naive_merges == ours.merges}")
            if naive_merges != ours.merges:
                raise SystemExit("the incremental trainer disagrees with the naive one")

    # how much of what `tokenizers` learned did we learn too? (ties may be broken in another order)
    char_to_byte = {char: byte for byte, char in bytes_to_unicode().items()}
    hf_tokens = {bytes(char_to_byte[c] for c in token) for token in hf.get_vocab()}
    our_tokens = set(ours.vocab.values())
    print(f"  learned tokens shared with tokenizers: {len(our_tokens & hf_tokens)} of {len(hf_tokens)}")

    print("\nratios")
    for label, seconds in naive_times.items():
        speedup = seconds / t_ours
        print(f"  {label[:4] + ' naive / nbutils':<24}= {speedup:7.1f}x   (target: at least 30x)  "
              f"{'OK' if speedup >= 30 else 'MISSED'}")
    ratio = t_ours / t_hf
    print(f"  {'nbutils / tokenizers':<24}= {ratio:7.2f}x   (target: at most 3x)     {'OK' if ratio <= 3 else 'MISSED'}")

    # ------------------------------------------------------------------ encoding
    print(f"\n{'encoding the same text (cold caches)':<36}{'MB/s':>6}   tokens")
    fresh = BPETokenizer(ours.merges, ours.pattern)  # an empty chunk cache, as a new process would have
    rows = [("nbutils BPE (256 merges)", lambda: fresh.encode(text))]
    gpt2 = GPT2Tokenizer()
    rows.append(("nbutils GPT2Tokenizer", lambda: gpt2.encode(text)))
    lines = text.splitlines(keepends=True)
    rows.append(("tokenizers BPE (256 merges)",
                 lambda: [i for encoding in hf.encode_batch(lines, add_special_tokens=False) for i in encoding.ids]))
    tiktoken_encoding = tiktoken_gpt2()
    rows.append(("tiktoken gpt2", lambda: tiktoken_encoding.encode_ordinary(text)))
    for name, fn in rows:
        seconds, ids = timed(fn)
        print(f"  {name:<32}{size_mb / seconds:8.2f} {len(ids):8d}")
    same_gpt2 = gpt2.encode(text) == tiktoken_encoding.encode_ordinary(text)
    print(f"  nbutils GPT2Tokenizer ids == tiktoken ids: {same_gpt2}")


if __name__ == "__main__":
    main()
