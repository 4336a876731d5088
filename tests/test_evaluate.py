"""Tests of nbutils.evaluate (the model against its world's truth) and of the fresh-story stream.

The questions are checked on stories whose text the world's docstring shows (``generate_story(17)``, ``(18)``,
``(8)``), answers on hand-made "models" whose predictions we set: an oracle that always predicts the true next
token, and the same oracle with one answer token changed.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.data import StoryStream
from nbutils.evaluate import (
    _statement_kind, answer_correct, encode_story, evaluate_world, story_logits, world_questions,
)
from nbutils.model import GPT, GPTConfig
from nbutils.pretrain import course_tokenizer
from nbutils.train import TrainConfig, Trainer
from nbutils.world import default_corpus, generate_story


@pytest.fixture(scope="module")
def tokenizer():
    return course_tokenizer()


def test_encoding_sentence_by_sentence_equals_the_whole_text(tokenizer):
    for story in default_corpus(0).val_stories[:60]:
        assert encode_story(story, tokenizer).ids == tokenizer.encode("\n\n" + story.text + "\n\n")


def _answer_text(tokenizer, encoded, question):
    start, stop = question.span
    return tokenizer.decode(encoded.ids[start:stop])


def test_questions_of_known_stories(tokenizer):
    # story 17: "He takes the black teddy bear off the table and puts it under the sofa. Where is the black teddy bear?"
    encoded = encode_story(generate_story(17), tokenizer)
    (q,) = world_questions(encoded, tokenizer)
    assert (q.sentence, q.who, q.truth, q.answerable) == (4, "the black teddy bear", "under the sofa", True)
    assert (q.since_sentence, q.kind, q.pronoun, q.dialogue) == (1, "put", True, False)
    assert _answer_text(tokenizer, encoded, q) == " under the sofa."
    # story 18: two dialogue questions; the frogs are first named by the question (unanswerable), the dog was
    # seen walking into the yard one sentence before
    encoded = encode_story(generate_story(18), tokenizer)
    frogs, dog = world_questions(encoded, tokenizer)
    assert (frogs.who, frogs.answerable, frogs.dialogue) == ("the frogs", False, True)
    assert _answer_text(tokenizer, encoded, frogs) == ' in the pond."'
    assert (dog.who, dog.truth, dog.answerable, dog.since_sentence, dog.kind) == ("the dog", "in the yard", True, 1,
                                                                                 "moved")
    assert dog.since_tokens == encoded.sentence_starts[5] - encoded.sentence_starts[4]
    # story 8: the owl appears for the first time in the question
    (owl,) = world_questions(encode_story(generate_story(8), tokenizer), tokenizer)
    assert (owl.who, owl.answerable) == ("the owl", False)


def test_statement_kinds():
    assert _statement_kind("She finds the blue umbrella and gives it to Tom.") == "given"
    assert _statement_kind("Tom takes the red ball.") == "taken"
    assert _statement_kind("She picks up the old key.") == "taken"
    assert _statement_kind("Mia puts the cup in the box.") == "put"
    assert _statement_kind("The cat jumps onto the roof.") == "moved"
    assert _statement_kind("The cat is on the roof.") == "stated"


def test_a_held_object_is_answered_by_its_holder(tokenizer):
    """Somewhere in the corpus an answer is "Tom has it.": the whole sentence is the answer span."""
    for story in default_corpus(0).val_stories:
        encoded = encode_story(story, tokenizer)
        for q in world_questions(encoded, tokenizer):
            if q.truth and q.truth.startswith("with ") and not q.dialogue:
                assert _answer_text(tokenizer, encoded, q) == f" {q.truth[5:]} has it."
                return
    pytest.fail("no held object was asked about in the validation stories")


class Oracle(torch.nn.Module):
    """Predicts the true next token of the given sequences, with logit 10 (and 0 elsewhere)."""

    def __init__(self, sequences, vocab_size, context_length, wrong_at=None):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, context_length=context_length, n_layer=1, n_head=1, n_embd=4)
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.next = {}
        for ids in sequences:
            for t in range(1, len(ids)):
                self.next[tuple(ids[:t])] = ids[t]
        self.wrong_at = wrong_at  # (prefix length) -> a wrong token

    def forward(self, idx, targets=None):
        logits = torch.zeros(*idx.shape, self.config.vocab_size)
        for b in range(idx.shape[0]):
            row = idx[b].tolist()
            for t in range(len(row)):
                prefix = tuple(row[:t + 1])
                token = self.next.get(prefix, 0)
                if self.wrong_at and len(prefix) in self.wrong_at:
                    token = self.wrong_at[len(prefix)]
                logits[b, t, token] = 10.0
        return logits, None


def test_greedy_answers_of_an_oracle_and_of_a_broken_oracle(tokenizer):
    story = generate_story(17)
    encoded = encode_story(story, tokenizer)
    (q,) = world_questions(encoded, tokenizer)
    oracle = Oracle([encoded.ids], tokenizer.vocab_size, context_length=len(encoded.ids))
    report = evaluate_world(oracle, tokenizer, [story])
    assert (report.answerable, report.answerable_right) == (1, 1)
    assert report.by_kind == {"put": [1, 1]} and report.by_distance == {"1": [1, 1]}
    assert report.by_answer == {"place": [1, 1]}
    # the oracle's loss: log-softmax of logit 10 against V-1 zeros, at every scored token
    expected = -F.log_softmax(torch.tensor([10.0] + [0.0] * (tokenizer.vocab_size - 1)), 0)[0].item()
    assert math.isclose(report.loss_per_token, expected, rel_tol=1e-5)
    assert report.n_tokens == len(encoded.ids) - encoded.first
    # the same oracle, wrong at the last token of the answer: the question fails and is listed
    start, stop = q.span
    broken = Oracle([encoded.ids], tokenizer.vocab_size, len(encoded.ids), wrong_at={stop - 1: encoded.ids[stop - 1] + 1})
    report = evaluate_world(broken, tokenizer, [story])
    assert (report.answerable, report.answerable_right) == (1, 0)
    assert report.failures[0]["expected"] == " under the sofa."
    # one wrong token outside the answer changes nothing about the answer
    elsewhere = Oracle([encoded.ids], tokenizer.vocab_size, len(encoded.ids), wrong_at={3: 5})
    assert evaluate_world(elsewhere, tokenizer, [story]).answerable_right == 1


def test_answer_correct_checks_its_span():
    logits = torch.zeros(4, 3)
    logits[0, 2] = logits[1, 1] = 1.0
    assert answer_correct(logits, [0, 2, 1, 0, 0], (1, 3))
    assert not answer_correct(logits, [0, 2, 2, 0, 0], (1, 3))
    with pytest.raises(ValueError, match="does not fit"):
        answer_correct(logits, [0, 2, 1], (0, 2))


def test_story_logits_reads_a_long_story_in_overlapping_windows():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, context_length=8, n_layer=1, n_head=1, n_embd=8)).eval()
    ids = torch.randint(11, (23,)).tolist()
    got = story_logits(model, ids)
    assert got.shape == (22, 11)
    # rows 0-7 from the window at 0; then each window of 8 starting every 4 tokens fills the rows it sees best
    with torch.no_grad():
        assert torch.allclose(got[:8], model(torch.tensor([ids[:8]]))[0][0], atol=1e-6)
        assert torch.allclose(got[8:12], model(torch.tensor([ids[4:12]]))[0][0, 4:], atol=1e-6)
        assert torch.allclose(got[20:22], model(torch.tensor([ids[16:22]]))[0][0, 4:], atol=1e-6)
    short = ids[:6]
    with torch.no_grad():
        assert torch.allclose(story_logits(model, short), model(torch.tensor([short[:-1]]))[0][0], atol=1e-6)


def test_story_stream_rows_start_at_a_story(tokenizer):
    stream = StoryStream(tokenizer, seed=3)
    x, y = stream.sample(4, 64)
    sep = tokenizer.encode("\n\n")
    assert x.shape == y.shape == (4, 64)
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row in x.tolist():
        assert row[:len(sep)] == sep
    again = StoryStream(tokenizer, seed=3).sample(4, 64)
    assert torch.equal(again[0], x)  # seeded
    assert stream.stories_used >= 4 and stream.tokens_cut > 0
    with pytest.raises(ValueError, match="seed"):
        StoryStream(tokenizer, seed=-1)


def test_story_stream_packs_whole_stories_first_fit(tokenizer):
    """With a buffer, only a story longer than a row is cut (a gap no story fits gets a copy of an opening);
    with ``buffer=1`` the rows are the stories in order, the last one cut, as before."""
    packed, plain = StoryStream(tokenizer, seed=5, buffer=16), StoryStream(tokenizer, seed=5, buffer=1)
    length = 257
    rows = [packed.row(length) for _ in range(40)]
    for _ in range(40):
        plain.row(length)
    assert all(len(r) == length for r in rows)
    assert packed.tokens_cut < plain.tokens_cut / 3, (packed.tokens_cut, plain.tokens_cut)
    assert 0 < packed.tokens_repeated < 0.2 * 40 * length and plain.tokens_repeated == 0
    # buffer=1 is the old rule: concatenate stories in order and cut each row at `length`
    import random
    from nbutils.world import generate_story
    rng, sep = random.Random(5), tokenizer.encode("\n\n")
    first = []
    while len(first) < length:
        first += sep + tokenizer.encode(generate_story(rng).text)
    assert StoryStream(tokenizer, seed=5, buffer=1).row(length) == first[:length]
    with pytest.raises(ValueError, match="buffer"):
        StoryStream(tokenizer, seed=5, buffer=0)


def test_trainer_accepts_a_batch_source(tokenizer):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=16))
    trainer = Trainer(model, StoryStream(tokenizer, seed=0), None,
                      TrainConfig(steps=3, batch_size=2, warmup_steps=1, log_every=1, device="cpu"))
    history = trainer.train(progress="off")
    assert history.steps == [1, 2, 3] and all(math.isfinite(v) for v in history.train_loss)


def test_answer_distribution_of_an_unanswerable_question(tokenizer):
    from nbutils.evaluate import answer_distribution

    story = generate_story(8)  # "Where is the owl?" names the owl for the first time
    (question,) = world_questions(encode_story(story, tokenizer), tokenizer)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=128, n_layer=1, n_head=2, n_embd=16))
    d = answer_distribution(model, tokenizer, story, question)
    habitat = story.states[question.sentence].entity("the owl").habitat
    assert d.places == tuple(f" {p.phrase}." for p in habitat.items) and d.true == habitat.probs
    assert math.isclose(sum(d.model), 1.0, rel_tol=1e-9) and 0 < d.mass <= 1
    assert math.isclose(d.kl, sum(p * math.log(p / q) for p, q in zip(d.true, d.model)), rel_tol=1e-9)
    assert d.kl >= 0
    answerable = next(q for q in world_questions(encode_story(generate_story(17), tokenizer), tokenizer))
    with pytest.raises(ValueError, match="unanswerable"):
        answer_distribution(model, tokenizer, generate_story(17), answerable)


def test_word_kind_losses_add_up_to_the_loss_and_the_floor(tokenizer):
    from nbutils.evaluate import WORD_KINDS, true_word_nlls, word_kind_losses

    stories = [generate_story(17), generate_story(18)]
    for story in stories:  # the true process's per-word surprise adds up to the story's exact NLL
        assert math.isclose(sum(v for *_, v in true_word_nlls(story)), story.nll, rel_tol=1e-9)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=128, n_layer=1, n_head=2, n_embd=16))
    table = word_kind_losses(model, tokenizer, stories)
    assert set(table) == set(WORD_KINDS)
    report = evaluate_world(model, tokenizer, stories)
    assert sum(row["tokens"] for row in table.values()) == report.n_tokens
    assert math.isclose(sum(row["model_nats"] for row in table.values()), report.loss_per_token * report.n_tokens,
                        rel_tol=1e-5)
    assert math.isclose(sum(row["true_nats"] for row in table.values()), sum(s.nll for s in stories), rel_tol=1e-9)
    # the answer to story 17's question is fixed by the story: the truth spends nothing on it
    assert word_kind_losses(model, tokenizer, stories[:1])["answer"]["true_nats"] < 1e-9
    # the truth is model-free: computed once, reused at every point of a run, it gives the same table
    from nbutils.evaluate import token_truth
    truths = [token_truth(story, tokenizer) for story in stories]
    assert word_kind_losses(model, tokenizer, stories, truths) == table
    with pytest.raises(ValueError, match="same stories"):
        word_kind_losses(model, tokenizer, stories, truths[::-1])


def test_unanswerable_kl_averages_the_answer_distributions(tokenizer):
    from nbutils.evaluate import answer_distribution, unanswerable_kl

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=128, n_layer=1, n_head=2, n_embd=16))
    stories = [generate_story(8), generate_story(17)]
    expected = [answer_distribution(model, tokenizer, s, q) for s in stories
                for q in world_questions(encode_story(s, tokenizer), tokenizer) if not q.answerable]
    got = unanswerable_kl(model, tokenizer, stories)
    assert got["questions"] == len(expected) >= 1
    assert math.isclose(got["mean_kl"], sum(d.kl for d in expected) / len(expected), rel_tol=1e-9)
    assert math.isclose(got["mean_mass"], sum(d.mass for d in expected) / len(expected), rel_tol=1e-9)


def test_true_word_nlls_cover_every_kind_of_step():
    """Two-sentence steps (a question and its answer, a search and what it finds, "do you like...?" and its
    answer) are conditioned on the state before them; the truth's per-word surprises add up to the story's NLL."""
    from nbutils.evaluate import true_word_nlls

    val = default_corpus(0).val_stories[:60]
    picked = []
    for marker in (" looks for ", ", do you like ", "Where is "):
        picked += [s for s in val if any(marker in x for x in s.sentences) and s not in picked][:2]
    assert len(picked) == 6
    for story in picked:
        assert math.isclose(sum(v for *_, v in true_word_nlls(story)), story.nll, rel_tol=1e-9)
        for i, sentence in enumerate(story.sentences[:-1]):
            first_of_two = " looks for " in sentence or ", do you like " in sentence or sentence.endswith(("?", '?"'))
            assert story.states[i].mid_step == first_of_two, sentence
