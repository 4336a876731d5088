"""Tests of the toy world: determinism, size, ground truth against sampling, world-state consistency."""

from __future__ import annotations

import math
import random
import re
import time
from collections import Counter

import pytest

from nbutils.world import (
    END_OF_STORY, SUPPORTED_FORMS, WorldState, default_corpus, generate_corpus, generate_story,
    next_word_distribution, score_story, true_next_word_distribution, true_next_word_entropy, words,
)
from nbutils.world.choice import Dist, Sampler
from nbutils.world.grammar import MIN_STEPS, story_step
from nbutils.world.lexicon import COLORS, GROUPS, PETS, PLACES, THING_ADJECTIVES, THINGS, TOYS, plural_verb


@pytest.fixture(scope="module")
def corpus():
    return default_corpus()


@pytest.fixture(scope="module")
def big_sample():
    """A second, larger corpus (other seed) for comparing exact probabilities with frequencies."""
    return generate_corpus(seed=11, target_bytes=5_000_000)


# ------------------------------------------------------------------------------ the corpus itself
def test_same_seed_same_corpus_and_different_seed_different():
    a = generate_corpus(seed=3, n_stories=60)
    b = generate_corpus(seed=3, n_stories=60)
    c = generate_corpus(seed=4, n_stories=60)
    assert a.text == b.text and [s.nll for s in a.stories] == [s.nll for s in b.stories]
    assert a.text != c.text
    assert generate_story(5).text == generate_story(5).text


def test_default_corpus_size_speed_and_split(corpus):
    start = time.perf_counter()
    generate_corpus(seed=1)
    assert time.perf_counter() - start < 10.0
    assert 1_500_000 <= len(corpus.text) <= 2_500_000
    assert corpus.text.isascii()
    assert default_corpus() is corpus  # cached in memory
    n_val = len(corpus.val_stories)
    assert n_val == round(0.05 * len(corpus))
    # split by whole stories: the two texts put back together are the whole corpus
    assert corpus.train_text + "\n\n" + corpus.val_text == corpus.text
    assert corpus.text.count("\n\n") == len(corpus) - 1
    assert all("\n" not in s.text for s in corpus.stories)


def test_running_examples_appear(corpus):
    assert corpus.text.count("The cat is on the roof.") >= 100
    assert "I love this product!" in corpus.text
    assert "Mia loves the red ball." in corpus.text or "Mia likes the red ball." in corpus.text
    assert "Where is the cat? The cat is on the roof." in corpus.text


def test_vocabulary_size(corpus):
    assert 400 <= len(corpus.word_types()) <= 800


def test_generate_corpus_rejects_bad_arguments():
    for kwargs in ({"seed": -1}, {"seed": 1.5}, {"n_stories": 0}, {"target_bytes": 0}, {"val_fraction": 1.0}):
        with pytest.raises(ValueError):
            generate_corpus(**kwargs)


# ------------------------------------------------------------------------------ sentence-initial truth
SUPPORTED = ["The cat is on the", "Mia loves the", "Where is the", "Where are the", "Where", "It is a",
             "Tom is at the", "The red ball is in the", "The birds are in the", "She does not like the",
             "The morning is", "Where is the red", "Mia is in"]


@pytest.mark.parametrize("prefix", SUPPORTED)
def test_true_distribution_is_a_distribution(prefix):
    dist = true_next_word_distribution(prefix)
    assert dist and all(p > 0 for p in dist.values())
    assert math.isclose(sum(dist.values()), 1.0, rel_tol=1e-12)
    assert list(dist.values()) == sorted(dist.values(), reverse=True)


def test_cat_on_the_roof_is_the_cats_habitat():
    dist = true_next_word_distribution("The cat is on the")
    cat = next(k for k in PETS.items if k.noun.en == "cat")
    from nbutils.world.lexicon import HABITATS

    on = {pl.noun.en: p for pl, p in HABITATS[cat.habitat].as_dict().items() if pl.prep == "on"}
    total = sum(on.values())
    assert dist == pytest.approx({k: v / total for k, v in on.items()})
    assert max(dist, key=dist.get) == "roof"


