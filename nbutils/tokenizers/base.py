"""The one interface every tokenizer of the course shares.

A tokenizer turns text into a list of integer ids (``encode``) and back (``decode``). Every id stands for a
*token*: a short piece of text, stored as bytes (``token_bytes``) and shown to people as a string
(``token_str``). Some ids are *special tokens* such as ``<|endoftext|>``: markers that never come out of
ordinary text, only when you allow them explicitly.

Subclasses write three small methods: ``_encode_ordinary`` (text without special tokens -> ids),
``_token_bytes`` (one ordinary id -> its bytes) and ``_to_dict`` / ``_from_dict`` (for ``save`` / ``load``).
Everything else (checking the input, splitting out special tokens, decoding, saving as JSON) lives here.
"""

from __future__ import annotations

import json
import operator
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, Literal, Union

import regex

__all__ = ["Tokenizer", "AllowedSpecial"]

AllowedSpecial = Union[Literal["all", "none"], set, frozenset, list, tuple]

# Every concrete tokenizer class registers itself here by name, so that ``Tokenizer.load`` can rebuild
# whichever kind of tokenizer a file holds.
_REGISTRY: dict[str, type["Tokenizer"]] = {}


def check_text(text: Any, what: str = "text") -> str:
    """Return ``text`` if it is a ``str``, otherwise raise a TypeError that says what came instead."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    return text


def check_special_tokens(special_tokens: dict[str, int] | None) -> dict[str, int]:
    """Validate a ``{token string: id}`` mapping: non-empty strings, non-negative ints, no duplicate ids."""
    if special_tokens is None:
        return {}
    if not isinstance(special_tokens, dict):
        raise TypeError(f"special_tokens must be a dict {{str: int}}, got {type(special_tokens).__name__}")
    seen: dict[int, str] = {}
    for token, token_id in special_tokens.items():
        if not isinstance(token, str) or not token:
            raise ValueError(f"a special token must be a non-empty str, got {token!r}")
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise ValueError(f"special token {token!r} needs a non-negative int id, got {token_id!r}")
        if token_id in seen:
            raise ValueError(f"special tokens {seen[token_id]!r} and {token!r} share the id {token_id}")
        seen[token_id] = token
    return dict(special_tokens)


def check_unique_names(names: Iterable[str]) -> list[str]:
    """Validate a list of special token strings for training: non-empty strings, no duplicates."""
    if isinstance(names, str):
        raise TypeError("special_tokens must be a list of strings, not one string")
    names = list(names)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a special token must be a non-empty str, got {name!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate special tokens: {duplicates}")
    return names


class Tokenizer(ABC):
    """Text <-> list of ids. See the module docstring for what a subclass has to write."""

    def __init__(self, special_tokens: dict[str, int] | None = None) -> None:
        self.special_tokens: dict[str, int] = check_special_tokens(special_tokens)
        self._special_by_id: dict[int, str] = {i: s for s, i in self.special_tokens.items()}
        self._special_regex_cache: dict[frozenset, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # ----------------------------------------------------------------- what a subclass writes
    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """How many ids this tokenizer can produce (ordinary tokens plus special tokens)."""

    @abstractmethod
    def _encode_ordinary(self, text: str) -> list[int]:
        """Encode text in which special tokens are plain text."""

    @abstractmethod
    def _token_bytes(self, token_id: int) -> bytes:
        """The bytes of one ordinary (non-special) id; raise KeyError or IndexError when it is unknown."""

    @abstractmethod
    def _to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the tokenizer, as JSON-friendly values."""

    @classmethod
    @abstractmethod
    def _from_dict(cls, data: dict[str, Any]) -> "Tokenizer":
        """Rebuild a tokenizer from what ``_to_dict`` wrote."""

    # ----------------------------------------------------------------- encoding
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text``, treating special-token strings such as ``<|endoftext|>`` as ordinary text."""
        return self._encode_ordinary(check_text(text))

    def encode(self, text: str, allowed_special: AllowedSpecial = "none") -> list[int]:
        """Encode ``text`` into a list of ids.

        ``allowed_special`` says which special-token strings in the text become their special id:
        ``"none"`` (the default: they are encoded as ordinary text), ``"all"``, or a set of token strings.
        """
        check_text(text)
        allowed = self._allowed_specials(allowed_special)
        if not allowed:
            return self._encode_ordinary(text)
        ids: list[int] = []
        # splitting on a pattern with a capturing group keeps the separators: text, special, text, ...
        for index, piece in enumerate(self._special_regex(allowed).split(text)):
            if index % 2 == 1:
                ids.append(self.special_tokens[piece])
            elif piece:
                ids.extend(self._encode_ordinary(piece))
        return ids

    def _allowed_specials(self, allowed_special: AllowedSpecial) -> frozenset[str]:
        if isinstance(allowed_special, str):
            if allowed_special == "all":
                return frozenset(self.special_tokens)
            if allowed_special == "none":
                return frozenset()
            raise ValueError(f'allowed_special must be "all", "none" or a set of strings, got {allowed_special!r}')
        if not isinstance(allowed_special, (set, frozenset, list, tuple)):
            raise TypeError(f'allowed_special must be "all", "none" or a set of strings, '
                            f"got {type(allowed_special).__name__}")
        unknown = sorted(set(allowed_special) - set(self.special_tokens))
        if unknown:
            raise ValueError(f"unknown special tokens {unknown}; this tokenizer has {sorted(self.special_tokens)}")
        return frozenset(allowed_special)

    def _special_regex(self, allowed: frozenset[str]) -> Any:
        if allowed not in self._special_regex_cache:
            # longest first, so that a special token that contains another one wins
            alternatives = "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True))
            self._special_regex_cache[allowed] = regex.compile(f"({alternatives})")
        return self._special_regex_cache[allowed]

    # ----------------------------------------------------------------- decoding and looking at tokens
    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text. Byte sequences that are not valid UTF-8 become the character '�'."""
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one id stands for (a special token gives its string, UTF-8 encoded)."""
        if isinstance(token_id, bool):
            raise TypeError(f"token ids must be ints, got a bool ({token_id!r})")
        try:  # accept numpy integers and one-element integer tensors as well
            token_id = operator.index(token_id)
        except TypeError:
            raise TypeError(f"token ids must be ints, got {type(token_id).__name__} ({token_id!r})") from None
        if token_id in self._special_by_id:
            return self._special_by_id[token_id].encode("utf-8")
        if token_id >= 0:
            try:
                return self._token_bytes(token_id)
            except (KeyError, IndexError):
                pass
        raise ValueError(f"unknown token id {token_id}: this tokenizer has {self.vocab_size} ids")

    def token_str(self, token_id: int) -> str:
        """A readable form of one token, for printing and colouring tokens.

        Most tokens are valid UTF-8 and come back as text. A token that holds only part of a character (for
        example the first of the three bytes of '€') is shown with escapes such as ``\\xe2``.
        """
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        specials = f", {len(self.special_tokens)} special tokens" if self.special_tokens else ""
        return f"{type(self).__name__}(vocab_size={self.vocab_size}{specials})"

    # ----------------------------------------------------------------- saving and loading
    def save(self, path: str | Path) -> None:
        """Write the tokenizer to ``path`` as readable JSON (no pickle)."""
        data = {"type": type(self).__name__, **self._to_dict()}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        """Read a tokenizer written by ``save``. ``Tokenizer.load`` works for every kind of tokenizer."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "type" not in data:
            raise ValueError(f"{path} is not a tokenizer file written by save() (no 'type' field)")
        kind = data.pop("type")
        if kind not in _REGISTRY:
            raise ValueError(f"{path} holds an unknown tokenizer type {kind!r}; known: {sorted(_REGISTRY)}")
        target = _REGISTRY[kind]
        if not issubclass(target, cls):
            raise ValueError(f"{path} holds a {kind}, not a {cls.__name__}; use Tokenizer.load or {kind}.load")
        return target._from_dict(data)
