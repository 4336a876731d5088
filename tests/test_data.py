"""Tests of nbutils.data: loading text, splitting, encoding, and language-model batches."""

from __future__ import annotations

import pytest
import torch

from nbutils.data import (
    encode_corpus, get_batch, language_model_batches, lm_windows, load_text, train_val_split, world_text,
)


class CharTokenizer:
    """The simplest tokenizer: one id per distinct character of a reference text."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# ------------------------------------------------------------------------------------- load_text
def test_load_text_reads_utf8_and_normalises_line_endings(tmp_path):
    path = tmp_path / "story.txt"
    path.write_bytes("\ufeffLe chat est sur le toit.\r\nIt is a café.\r\n".encode("utf-8"))
    assert load_text(path) == "Le chat est sur le toit.\nIt is a café.\n"
    assert load_text(str(path)) == load_text(path)


def test_load_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="folder"):
        load_text(tmp_path)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8.*byte 3"):
        load_text(latin)
    for content in (b"", b"  \n\t\n"):
        empty = tmp_path / "empty.txt"
        empty.write_bytes(content)
        with pytest.raises(ValueError, match="empty"):
            load_text(empty)
    with pytest.raises(TypeError):
        load_text(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- train_val_split
def test_split_text_at_a_paragraph_boundary():
    text = "\n\n".join(f"Story number {i} is here." for i in range(100))
    train, val = train_val_split(text, 0.9)
    assert train + "\n\n" + val == text
    assert val.startswith("Story number") and train.endswith("here.")
    assert 0.85 < len(train) / len(text) <= 0.9


def test_split_text_without_line_breaks_is_exact():
    text = "abcdefghij" * 10
    train, val = train_val_split(text, 0.75)
    assert (train, val) == (text[:75], text[75:])


def test_split_tensor_is_exact():
    ids = torch.arange(10)
    train, val = train_val_split(ids, 0.8)
    assert torch.equal(train, ids[:8]) and torch.equal(val, ids[8:])


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5])
def test_split_rejects_bad_fractions(bad):
    with pytest.raises(ValueError, match="train_fraction"):
        train_val_split("some text here", bad)


def test_split_rejects_bad_data():
    with pytest.raises(ValueError, match="too short"):
        train_val_split("a", 0.5)
    with pytest.raises(ValueError, match="1-D"):
        train_val_split(torch.zeros(2, 3), 0.5)
    with pytest.raises(TypeError):
        train_val_split(["a", "b"], 0.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- encode_corpus
def test_encode_corpus_round_trips():
    text = "The cat is on the roof.\n\nWhere is the cat?"
    tok = CharTokenizer(text)
    ids = encode_corpus(text, tok)
    assert ids.dtype == torch.long and ids.dim() == 1 and len(ids) == len(text)
    assert tok.decode(ids.tolist()) == text


def test_encode_corpus_errors():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match="empty"):
        encode_corpus("", tok)
    with pytest.raises(TypeError, match="encode"):
        encode_corpus("abc", object())  # type: ignore[arg-type]

    class Broken(CharTokenizer):
        def encode(self, text):
            return [0, 99]

    with pytest.raises(ValueError, match="outside"):
        encode_corpus("ab", Broken("abc"))


# ------------------------------------------------------------------------------------ get_batch
def test_get_batch_shapes_and_shift_by_one():
    data = torch.arange(100, 200)
    x, y = get_batch(data, batch_size=8, context_length=16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    for row_x, row_y in zip(x, y):  # every row is a real window of the data
        start = int(row_x[0]) - 100
        assert torch.equal(row_x, data[start:start + 16]) and torch.equal(row_y, data[start + 1:start + 17])


def test_get_batch_is_reproducible_and_covers_every_window():
    data = torch.arange(12)
    a = get_batch(data, 4, 5, generator=torch.Generator().manual_seed(1))
    b = get_batch(data, 4, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    starts = get_batch(data, 2000, 5, generator=torch.Generator().manual_seed(2))[0][:, 0]
    assert set(starts.tolist()) == set(range(12 - 5))  # the last window ends with the last token as a target


def test_get_batch_smallest_data_and_device():
    x, y = get_batch(torch.tensor([3, 4]), 2, 1, device="cpu")
    assert x.tolist() == [[3], [3]] and y.tolist() == [[4], [4]] and x.device.type == "cpu"


def test_get_batch_errors():
    data = torch.arange(10)
    with pytest.raises(ValueError, match="at least 11 tokens"):
        get_batch(data, 2, 10)
    with pytest.raises(ValueError, match="context_length"):
        get_batch(data, 2, 0)
    with pytest.raises(ValueError, match="batch_size"):
        get_batch(data, 0, 4)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(data.view(2, 5), 2, 2)
    with pytest.raises(TypeError, match="integer"):
        get_batch(data.float(), 2, 2)
    with pytest.raises(TypeError, match="tensor"):
        get_batch(list(range(10)), 2, 2)  # type: ignore[arg-type]


def test_lm_windows_match_unfold():
    data = torch.arange(50)
    for stride in (None, 3):
        x, y = lm_windows(data, 8, stride)
        windows = data.unfold(0, 9, stride or 8)
        assert torch.equal(x, windows[:, :-1]) and torch.equal(y, windows[:, 1:])
    with pytest.raises(ValueError, match="stride"):
        lm_windows(data, 8, 0)


def test_language_model_batches_repeat_get_batch():
    data = torch.arange(40)
    batches = list(language_model_batches(data, 3, 4, 5, generator=torch.Generator().manual_seed(7)))
    g = torch.Generator().manual_seed(7)
    assert len(batches) == 5
    for x, y in batches:
        ex, ey = get_batch(data, 3, 4, generator=g)
        assert torch.equal(x, ex) and torch.equal(y, ey)
    with pytest.raises(ValueError):
        list(language_model_batches(data, 3, 4, -1))


def test_world_text_end_to_end():
    train, val = world_text("train"), world_text("val")
    assert len(train) > 1_000_000 and 0 < len(val) < len(train) / 10
    tok = CharTokenizer(train + val)
    ids = encode_corpus(val, tok)
    x, y = get_batch(ids, 4, 64, generator=torch.Generator().manual_seed(0))
    assert tok.decode(x[0].tolist())[1:] == tok.decode(y[0].tolist())[:-1]
