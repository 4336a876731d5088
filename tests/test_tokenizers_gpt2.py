"""GPT2Tokenizer (our code, GPT-2's merges) must encode exactly like tiktoken built from the same files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbutils.tokenizers import GPT2Tokenizer, Tokenizer, tiktoken_gpt2
from nbutils.tokenizers.gpt2 import bytes_to_unicode

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see they've done it; don't worry, we'd know. She's HERE'S IT'S",
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "import numpy as np\n\n\nx = np.zeros((3, 4))  # comment\n\t\tindented with tabs\r\n",
    "Emoji: 😀🎉👍🏽 👨‍👩‍👧 and flags 🇫🇷",
    "中文：我爱自然语言处理。日本語のテキスト。한국어 텍스트",
    "     leading spaces, trailing spaces     ",
    "\n\n\n  \n \t \u00a0 non-breaking space and\u2003em space",
    "Numbers: 3.14159 1,000,000 2024-06-01 0x1F 1e-9 1234567890",
    "Ünïcödé áccents, ñ, ß, Ω, ς, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "URLs like https://example.org/a?b=c&d=e#f and emails like a.b@c.de",
    "<|endoftext|>",
    "text before<|endoftext|>text after <|endoftext|> <|endoftext",
    "",
]


@pytest.fixture(scope="module")
def ours() -> GPT2Tokenizer:
    return GPT2Tokenizer()


@pytest.fixture(scope="module")
def reference():
    return tiktoken_gpt2()


def test_known_ids(ours):
    assert ours.encode("Hello world") == [15496, 995]
    assert ours.vocab_size == 50257 == len(ours.merges) + 256 + 1
    assert ours.special_tokens == {"<|endoftext|>": 50256}
    assert ours.token_str(220) == " " and ours.token_bytes(0) == b"!"


@pytest.mark.parametrize("text", TEXTS)
def test_same_ids_as_tiktoken(ours, reference, text):
    assert ours.encode(text) == reference.encode_ordinary(text)
    assert ours.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")
    assert ours.decode(ours.encode(text)) == text


def test_endoftext_handling(ours):
    text = "a<|endoftext|>b"
    assert ours.encode(text, allowed_special="all") == [64, 50256, 65]
    assert 50256 not in ours.encode(text)  # default: the special string is plain text
    assert ours.decode([64, 50256, 65]) == text


def test_a_long_mixed_text(ours, reference):
    text = "\n".join(TEXTS) * 20
    assert ours.encode(text) == reference.encode_ordinary(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_unicode_matches_tiktoken_and_round_trips(ours, reference, text):
    ids = ours.encode(text)
    assert ids == reference.encode_ordinary(text)
    assert ours.decode(ids) == text


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(" \n\t'sdtmlvrea1é😀<|>endoftx")), max_size=40))
def test_tricky_alphabet_matches_tiktoken(ours, reference, text):
    # few characters, many repeats: contractions, whitespace runs and special-token fragments collide often
    assert ours.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")


def test_bytes_to_unicode_table():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[32] == "Ġ" and table[10] == "Ċ"


def test_save_load_and_no_training(ours, tmp_path):
    path = tmp_path / "gpt2.json"
    ours.save(path)
    assert path.stat().st_size < 1000  # the file names the package data instead of copying 50,000 merges
    loaded = Tokenizer.load(path)
    assert isinstance(loaded, GPT2Tokenizer) and loaded.encode(TEXTS[2]) == ours.encode(TEXTS[2])
    with pytest.raises(TypeError, match="already trained"):
        GPT2Tokenizer.train("text", 300)


def test_decode_unknown_id(ours):
    with pytest.raises(ValueError, match="unknown token id"):
        ours.decode([50257])


@pytest.fixture(scope="module")
def gpt4_pattern_pair(ours):
    """GPT-2's merges with GPT-4's pre-split pattern: our BPETokenizer, and tiktoken (Rust regex)."""
    import tiktoken

    from nbutils.tokenizers import GPT4_SPLIT_PATTERN, BPETokenizer

    ranks = {token: token_id for token_id, token in ours.vocab.items()}
    reference = tiktoken.Encoding(name="gpt4-pattern-gpt2-merges", pat_str=GPT4_SPLIT_PATTERN,
                                  mergeable_ranks=ranks, special_tokens={})
    return BPETokenizer(ours.merges, GPT4_SPLIT_PATTERN, byte_ids=ours.byte_ids), reference


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_gpt4_pattern_splits_like_tiktoken(gpt4_pattern_pair, text):
    mine, reference = gpt4_pattern_pair
    assert mine.encode(text) == reference.encode_ordinary(text)


def test_gpt4_pattern_on_fixed_texts(gpt4_pattern_pair):
    mine, reference = gpt4_pattern_pair
    for text in TEXTS:
        assert mine.encode(text) == reference.encode_ordinary(text)


def test_ids_may_be_numpy_or_torch_integers(ours):
    import numpy as np
    import torch

    ids = ours.encode("Hello world")
    assert ours.decode(np.array(ids)) == ours.decode(torch.tensor(ids)) == "Hello world"
