"""The model against the truth of its world: story-by-story loss and answers to "Where is X?".

A validation loss alone cannot say whether a model follows its stories. The toy world knows, after every
sentence, where everything is (``story.states``), so this module asks the model the world's own questions
and grades the answers against that truth.

**Reading a story the way the floor assumes.** The entropy floor (``corpus.entropy_floor``) is the loss of
the process that wrote each story from its first word, including the decision to stop. So a story is
scored here on its own, from its beginning: ``SEP + story + SEP`` (``SEP`` is the blank line between
stories), every token after the first separator predicted from the tokens of its own story before it.
A story longer than the model's context is read in windows that overlap by half a context, so every
token still sees at least half a context of its own story (``story_ids`` / ``story_loss``).

**World questions.** Stories ask "Where is the cat?" (a question sentence, answered by the next sentence)
or ``Mia asks, "Where is the cat?"`` (answered by the other child). The answer is fixed by the story when
the story has already said where the cat is (*answerable*); otherwise the generator draws a place from the
cat's usual places (*unanswerable*: the story's answer is a guess any reader must make). For each question,
:func:`world_questions` finds

- the answer span: the tokens of the answer sentence after the part that does not depend on the place
  (``The cat is`` | `` on the roof.``; ``Ben says, "`` | ``The dog is`` | `` in the yard."``;
  for an object a child holds, ``Tom has it.`` is all answer);
- whether it is answerable, from the state *before* the question (the state right after the question is a
  mid-step state, see ``WorldState.mid_step``);
- for answerable ones, when the fact was established: the sentence where the location last changed, its
  distance in sentences and tokens, and how it was stated (``moved``, ``put``, ``taken``, ``given``, ``stated``)
  and whether that sentence began with a pronoun.

**Greedy answers without generating.** Greedy decoding writes the true answer exactly when, at every token
of the true answer, the model's most likely next token *is* that token (given the true tokens before it).
So one forward pass over a story grades every question in it (:func:`answer_correct`), which is what makes
it cheap to track answers at many points of a training run.

    >>> from nbutils.evaluate import evaluate_world                        # doctest: +SKIP
    >>> report = evaluate_world(model, tokenizer, corpus.val_stories)      # doctest: +SKIP
    >>> report.answerable_accuracy, report.loss_per_token                  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import torch
import torch.nn.functional as F

from nbutils.device import device_of
from nbutils.world import STORY_SEPARATOR, Story

__all__ = [
    "Question", "EncodedStory", "WorldReport", "encode_story", "world_questions", "story_logits",
    "answer_correct", "evaluate_world", "answer_distribution", "AnswerDistribution", "STATEMENT_KINDS",
    "WORD_KINDS", "word_kind_losses", "true_word_nlls", "TokenTruth", "token_truth", "unanswerable_kl",
]

#: How the fact behind an answerable question was established (the verb class of that sentence).
STATEMENT_KINDS = ("moved", "put", "taken", "given", "stated")

_QUESTION = re.compile(r'^(?:(?P<asker>[A-Z][a-z]+) asks, ")?Where (?:is|are) (?P<who>.+)\?"?$')
_PRONOUN_START = re.compile(r"^(She|He|It|They) ")


@dataclass(frozen=True)
class Question:
    """One "Where is X?" of a story, with what the truth says about its answer.

    ``sentence``: index of the question sentence (the answer is sentence ``sentence + 1``); ``who``: the
    entity asked about ("the cat"); ``truth``: where it is, in words ("on the roof", "with Mia");
    ``answerable``: the story had said it before the question; ``span``: token positions (start, stop) of the
    answer in the encoded story; ``since_sentence`` / ``since_tokens``: how far back the location was last
    established (answerable only); ``kind``: how (one of ``STATEMENT_KINDS``); ``pronoun``: that sentence
    started with she/he/it/they; ``dialogue``: asked inside quotes.
    """

    sentence: int
    who: str
    truth: str | None
    answerable: bool
    span: tuple[int, int]
    dialogue: bool
    since_sentence: int | None = None
    since_tokens: int | None = None
    kind: str | None = None
    pronoun: bool | None = None


@dataclass(frozen=True)
class EncodedStory:
    """A story as token ids ``SEP + sentences + SEP`` and where each sentence starts.

    ``ids[0:first]`` is the leading separator; ``sentence_starts[i]`` is the position of sentence ``i``'s first
    token; the last ``len(tokenizer.encode(SEP))`` ids are the closing separator (the model's "the story ends").
    """

    story: Story
    ids: list[int]
    first: int
    sentence_starts: list[int]


def encode_story(story: Story, tokenizer) -> EncodedStory:
    """Encode ``SEP + story.text + SEP`` piece by piece, remembering where each sentence starts.

    The course's tokenizers split text before a space and a word, so encoding the sentences one by one
    (each after the first with its leading space) gives the same ids as encoding the whole text; the tests
    check it.
    """
    sep = tokenizer.encode(STORY_SEPARATOR)
    ids = list(sep)
    starts: list[int] = []
    for i, sentence in enumerate(story.sentences):
        starts.append(len(ids))
        ids.extend(tokenizer.encode(sentence if i == 0 else " " + sentence))
    ids.extend(sep)
    return EncodedStory(story, ids, len(sep), starts)


def _statement_kind(sentence: str) -> str:
    """The verb class of the sentence that put something where it is (a readable rule, tested)."""
    last = None
    for verb, kind in ((" puts ", "put"), (" put ", "put"), (" takes ", "taken"), (" take ", "taken"),
                       (" picks up ", "taken"), (" pick up ", "taken"),
                       (" gives ", "given"), (" give ", "given"), (" finds ", "taken"), (" find ", "taken")):
        at = sentence.rfind(verb)
        if at >= 0 and (last is None or at > last[0]):
            last = (at, kind)
    if last is not None:
        return last[1]
    if re.search(r" (is|are) ", sentence) and not re.search(r"\b(runs?|walks?|jumps?|flies|fly|goes|go|swims?|"
                                                          r"climbs?|hops?|crawls?|stays?)\b", sentence):
        return "stated"
    return "moved"


def _answer_lead(answer: str, who: str) -> str:
    """The part of an answer sentence that does not depend on where ``who`` is."""
    lead = ""
    quoted = re.match(r'^[A-Z][a-z]+ says, "', answer)
    if quoted:
        lead = quoted.group(0)
    rest = answer[len(lead):]
    title = who[0].upper() + who[1:]
    for be in (" is", " are"):
        if rest.startswith(title + be + " "):
            return lead + title + be
    return lead  # "Tom has it." / 'Ben says, "I have it."': all of it is the answer


def world_questions(encoded: EncodedStory, tokenizer) -> list[Question]:
    """Every "Where is X?" in the story, with its answer span and the truth (see the module docstring)."""
    story = encoded.story
    out: list[Question] = []
    ends = encoded.sentence_starts[1:] + [len(encoded.ids) - (encoded.first)]
    for q, sentence in enumerate(story.sentences[:-1]):
        match = _QUESTION.match(sentence)
        if not match:
            continue
        who = match.group("who")
        answer = story.sentences[q + 1]
        lead = _answer_lead(answer, who)
        n_lead = len(tokenizer.encode(" " + lead)) if lead else 0
        start, stop = encoded.sentence_starts[q + 1] + n_lead, ends[q + 1]
        before = story.states[q - 1] if q >= 1 else None
        try:
            truth_before = before.location(who) if before is not None else None
        except KeyError:  # the question is the first time the story names it
            truth_before = None
        truth = story.states[q + 1].location(who)
        if truth_before is None:
            out.append(Question(q, who, truth, False, (start, stop), bool(match.group("asker"))))
            continue
        since = q - 1
        while since >= 1:
            try:
                previous = story.states[since - 1].location(who)
            except KeyError:
                previous = None
            if previous != truth_before:
                break
            since -= 1
        stated = story.sentences[since]
        out.append(Question(q, who, truth, True, (start, stop), bool(match.group("asker")),
                            since_sentence=q - since, since_tokens=encoded.sentence_starts[q] - encoded.sentence_starts[since],
                            kind=_statement_kind(stated), pronoun=bool(_PRONOUN_START.match(stated))))
    return out


@torch.no_grad()
def story_logits(model: torch.nn.Module, ids: Sequence[int], stride: int | None = None,
                 batch_size: int = 32) -> torch.Tensor:
    """Next-token logits at every position of ``ids`` (shape ``(len(ids) - 1, V)``): the logits at row ``t``
    predict ``ids[t + 1]``. Longer than the context: windows starting every ``stride`` tokens (default half a
    context), each token predicted in the first window that holds it, where it has the most of its story
    before it (at least ``context_length - stride`` tokens; ``stride=1``: every token sees a whole context
    or its whole story). The full-length windows run ``batch_size`` at a time."""
    from nbutils.validate import require_int

    context = model.config.context_length
    stride = context // 2 if stride is None else require_int("stride", stride, maximum=context)
    require_int("batch_size", batch_size)
    device = device_of(model)
    tokens = torch.tensor(list(ids), dtype=torch.long, device=device)
    n = len(tokens) - 1
    if n < 1:
        raise ValueError("a story needs at least two tokens")
    windows: list[tuple[int, int, int]] = []  # (start, first row, end row): rows an earlier window did not fill
    start, filled = 0, 0
    while filled < n:
        end = min(start + context, n)
        windows.append((start, filled, end))
        start, filled = start + stride, end
    out = torch.empty(n, model.config.vocab_size, device=device)
    full = [w for w in windows if w[0] + context <= n]
    for i in range(0, len(full), batch_size):
        chunk = full[i:i + batch_size]
        index = torch.tensor([s for s, _, _ in chunk], device=device)[:, None] + torch.arange(context, device=device)
        logits, _ = model(tokens[index])
        for row, (s, first, last) in enumerate(chunk):
            out[first:last] = logits[row, first - s:last - s].float()
    for s, first, last in windows[len(full):]:  # the last window, when it is shorter than a context
        logits, _ = model(tokens[None, s:n])
        out[first:last] = logits[0, first - s:last - s].float()
    return out


def answer_correct(logits: torch.Tensor, ids: Sequence[int], span: tuple[int, int]) -> bool:
    """True when greedy decoding would write the true answer ``ids[span[0]:span[1]]`` (see the module docstring)."""
    start, stop = span
    if not 1 <= start < stop <= len(ids):
        raise ValueError(f"span {span} does not fit a story of {len(ids)} tokens")
    predicted = logits[start - 1:stop - 1].argmax(dim=-1).tolist()
    return predicted == list(ids[start:stop])


@dataclass
class WorldReport:
    """What :func:`evaluate_world` measured. Accuracies are shares in [0, 1]; losses are nats per token."""

    n_stories: int
    n_tokens: int
    loss_per_token: float
    n_chars: int
    answerable: int
    answerable_right: int
    unanswerable: int
    unanswerable_right: int
    stories_longer_than_context: int
    by_distance: dict[str, list[int]] = field(default_factory=dict)  # bucket -> [right, total]
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    by_pronoun: dict[str, list[int]] = field(default_factory=dict)
    by_answer: dict[str, list[int]] = field(default_factory=dict)  # "place" or "holder" ("Mia has it.")
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answerable_accuracy(self) -> float:
        return self.answerable_right / self.answerable if self.answerable else math.nan

    @property
    def unanswerable_accuracy(self) -> float:
        return self.unanswerable_right / self.unanswerable if self.unanswerable else math.nan

    @property
    def loss_per_char(self) -> float:
        return self.loss_per_token * self.n_tokens / self.n_chars

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data.update(answerable_accuracy=self.answerable_accuracy, unanswerable_accuracy=self.unanswerable_accuracy,
                    loss_per_char=self.loss_per_char)
        return data


def _distance_bucket(sentences: int) -> str:
    return "1" if sentences == 1 else "2" if sentences == 2 else "3-4" if sentences <= 4 else "5+"


@torch.no_grad()
def evaluate_world(model: torch.nn.Module, tokenizer, stories: Iterable[Story], max_failures: int = 20) -> WorldReport:
    """Score ``model`` on ``stories``: loss from each story's start, and every "Where is X?" answered greedily.

    ``loss_per_token`` is comparable with the entropy floor per token of the same stories (the floor counts
    the same tokens: each story's words and its closing separator). ``failures`` keeps the first
    ``max_failures`` wrong answerable questions (text, truth, model's greedy tokens) for reading.
    """
    was_training = model.training
    model.eval()
    total, count, chars, n_stories, longer = 0.0, 0, 0, 0, 0
    counts = {"answerable": [0, 0], "unanswerable": [0, 0]}
    by_distance: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_pronoun: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_answer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: list[dict[str, Any]] = []
    try:
        for story in stories:
            encoded = encode_story(story, tokenizer)
            ids = encoded.ids
            logits = story_logits(model, ids)
            targets = torch.tensor(ids[1:], device=logits.device)
            losses = F.cross_entropy(logits, targets, reduction="none")
            scored = losses[encoded.first - 1:]  # every token after the opening separator
            total += scored.sum().item()
            count += scored.numel()
            chars += len(story.text) + len(STORY_SEPARATOR)
            n_stories += 1
            longer += len(ids) - 1 > model.config.context_length
            for question in world_questions(encoded, tokenizer):
                right = answer_correct(logits, ids, question.span)
                key = "answerable" if question.answerable else "unanswerable"
                counts[key][0] += right
                counts[key][1] += 1
                if question.answerable:
                    for table, bucket in ((by_distance, _distance_bucket(question.since_sentence)),
                                          (by_kind, question.kind), (by_pronoun, str(question.pronoun).lower()),
                                          (by_answer, "holder" if question.truth.startswith("with ") else "place")):
                        table[bucket][0] += right
                        table[bucket][1] += 1
                    if not right and len(failures) < max_failures:
                        start, stop = question.span
                        greedy = logits[start - 1:stop - 1].argmax(dim=-1).tolist()
                        failures.append({"question": story.sentences[question.sentence], "truth": question.truth,
                                         "expected": tokenizer.decode(ids[start:stop]),
                                         "greedy": tokenizer.decode(greedy),
                                         "since_sentences": question.since_sentence, "kind": question.kind})
    finally:
        model.train(was_training)
    return WorldReport(n_stories, count, total / max(count, 1), chars, counts["answerable"][1],
                       counts["answerable"][0], counts["unanswerable"][1], counts["unanswerable"][0], longer,
                       dict(by_distance), dict(by_kind), dict(by_pronoun), dict(by_answer), failures)


@dataclass(frozen=True)
class AnswerDistribution:
    """Where the world would put ``who`` next to where the model would, for one unanswerable question.

    ``places``: the candidate answers (" on the roof." ...); ``true``: the generator's probabilities (the
    entity's usual places); ``model``: the model's probabilities of writing each candidate, renormalised over
    the candidates; ``kl``: KL(true || model) in nats (0 when the model has learned the prior exactly);
    ``mass``: the model's total probability of the candidates (how much it puts on any well-formed answer).
    """

    who: str
    places: tuple[str, ...]
    true: tuple[float, ...]
    model: tuple[float, ...]
    kl: float
    mass: float


@torch.no_grad()
def answer_distribution(model: torch.nn.Module, tokenizer, story: Story, question: Question) -> AnswerDistribution:
    """For an unanswerable question, compare the model's answer with the true distribution over places.

    The story had not said where ``question.who`` is, so the generator draws the answer from the entity's
    habitat (``Entity.habitat``); the best any reader can do is to follow that distribution. The model's
    probability of each candidate is the product of its token probabilities after the question's lead.
    """
    if question.answerable:
        raise ValueError("answer_distribution is for unanswerable questions; the answer of an answerable "
                         "one is fixed by the story (use answer_correct)")
    encoded = encode_story(story, tokenizer)
    habitat = story.states[question.sentence].entity(question.who).habitat
    closing = '."' if question.dialogue else "."
    candidates = [" " + place.phrase + closing for place in habitat.items]
    prefix = encoded.ids[:question.span[0]]
    context = model.config.context_length
    logps = []
    was_training = model.training
    model.eval()
    try:
        for text in candidates:
            answer = tokenizer.encode(text)
            ids = (prefix + answer)[-(context + 1):]
            logits, _ = model(torch.tensor([ids[:-1]], device=device_of(model)))
            logp = F.log_softmax(logits[0].float(), dim=-1)
            rows = logp[len(ids) - 1 - len(answer):]
            logps.append(sum(rows[i, t].item() for i, t in enumerate(answer)))
    finally:
        model.train(was_training)
    mass = sum(math.exp(v) for v in logps)
    probs = [math.exp(v) / mass for v in logps]
    kl = sum(p * math.log(p / q) for p, q in zip(habitat.probs, probs) if p > 0)
    return AnswerDistribution(question.who, tuple(candidates), tuple(habitat.probs), tuple(probs), kl, mass)


#: The kinds of words :func:`word_kind_losses` splits the loss into.
WORD_KINDS = ("opening", "answer", "name", "place", "other", "end")


def true_word_nlls(story: Story) -> list[tuple[int, int, str, float]]:
    """``(sentence, start, word, -log p)`` for every word of the story under the true process, then the end.

    ``p`` is the exact probability of the word given the story so far (``next_word_distribution`` with the
    state before the sentence; after a question, the state before the question and the question as prefix,
    since the answer belongs to the same step). ``start`` is the word's character offset in the sentence;
    the last entry is the end of the story (sentence ``len(story.sentences)``). The values add up to
    ``story.nll`` (the tests check it). This walks the generator for every word: about a second a story.
    """
    from nbutils.world import END_OF_STORY, WorldState, next_word_distribution
    from nbutils.world.corpus import WORD_RE

    out: list[tuple[int, int, str, float]] = []
    for i, sentence in enumerate(story.sentences):
        state = story.states[i - 1] if i > 0 else WorldState.empty()
        before = ""
        if state.mid_step:
            state, before = story.states[i - 2] if i > 1 else WorldState.empty(), story.sentences[i - 1] + " "
        for match in WORD_RE.finditer(sentence):
            p = next_word_distribution(state, before + sentence[:match.start()]).get(match.group(0), 0.0)
            out.append((i, match.start(), match.group(0), -math.log(p) if p > 0 else math.inf))
    p_end = next_word_distribution(story.states[-1], "").get(END_OF_STORY, 0.0)
    out.append((len(story.sentences), 0, END_OF_STORY, -math.log(p_end) if p_end > 0 else math.inf))
    return out


def _word_kind(sentence_index: int, word: str, in_answer: bool) -> str:
    from nbutils.world.lexicon import BOYS, GIRLS, PLACES

    if sentence_index == 0:
        return "opening"
    if in_answer:
        return "answer"
    names = {person.name for person in (*GIRLS.items, *BOYS.items)}
    if word in names or word in ("She", "He", "she", "he", "her", "him", "his", "They", "they", "them", "their"):
        return "name"
    if word in {place.noun.en for place in PLACES.values()}:
        return "place"
    return "other"


@dataclass(frozen=True)
class TokenTruth:
    """What the truth says about every scored token of one encoded story (no model needed).

    ``kinds[j]`` and ``true_nats[j]`` belong to token ``ids[encoded.first + j]`` (the tokens after the opening
    separator, the ones the loss counts): the kind of word (``WORD_KINDS``) and the true process's nats
    assigned to that token (a word's ``-log p`` goes to the token where the word starts; the closing separator
    carries the end of the story).
    """

    story: Story
    kinds: tuple[str, ...]
    true_nats: tuple[float, ...]


def token_truth(story: Story, tokenizer) -> TokenTruth:
    """The kind and true nats of every scored token of ``story`` (see :class:`TokenTruth`).

    Slow (it walks the generator for every word, about a second a story) and independent of any model, so
    a training run computes it once per evaluation story and reuses it at every point.
    """
    encoded = encode_story(story, tokenizer)
    ids = encoded.ids
    answers = {(q.sentence + 1, q.span) for q in world_questions(encoded, tokenizer)}
    owner: dict[int, tuple[int, int]] = {}  # token position -> (sentence, char offset of its first char)
    for i, start in enumerate(encoded.sentence_starts):
        stop = encoded.sentence_starts[i + 1] if i + 1 < len(story.sentences) else len(ids) - encoded.first
        offset = -1 if i > 0 else 0  # later sentences were encoded with their leading space
        for t in range(start, stop):
            text = tokenizer.decode([ids[t]])
            owner[t] = (i, offset + len(text) - len(text.lstrip(" ")))
            offset += len(text)
    words = true_word_nlls(story)
    by_sentence: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
    for sentence, start, word, value in words[:-1]:
        by_sentence[sentence].append((start, word, value))
    kinds: list[str] = []
    true: list[float] = []
    for t in range(encoded.first, len(ids) - encoded.first):
        sentence, char = owner[t]
        _, word, _ = [w for w in by_sentence[sentence] if w[0] <= char][-1]
        in_answer = any(s == sentence and span[0] <= t < span[1] for s, span in answers)
        kinds.append(_word_kind(sentence, word, in_answer))
        # the true nats of every word that starts inside this token
        text_len = len(tokenizer.decode([ids[t]]).lstrip(" "))
        true.append(sum(v for st, _, v in by_sentence[sentence] if char <= st < char + max(text_len, 1)))
    n_end = encoded.first
    kinds.extend(["end"] * n_end)
    true.extend([words[-1][3]] + [0.0] * (n_end - 1))
    return TokenTruth(story, tuple(kinds), tuple(true))


@torch.no_grad()
def word_kind_losses(model: torch.nn.Module, tokenizer, stories: Iterable[Story],
                     truths: Sequence[TokenTruth] | None = None) -> dict[str, dict[str, float]]:
    """The loss split by kind of word, the model's next to the true process's: where the gap to the floor sits.

    Kinds (``WORD_KINDS``): the story's ``opening`` sentence; ``answer`` (the place or holder in the answer to a
    "Where is X?"); ``name`` (children's names and pronouns); ``place`` (place nouns elsewhere); ``other``
    (everything else: articles, verbs, punctuation, objects); ``end`` (the blank line that ends the story).
    Each token counts for the word its first character belongs to, and a word's true ``-log p`` goes to the
    token where it starts, so both columns add over the same tokens (:func:`token_truth`; pass ``truths``,
    one per story, to reuse them). Returns, per kind, ``tokens``, ``model_nats`` and ``true_nats`` (sums) and
    ``gap_per_token``; the totals are the model's loss and the floor of these stories.
    """
    stories = list(stories)
    if truths is None:
        truths = [token_truth(story, tokenizer) for story in stories]
    if len(truths) != len(stories) or any(t.story is not s for t, s in zip(truths, stories)):
        raise ValueError("truths must be token_truth(story) of the same stories, in the same order")
    table = {kind: {"tokens": 0, "model_nats": 0.0, "true_nats": 0.0} for kind in WORD_KINDS}
    was_training = model.training
    model.eval()
    try:
        for story, truth in zip(stories, truths):
            encoded = encode_story(story, tokenizer)
            logits = story_logits(model, encoded.ids)
            targets = torch.tensor(encoded.ids[1:], device=logits.device)
            nll = F.cross_entropy(logits, targets, reduction="none")[encoded.first - 1:].tolist()
            for kind, model_nats, true_nats in zip(truth.kinds, nll, truth.true_nats):
                row = table[kind]
                row["tokens"] += 1
                row["model_nats"] += model_nats
                row["true_nats"] += true_nats
    finally:
        model.train(was_training)
    for row in table.values():
        row["gap_per_token"] = (row["model_nats"] - row["true_nats"]) / row["tokens"] if row["tokens"] else math.nan
    return table


def unanswerable_kl(model: torch.nn.Module, tokenizer, stories: Iterable[Story]) -> dict[str, float]:
    """Over every unanswerable "Where is X?" of ``stories``: the mean KL(true || model) of the answer
    distribution (:func:`answer_distribution`; 0 = the model spreads its answers exactly like the world), the
    mean probability the model gives to the well-formed candidates, and how many questions there were."""
    kls: list[float] = []
    masses: list[float] = []
    for story in stories:
        encoded = encode_story(story, tokenizer)
        for question in world_questions(encoded, tokenizer):
            if not question.answerable:
                d = answer_distribution(model, tokenizer, story, question)
                kls.append(d.kl)
                masses.append(d.mass)
    n = len(kls)
    return {"questions": n, "mean_kl": sum(kls) / n if n else math.nan,
            "mean_mass": sum(masses) / n if n else math.nan}