def test_where_is_the_follows_the_lexicon_weights():
    # only toys come in red, and the toy's noun is drawn independently of its colour
    dist = true_next_word_distribution("Where is the red")
    assert dist == pytest.approx({k.noun.en.split()[0]: p for k, p in TOYS.as_dict().items()})


def test_unsupported_prefixes_raise_clear_errors():
    for prefix in ("The cat", "Once upon a time", "Mia puts the", ""):
        with pytest.raises(ValueError, match="Supported"):
            true_next_word_distribution(prefix)
    with pytest.raises(ValueError, match="takes 'are'"):
        true_next_word_distribution("The birds is in the")
    with pytest.raises(TypeError):
        true_next_word_distribution(42)  # type: ignore[arg-type]
    assert "Where" in SUPPORTED_FORMS


def test_entropy_in_bits_and_nats():
    dist = true_next_word_distribution("The cat is on the")
    h = true_next_word_entropy("The cat is on the")
    assert math.isclose(h.nats, -sum(p * math.log(p) for p in dist.values()))
    assert math.isclose(h.bits, -sum(p * math.log2(p) for p in dist.values()))
    assert true_next_word_entropy("Where is the cat").nats == pytest.approx(0.0, abs=1e-12)  # always "?"


def _next_word_counts(sentences, prefix_tokens):
    n = len(prefix_tokens)
    counts = Counter()
    for s in sentences:
        w = words(s)
        if w[:n] == prefix_tokens and len(w) > n:
            counts[w[n]] += 1
    return counts


def _assert_close_to_counts(dist, counts, slack=5.0):
    n = sum(counts.values())
    assert n >= 300, f"too few samples ({n}) to compare"
    assert set(counts) <= set(dist), f"words never predicted: {set(counts) - set(dist)}"
    for word, p in dist.items():
        freq = counts[word] / n
        # sentences of one story share a world, so samples cluster; allow a generous binomial band
        assert abs(freq - p) <= slack * math.sqrt(p * (1 - p) / n) + 0.01, (word, p, freq, n)


@pytest.mark.parametrize("prefix", ["The cat is on the", "Where is the", "Where are the", "It is a",
                                    "Mia is in the", "The morning is", "Where is the red", "Where"])
def test_true_distribution_matches_frequencies(big_sample, prefix):
    counts = _next_word_counts(big_sample.sentences(), words(prefix))
    _assert_close_to_counts(true_next_word_distribution(prefix), counts)


def test_opinion_distribution_matches_frequencies_pooled_over_children(big_sample):
    # the distribution after "<child> loves the" is the same for every child, so pool all of them
    loves = Counter()
    for s in big_sample.sentences():
        w = words(s)
        if len(w) > 3 and w[1:3] == ["loves", "the"] and w[0][0].isupper() and w[0] not in ("The", "It", "They"):
            loves[w[3]] += 1
    dist = true_next_word_distribution("Mia loves the")
    assert dist == true_next_word_distribution("He loves the")
    _assert_close_to_counts(dist, loves)


