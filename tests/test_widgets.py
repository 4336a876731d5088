"""Tests for nbutils.widgets.generation_explorer, with a tiny random GPT and a character tokenizer.

``display`` is replaced by a recorder so that the tests can look at what the widget shows: the chart (a
matplotlib Figure) and the generated text (an HTML object). The references are computed independently with
torch (softmax, topk) and ``nbutils.generate.generate`` with the same seeded generator.
"""

from __future__ import annotations

import html
import re
import warnings

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import HTML  # noqa: E402

from nbutils import widgets  # noqa: E402
from nbutils.generate import generate  # noqa: E402
from nbutils.model import GPT, GPTConfig  # noqa: E402
from nbutils.tokenizers import CharTokenizer  # noqa: E402

TEXT = "the cat is on the roof. the dog is in the park. "
PROMPT = "the cat is"


@pytest.fixture(scope="module")
def tiny():
    tokenizer = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=16)
    model = GPT(config).eval()
    with torch.no_grad():  # larger logits than at initialisation, so that the filters have something to cut
        model.lm_head.weight.mul_(20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and the test machine is shared
    yield model, tokenizer
    torch.set_num_threads(threads)


@pytest.fixture
def shown(monkeypatch):
    """Everything the widgets module displays, in order."""
    recorded: list = []
    monkeypatch.setattr(widgets, "display", recorded.append)
    yield recorded
    plt.close("all")


def _static(monkeypatch):
    monkeypatch.setenv("NBUTILS_WIDGETS", "0")


def _text_of(item: HTML) -> str:
    """The sample's text (prompt + continuation) out of the widget's HTML."""
    body = re.search(r"white-space:pre-wrap'>(.*?)</div>", item.data, flags=re.S).group(1)
    return html.unescape(body.replace("<b>", "").replace("</b>", ""))


def _bars(figure) -> dict[str, float]:
    """The heights of the first bar series ("after the filters") of the chart, by tick label."""
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    heights = [patch.get_height() for patch in ax.containers[0]]
    return dict(zip(labels, heights))


def _next_logits(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0, -1]


def test_static_shows_chart_then_seeded_sample(tiny, shown, monkeypatch):
    _static(monkeypatch)
    model, tok = tiny
    widgets.generation_explorer(model, tok, prompt=PROMPT, temperature=0.8, length=12, seed=3)
    assert len(shown) == 2
    figure, text = shown
    assert isinstance(figure, plt.Figure) and isinstance(text, HTML)
    ids = tok.encode(PROMPT)
    expected = generate(model, ids, 12, temperature=0.8, generator=torch.Generator().manual_seed(3))
    assert _text_of(text) == tok.decode(expected.tolist())
    # no filter: the chart's bars are softmax(logits / 0.8)
    reference = torch.softmax(_next_logits(model, ids) / 0.8, dim=-1)
    best = torch.topk(reference, 3)
    bars = _bars(figure)
    for prob, i in zip(best.values.tolist(), best.indices.tolist()):
        assert bars[widgets.plots.visible(tok.token_str(i))] == pytest.approx(prob, abs=1e-6)


def test_same_settings_same_text_other_seed_other_text(tiny, shown, monkeypatch):
    _static(monkeypatch)
    model, tok = tiny
    for seed in (0, 0, 1):
        widgets.generation_explorer(model, tok, prompt=PROMPT, temperature=1.5, length=30, seed=seed)
    texts = [_text_of(item) for item in shown if isinstance(item, HTML)]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_top_k_and_top_p_chart_keeps_the_right_tokens(tiny, shown, monkeypatch):
    _static(monkeypatch)
    model, tok = tiny
    ids = tok.encode(PROMPT)
    probs = torch.softmax(_next_logits(model, ids), dim=-1)
    widgets.generation_explorer(model, tok, prompt=PROMPT, top_k=3, length=5)
    bars = _bars(shown[0])
    kept = {label: p for label, p in bars.items() if p > 0}
    top3 = torch.topk(probs, 3)
    assert set(kept) == {widgets.plots.visible(tok.token_str(i)) for i in top3.indices.tolist()}
    assert sum(kept.values()) == pytest.approx(1.0, abs=1e-5)
    assert "3 of" in shown[0].axes[0].get_title()
    # the other bars are the model's most likely tokens (drawn at 0 after the filter), never arbitrary ones
    plain_top = {widgets.plots.visible(tok.token_str(i)) for i in torch.topk(probs, 12).indices.tolist()}
    assert set(bars) <= plain_top | set(kept)
    # top-p: the smallest set of most likely tokens whose mass reaches p
    p = 0.6
    widgets.generation_explorer(model, tok, prompt=PROMPT, top_p=p, length=5)
    sorted_probs = torch.sort(probs, descending=True).values
    needed = int((torch.cumsum(sorted_probs, 0) < p).sum()) + 1
    kept = [h for h in _bars(shown[2]).values() if h > 0]
    assert len(kept) == needed


def test_greedy_is_argmax_and_one_hot(tiny, shown, monkeypatch):
    _static(monkeypatch)
    model, tok = tiny
    widgets.generation_explorer(model, tok, prompt=PROMPT, temperature=0, length=10)
    ids = tok.encode(PROMPT)
    expected = generate(model, ids, 10, greedy=True)
    assert _text_of(shown[1]) == tok.decode(expected.tolist())
    heights = sorted(_bars(shown[0]).values(), reverse=True)
    assert heights[0] == 1.0 and heights[1] == 0.0


def test_long_prompt_is_cropped_with_a_message(tiny, shown, monkeypatch):
    _static(monkeypatch)
    model, tok = tiny
    long_prompt = TEXT[:40]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the widget crops the prompt itself: no warning from generate
        widgets.generation_explorer(model, tok, prompt=long_prompt, temperature=0, length=4)
    message = shown[1].data
    assert "40 tokens" in message and "at most 16" in message
    assert _text_of(shown[1]).startswith(long_prompt[-16:])


@pytest.mark.parametrize("settings, words", [
    (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p"), (dict(temperature=-0.5), "temperature"),
    (dict(top_k=-1), "top_k"), (dict(length=0), "length"), (dict(prompt=3), "prompt"),
    (dict(prompt=""), "prompt is empty"),
])
def test_bad_settings_raise_clear_errors(tiny, shown, monkeypatch, settings, words):
    _static(monkeypatch)
    model, tok = tiny
    with pytest.raises((ValueError, TypeError), match=words):
        widgets.generation_explorer(model, tok, **settings)
    assert not shown


def test_interactive_builds_a_marked_box_and_redraws(tiny, shown, monkeypatch):
    monkeypatch.setenv("NBUTILS_WIDGETS", "1")
    ipywidgets = pytest.importorskip("ipywidgets")
    model, tok = tiny
    widgets.generation_explorer(model, tok, prompt=PROMPT, temperature=1.0, length=8)
    boxes = [item for item in shown if isinstance(item, ipywidgets.VBox)]
    assert len(boxes) == 1
    box = boxes[0]
    assert "nbutils-widget" in box._dom_classes
    sliders = {child.description: child for child in box.children
               if isinstance(child, (ipywidgets.IntSlider, ipywidgets.FloatSlider))}
    assert {"temperature", "top-k (0: off)", "top-p (1: off)", "length", "seed"} <= set(sliders)
    first = [_text_of(item) for item in shown if isinstance(item, HTML)]
    assert len(first) == 1
    sliders["temperature"].value = 0.0  # the observer redraws: a greedy text now
    texts = [_text_of(item) for item in shown if isinstance(item, HTML)]
    assert len(texts) == 2
    assert texts[1] == tok.decode(generate(model, tok.encode(PROMPT), 8, greedy=True).tolist())
    assert texts[1] != texts[0]
    prompt_box = next(child for child in box.children if isinstance(child, ipywidgets.Text))
    prompt_box.value = "the dog"
    texts = [_text_of(item) for item in shown if isinstance(item, HTML)]
    assert texts[-1].startswith("the dog") and len(texts) == 3
    prompt_box.value = "THE DOG"  # a character the tokenizer never saw: a message, not an exception
    assert "Cannot encode this prompt" in shown[-1].data


# ------------------------------------------------------------------- the pieces of generate.py the widget shows
@pytest.mark.parametrize("settings", [{}, {"temperature": 0.5}, {"top_k": 3}, {"top_p": 0.7},
                                      {"temperature": 2.0, "top_k": 4, "top_p": 0.9}])
def test_the_chart_is_the_distribution_sample_next_draws_from(settings):
    from nbutils.generate import sample_next, sampling_distribution

    logits = torch.randn(6, generator=torch.Generator().manual_seed(0))
    probs = sampling_distribution(logits, **settings)
    assert probs.sum().item() == pytest.approx(1.0)
    draws = sample_next(logits.expand(40000, 6), generator=torch.Generator().manual_seed(1), **settings)
    frequency = torch.bincount(draws, minlength=6) / 40000
    assert torch.allclose(frequency, probs, atol=0.01)
    assert torch.equal(frequency == 0, probs == 0), "a token the chart removes is never drawn"
    greedy = sampling_distribution(logits, temperature=0)
    assert greedy.tolist() == [float(i == logits.argmax().item()) for i in range(6)]


def test_next_token_logits_reads_the_last_context_in_eval_mode(tiny):
    from nbutils.generate import next_token_logits

    model, tok = tiny
    model.train()
    ids = tok.encode("the cat is on the roof. " * 3)  # longer than the context of 16
    got = next_token_logits(model, ids)
    assert model.training, "the model's mode is given back"
    model.eval()
    with torch.no_grad():
        expected = model(torch.tensor([ids[-model.config.context_length:]]))[0][0, -1]
    assert got.shape == (tok.vocab_size,) and torch.allclose(got, expected, atol=1e-6)
