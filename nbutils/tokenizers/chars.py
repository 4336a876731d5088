"""The two simplest tokenizers: one id per character, and one id per byte.

``CharTokenizer`` learns its vocabulary from a training text (the sorted set of its characters). It is tiny
and easy to read, but it cannot encode a character it never saw. ``ByteTokenizer`` needs no training: it
encodes the UTF-8 bytes of the text, so it handles any text at all, at the price of longer sequences
(``'é'`` is two bytes, an emoji four).
"""

from __future__ import annotations

from typing import Any

from nbutils.tokenizers.base import Tokenizer, check_special_tokens, check_text, check_unique_names

__all__ = ["CharTokenizer", "ByteTokenizer"]


class CharTokenizer(Tokenizer):
    """One id per character: id ``i`` is the ``i``-th character of the sorted vocabulary."""

    def __init__(self, chars: list[str] | str, special_tokens: dict[str, int] | None = None) -> None:
        chars = list(chars)
        for char in chars:
            if not isinstance(char, str) or len(char) != 1:
                raise ValueError(f"every vocabulary entry must be one character, got {char!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("the vocabulary of a CharTokenizer has duplicate characters")
        if not chars:
            raise ValueError("a CharTokenizer needs at least one character")
        special_tokens = check_special_tokens(special_tokens)
        clashes = sorted(i for i in special_tokens.values() if i < len(chars))
        if clashes:
            raise ValueError(f"special token ids {clashes} collide with character ids 0..{len(chars) - 1}")
        super().__init__(special_tokens)
        self.chars: list[str] = chars
        self.char_to_id: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def train(cls, text: str, special_tokens: list[str] | tuple[str, ...] = ()) -> "CharTokenizer":
        """Build the vocabulary from ``text``: every distinct character, sorted. Special tokens get the next ids."""
        check_text(text)
        if not text:
            raise ValueError("cannot train a CharTokenizer on empty text")
        chars = sorted(set(text))
        names = check_unique_names(special_tokens)
        return cls(chars, {name: len(chars) + k for k, name in enumerate(names)})

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + len(self.special_tokens)

    def _encode_ordinary(self, text: str) -> list[int]:
        try:
            return [self.char_to_id[c] for c in text]
        except KeyError as error:
            char = error.args[0]
            position = text.index(char)
            raise ValueError(f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the "
                             f"vocabulary of this CharTokenizer; train it on text that contains it, or use a "
                             f"ByteTokenizer, which can encode any text") from None

    def _token_bytes(self, token_id: int) -> bytes:
        return self.chars[token_id].encode("utf-8")

    def _to_dict(self) -> dict[str, Any]:
        return {"chars": self.chars, "special_tokens": self.special_tokens}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "CharTokenizer":
        return cls(data["chars"], data.get("special_tokens"))


class ByteTokenizer(Tokenizer):
    """One id per UTF-8 byte: ids 0..255, plus optional special tokens from 256 on."""

    def __init__(self, special_tokens: dict[str, int] | None = None) -> None:
        special_tokens = check_special_tokens(special_tokens)
        clashes = sorted(i for i in special_tokens.values() if i < 256)
        if clashes:
            raise ValueError(f"special token ids {clashes} collide with the byte ids 0..255")
        super().__init__(special_tokens)

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.special_tokens)

    def _encode_ordinary(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def _token_bytes(self, token_id: int) -> bytes:
        if token_id > 255:
            raise KeyError(token_id)
        return bytes([token_id])

    def _to_dict(self) -> dict[str, Any]:
        return {"special_tokens": self.special_tokens}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "ByteTokenizer":
        return cls(data.get("special_tokens"))