# ------------------------------------------------------------------------------ story-conditioned truth
def test_story_conditioned_distribution_matches_sampling():
    story = generate_story(17)
    state = story.states[3]  # after "He takes the black teddy bear off the table and puts it under the sofa."
    exact = next_word_distribution(state, "")
    assert math.isclose(sum(exact.values()), 1.0)
    assert END_OF_STORY in exact and exact[END_OF_STORY] == pytest.approx(0.1)
    rng = random.Random(0)
    counts = Counter()
    n = 6000
    for _ in range(n):
        sampler = Sampler(rng)
        counts[words(sampler.sentences[0])[0] if story_step(state, sampler) else END_OF_STORY] += 1
    for word, p in exact.items():
        assert abs(counts[word] / n - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-3, word
    # the teddy bear was put under the sofa, so that is the only answer
    after_question = next_word_distribution(state, "Where is the black teddy bear? The black teddy bear is")
    assert after_question == {"under": 1.0}
    assert next_word_distribution(state, "He")["takes"] > 0


def test_story_conditioned_errors():
    state = generate_story(17).states[3]
    with pytest.raises(ValueError, match="cannot continue"):
        next_word_distribution(state, "The moon is green")
    with pytest.raises(TypeError):
        next_word_distribution("not a state", "")  # type: ignore[arg-type]


def test_the_first_step_is_always_the_opening():
    dist = next_word_distribution(WorldState.empty(), "")
    assert set(dist) == {"It", "The"}
    assert dist["It"] == pytest.approx(0.7)


# ------------------------------------------------------------------------------ the entropy floor
def test_story_nll_is_the_exact_probability_of_its_text(corpus):
    # score_story finds every sequence of choices that writes a text, independently of the sampler
    for story in corpus.stories[:25]:
        score = score_story(story.text)
        assert score.n_parses == 1, story.text
        assert score.nll == pytest.approx(story.nll, rel=1e-9)
    assert score_story("It is a sunny morning. The cat is on the moon.").nll == math.inf


def test_entropy_floor_numbers(corpus):
    floor = corpus.entropy_floor("val")
    assert floor.n_chars == len(corpus.val_text)
    assert floor.total_nats == pytest.approx(sum(s.nll for s in corpus.val_stories))
    assert floor.nats_per_char == pytest.approx(floor.total_nats / len(corpus.val_text))
    assert floor.bits_per_char == pytest.approx(floor.nats_per_char / math.log(2))
    assert floor.nats_per_word == pytest.approx(floor.total_nats / len(words(corpus.val_text)))
    assert floor.per_token(4.0) == pytest.approx(4 * floor.nats_per_char)
    # a model that ignores context (character frequencies only) must do worse than the floor
    counts = Counter(corpus.train_text)
    total = sum(counts.values())
    unigram = -sum(math.log(counts[c] / total) for c in corpus.val_text) / len(corpus.val_text)
    assert 0.05 < floor.nats_per_char < unigram
    assert abs(floor.nats_per_char - corpus.entropy_floor("train").nats_per_char) < 0.02
    with pytest.raises(ValueError):
        corpus.entropy_floor("test")


# ------------------------------------------------------------------------------ world-state consistency
_PLACE = r"((?:on|in|under|at) the [a-z ]+)"


def test_put_sentences_update_the_state(corpus):
    checked = 0
    put = re.compile(r"(?:puts|leaves) (the [a-z ]+?) " + _PLACE + r"\.$")
    put_it = re.compile(r"takes (the [a-z ]+?) (?:from|off|out of|from under) .* and puts it " + _PLACE + r"\.$")
    for story in corpus.stories[:1500]:
        for sentence, state in zip(story.sentences, story.states):
            m = put.search(sentence) or put_it.search(sentence)
            if m:
                assert state.location(m.group(1)) == m.group(2), sentence
                checked += 1
    assert checked > 500


def test_every_answer_matches_the_state(corpus):
    checked = 0
    for story in corpus.stories:
        for i, sentence in enumerate(story.sentences[:-1]):
            m = re.fullmatch(r"Where (?:is|are) (.+)\?", sentence)
            if not m:
                continue
            who, answer, state = m.group(1), story.sentences[i + 1], story.states[i + 1]
            held = re.fullmatch(r"(\w+) has it\.", answer)
            if held:
                assert state.holder(who).name == held.group(1)
            else:
                place = re.fullmatch(re.escape(who[0].upper() + who[1:]) + r" (?:is|are) " + _PLACE + r"\.", answer)
                assert place, (sentence, answer)
                assert state.location(who) == place.group(1)
            checked += 1
    assert checked > 2000


def test_a_put_object_is_found_where_it_was_put(corpus):
    """Read the text only: after "... puts the X <place>.", the next sentence about X says the same place."""
    put = re.compile(r"(?:puts|leaves) (the [a-z ]+?) " + _PLACE + r"\.$")
    checked = 0
    for story in corpus.stories:
        s = story.sentences
        for i, sentence in enumerate(s):
            m = put.search(sentence)
            if not m:
                continue
            thing, place = m.groups()
            for j in range(i + 1, len(s)):
                if thing not in s[j].lower():
                    continue
                said = re.fullmatch(re.escape(thing) + r" is " + _PLACE + r"\.", s[j][0].lower() + s[j][1:])
                if said:
                    assert said.group(1) == place, s[i:j + 1]
                    checked += 1
                elif s[j].endswith(f"looks for {thing}.") and j + 1 < len(s):
                    found = re.search(r"finds it " + _PLACE + r"\.$", s[j + 1])
                    if found:
                        assert found.group(1) == place, s[i:j + 2]
                        checked += 1
                break
    assert checked > 100


def test_pronouns_refer_to_the_previous_subject(corpus):
    checked = 0
    for story in corpus.stories[:1500]:
        for i in range(1, len(story.sentences)):
            first = story.sentences[i].split(" ", 1)[0]
            if first not in ("She", "He", "It", "They"):
                continue
            if story.sentences[i].startswith(("It is still", "It is late", "It starts")):
                continue  # weather and time, not a pronoun for an entity
            before = story.states[i - 1]
            subject = before.subject
            assert subject is not None, story.sentences[i - 1:i + 1]
            pronoun = "they" if subject == "pair" else before.cast[subject].subject_pronoun
            assert first.lower() == pronoun, story.sentences[i - 1:i + 1]
            checked += 1
    assert checked > 1000


def test_subject_verb_agreement(corpus):
    text = corpus.text
    plurals = sorted({k.noun.en_plural for k in GROUPS.items})
    singulars = sorted({k.noun.en for k in PETS.items})
    for noun in plurals:
        assert not re.search(rf"\b[Tt]he {noun} (?:is|has|was)\b", text), noun
    for noun in singulars:
        assert not re.search(rf"\b[Tt]he {noun} (?:are|have|were)\b", text), noun
    for bad in ("They is", "They has", "It are", "She are", "He are", "She have", "He have"):
        assert bad not in text
    # after a plural group at the start of a sentence, the verb has no -s; after a singular pet it has one
    adverbs = {"slowly", "quickly", "quietly", "happily", "suddenly", "carefully"}
    for sentence in corpus.sentences()[:20000]:
        w = re.findall(r"[A-Za-z]+", sentence)
        if len(w) < 3 or w[0] != "The":
            continue
        verb = w[3] if w[2] in adverbs else w[2]
        if w[1] in plurals:
            assert verb == "are" or not verb.endswith("s"), sentence
        elif w[1] in singulars:
            assert verb.endswith("s"), sentence


def test_world_state_api():
    story = generate_story(17)
    state = story.states[5]
    assert state.location("the black teddy bear") == "under the sofa"
    assert state.location("black teddy bear") == state.location("toy") == "under the sofa"
    assert state.place("the kitten").phrase == "on the bed"
    assert state.location("Ben") is None  # the story has not said where Ben is
    assert state.holder("the black teddy bear") is None
    with pytest.raises(KeyError, match="not in this story"):
        state.location("the dog")
    with pytest.raises(TypeError):
        state.where["pet"] = None  # type: ignore[index]  # states are read-only
    with pytest.raises(AttributeError):
        state.step = 3  # type: ignore[misc]
    assert "The black teddy bear is under the sofa." in state.facts()
    assert story.locations("the black teddy bear")[2:4] == ["on the table", "under the sofa"]
    gives = re.compile(r"gives (the [a-z ]+) to (\w+)\.")
    holder_story = next(s for s in (generate_story(i) for i in range(300)) if gives.search(s.text))
    i = next(k for k, t in enumerate(holder_story.sentences) if gives.search(t))
    m = gives.search(holder_story.sentences[i])
    assert holder_story.states[i].holder(m.group(1)).name == m.group(2)
    assert holder_story.states[i].location(m.group(1)) == f"with {m.group(2)}"


def test_opinions_never_change_within_a_story(corpus):
    for story in corpus.stories[:1000]:
        seen = {}
        for state in story.states:
            for key, op in state.opinions.items():
                assert seen.setdefault(key, op) == op


def test_story_length_rules(corpus):
    lengths = [s.states[-1].step for s in corpus.stories]
    assert min(lengths) >= MIN_STEPS
    assert 10 < sum(lengths) / len(lengths) < 18


# ------------------------------------------------------------------------------ lexicon and helpers
def test_plural_verbs():
    assert plural_verb("jumps onto") == "jump onto"
    assert plural_verb("flies into") == "fly into"
    assert plural_verb("washes its face") == "wash their face"
    assert plural_verb("has") == "have"
    with pytest.raises(ValueError):
        plural_verb("jump")


def test_lexicon_carries_french_for_later_translation():
    for kind in list(PETS.items) + list(GROUPS.items) + list(TOYS.items) + list(THINGS.items):
        assert kind.noun.fr and kind.noun.fr_plural and kind.noun.fr_gender in ("m", "f")
    for place in PLACES.values():
        assert place.noun.fr and place.fr_prep
    white = next(a for a in COLORS.items if a.en == "white")
    assert (white.fr("m"), white.fr("f"), white.fr("f", plural=True)) == ("blanc", "blanche", "blanches")
    old = next(a for a in THING_ADJECTIVES.items if a is not None and a.en == "old")
    assert old.fr_before_noun and old.fr("f") == "vieille"


def test_dist_normalises_and_validates():
    d = Dist({"a": 2, "b": 6, "c": 0})
    assert d.items == ("a", "b") and d.probs == pytest.approx((0.25, 0.75))
    assert d.prob("c") == 0.0
    with pytest.raises(ValueError):
        Dist({"a": 0})
    with pytest.raises(ValueError):
        Dist({"a": -1, "b": 2})
    rng = random.Random(0)
    sampler = Sampler(rng)
    draws = Counter(sampler.pick(d) for _ in range(4000))
    assert abs(draws["b"] / 4000 - 0.75) < 0.03
    assert sampler.nll == pytest.approx(-(draws["a"] * math.log(0.25) + draws["b"] * math.log(0.75)))


def test_state_right_after_a_question_is_marked_and_refused():
    """A question and its answer are one step: the state between them is not a step boundary."""
    from nbutils.world import default_corpus, true_next_word_distribution

    for story in default_corpus().val_stories:
        pairs = list(zip(story.sentences, story.sentences[1:]))
        hits = [i for i, (q, a) in enumerate(pairs) if q == "Where is the cat?" and a.startswith("The cat is ")
                and i > 0 and any(f.startswith("The cat is ") for f in story.states[i - 1].facts())]  # the story said where it is
        if hits:
            i = hits[0]
            assert story.states[i].mid_step and not story.states[i - 1].mid_step
            with pytest.raises(ValueError, match="middle of a step"):
                true_next_word_distribution("The cat is", state=story.states[i])
            answer = story.sentences[i + 1].rstrip(".").split()[-1]
            prefix = "Where is the cat? " + " ".join(story.sentences[i + 1].rstrip(".").split()[:-1])
            assert true_next_word_distribution(prefix, state=story.states[i - 1]) == {answer: 1.0}
            return
    pytest.fail("no validation story asks where the cat is")
