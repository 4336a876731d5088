"""How the toy world writes a story, one step at a time.

A story is a sequence of *steps*. Step 0 is the opening ("It is a sunny morning."). Every later step
first decides whether the story ends, then picks a *kind* of step (a location, a move, a question, an
opinion, ...) and writes one sentence, or two for a question and its answer.

Three rules make the text's probabilities exact and easy to reason about:

1. **What to talk about never depends on the world.** The kind of step and the roles in it are drawn
   with fixed weights (``KINDS``, ``LOCATE_SLOTS``, ...). The world only decides *how* it is said:
   where the cat is, whether Tom already holds the ball, "she" instead of "Mia".
2. **Every random choice shows in the text.** A role is filled, a location or an opinion drawn, only
   when the sentence says it, so no two different sequences of choices write the same story. The
   probability of a story is then the product of the probabilities of the choices that wrote it.
3. **A location is always drawn from the same distribution** (the entity's habitat), both the first
   time it is needed and whenever the entity moves. So, averaged over the corpus, the place in
   "The cat is on the roof." follows the cat's habitat exactly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from nbutils.world.choice import Chooser, Dist
from nbutils.world.lexicon import (
    ADVERBS, BOYS, COLORS, EMOTIONS, FOODS, GAITS, GIRLS, GROUPS, HABITATS, INTERACTIONS, LIKED_PLACES, OPENING_TIMES,
    OPINION_ANSWERS, OPINION_VERBS, PERSON_ACTIONS, PETS, REVIEW_PHRASES, THING_ADJECTIVES, THINGS, TIMES, TOYS,
    WEATHER_DIST, WEATHER_THINGS, WEATHERS, AnimalKind, ObjectKind, Place,
)
from nbutils.world.state import (
    Draft, Entity, Location, WorldState, animal_entity, object_entity, pair_entity, person_entity,
)

__all__ = ["story_step", "KINDS", "MIN_STEPS", "END_PROBABILITY"]

# ------------------------------------------------------------------------------------ the weights
#: A story has at least this many steps (the opening included) before it may end.
MIN_STEPS = 4
#: After that, each step ends the story with this probability (so stories have about 14 steps).
END_PROBABILITY = 0.1
_END: Dist[bool] = Dist({False: 1 - END_PROBABILITY, True: END_PROBABILITY})

#: How often each kind of step is chosen.
KINDS: Dist[str] = Dist({
    "locate": 12, "question": 8, "dialogue_where": 5, "move": 12, "move_pair": 3, "put": 7, "take": 5,
    "give": 4, "use": 6, "opinion": 8, "dialogue_opinion": 4, "review": 3, "feeling": 6, "animal_action": 5,
    "person_action": 5, "interact": 5, "search": 4, "weather": 3, "time": 2,
})
OPENING_FORMS: Dist[str] = Dist({"it": 70, "the": 30})

LOCATE_SLOTS: Dist[str] = Dist({"girl": 15, "boy": 15, "pet": 30, "group": 10, "toy": 18, "thing": 12})
QUESTION_SLOTS: Dist[str] = Dist({"girl": 10, "boy": 10, "pet": 30, "group": 12, "toy": 23, "thing": 15})
ASKABLE_SLOTS: Dist[str] = Dist({"pet": 35, "group": 15, "toy": 30, "thing": 20})
MOVE_SLOTS: Dist[str] = Dist({"girl": 30, "boy": 30, "pet": 30, "group": 10})
FEEL_SLOTS: Dist[str] = Dist({"girl": 30, "boy": 30, "pet": 30, "group": 10})
PERSON_SLOTS: Dist[str] = Dist({"girl": 50, "boy": 50})
OBJECT_SLOTS: Dist[str] = Dist({"toy": 60, "thing": 40})
ANIMAL_SLOTS: Dist[str] = Dist({"pet": 70, "group": 30})
SEARCH_SLOTS: Dist[str] = Dist({"pet": 30, "group": 10, "toy": 35, "thing": 25})
FEEL_FORMS: Dist[str] = Dist({"is": 70, "feels": 30})

#: What an opinion is about: a role of the story, or food / weather / a place.
OPINION_TARGETS: Dist[str] = Dist({"pet": 18, "group": 8, "toy": 20, "thing": 10, "food": 18, "weather": 13,
                                    "place": 13})
EXTERNAL_TARGETS = {"food": FOODS, "weather": WEATHER_THINGS, "place": LIKED_PLACES}
_DEFAULT_PRIOR: Dist[str] = Dist({"love": 30, "like": 35, "dislike": 20, "hate": 15})
#: How a child feels about something the first time the story says it (later it never changes).
OPINION_PRIORS: dict[str, Dist[str]] = {
    **{c: _DEFAULT_PRIOR for c in ("pet", "group", "toy", "thing", "food", "place")},
    "weather": Dist({"love": 20, "like": 30, "dislike": 30, "hate": 20}),
}
_OTHER = {"girl": "boy", "boy": "girl"}


# ------------------------------------------------------------------------------- filling a role
def _fill(slot: str, ch: Chooser, article: str) -> Entity:
    """Draw the entity for an empty ``slot`` and say its name, each word as soon as it is drawn."""
    if slot in ("girl", "boy"):
        e = person_entity(slot, ch.pick(GIRLS if slot == "girl" else BOYS))
        ch.say(e.name)
        return e
    ch.say(article + " ")
    if slot in ("pet", "group"):
        kind = ch.pick(PETS if slot == "pet" else GROUPS)
        ch.say(kind.noun.en_plural if slot == "group" else kind.noun.en)
        return animal_entity(slot, kind, slot == "group")
    adjective = ch.pick(COLORS if slot == "toy" else THING_ADJECTIVES)
    if adjective is not None:
        ch.say(adjective.en + " ")
    thing = ch.pick(TOYS if slot == "toy" else THINGS)
    ch.say(thing.noun.en)
    return object_entity(slot, thing, adjective)


def _mention(d: Draft, ch: Chooser, slot: str, capital: bool = False) -> Entity:
    """Say the name of the entity in ``slot`` ("the cat", "Mia"); if the story has not met it yet, draw it now."""
    e = d.cast.get(slot)
    if e is None:
        e = d.cast[slot] = _fill(slot, ch, "The" if capital else "the")
    else:
        ch.say(e.title if capital else e.name)
    return e


def _mention_subject(d: Draft, ch: Chooser, slot: str) -> Entity:
    """Start a sentence with ``slot``: a pronoun if it was the previous sentence's subject, else its name."""
    if d.subject == slot:
        e = d.cast[slot]
        ch.say(e.subject_pronoun.capitalize())
        return e
    return _mention(d, ch, slot, capital=True)


def _place_of(d: Draft, ch: Chooser, e: Entity) -> Place:
    """Where ``e`` is; drawn from its habitat the first time the story needs it. Not for held objects."""
    loc = d.where.get(e.slot)
    if loc is None:
        loc = d.where[e.slot] = ch.pick(e.habitat)
    assert isinstance(loc, Place)
    return loc


def _away(d: Draft, loc: Location) -> str:
    """"from Tom" / "off the table" / "out of the box": where an object is taken from."""
    return f"from {d.cast[loc].name}" if isinstance(loc, str) else loc.away


_GAIT_DISTS = {g: {prep: Dist.uniform(verbs) for prep, verbs in by_prep.items()} for g, by_prep in GAITS.items()}


@lru_cache(maxsize=None)
def _actions(kind: AnimalKind) -> Dist[tuple[str, str]]:
    """What an animal of this kind may do, all equally likely."""
    return Dist.uniform(kind.actions)


@lru_cache(maxsize=None)
def _uses(kind: ObjectKind, slot: str) -> Dist[str]:
    """What a child may do with an object: its own verbs (twice as likely) and a couple of generic ones."""
    generic = ("plays with", "looks at") if slot == "toy" else ("cleans", "looks at")
    verbs = list(kind.uses) + [v for v in generic if v not in kind.uses]
    return Dist([(v, 2.0 if v in kind.uses else 1.0) for v in verbs])


# ------------------------------------------------------------------------------------ the steps
# Each step says its text as early as it can (a name as soon as it is drawn): the explorer in
# ``truth`` then drops a branch the moment its text stops matching, which keeps exact computations fast.
def _opening(d: Draft, ch: Chooser) -> None:
    if ch.pick(OPENING_FORMS) == "it":
        ch.say("It is a ")
        weather = ch.pick(WEATHER_DIST)
        ch.say(weather + " ")
        time = ch.pick(OPENING_TIMES)
        ch.say(time + ".")
    else:
        ch.say("The ")
        time = ch.pick(OPENING_TIMES)
        ch.say(time + " is ")
        weather = ch.pick(WEATHER_DIST)
        ch.say(weather + ".")
    d.weather, d.time, d.subject = weather, time, None
    ch.close(d)


def _say_place(d: Draft, ch: Chooser, e: Entity, end: str = ".") -> None:
    """" is on the roof." after the subject (draws the place if needed); ``e`` must not be held."""
    ch.say(f" {e.be()} ")
    ch.say(_place_of(d, ch, e).phrase + end)


def _locate(d: Draft, ch: Chooser) -> None:
    slot = ch.pick(LOCATE_SLOTS)
    loc = d.where.get(slot)
    if isinstance(loc, str):  # a child holds it
        _mention_subject(d, ch, loc)
        ch.say(f" has {d.cast[slot].name}.")
        d.subject = loc
    else:
        _say_place(d, ch, _mention_subject(d, ch, slot))
        d.subject = slot
    ch.close(d)


def _question(d: Draft, ch: Chooser) -> None:
    slot = ch.pick(QUESTION_SLOTS)
    ch.say("Where are " if slot == "group" else "Where is ")
    e = _mention(d, ch, slot)
    ch.say("?")
    d.mid_step = True  # the answer below belongs to the same step
    ch.close(d)
    d.mid_step = False
    loc = d.where.get(slot)
    if isinstance(loc, str):
        ch.say(f"{d.cast[loc].name} has it.")
        d.subject = loc
    else:
        ch.say(e.title)
        _say_place(d, ch, e)
        d.subject = slot
    ch.close(d)


def _dialogue_where(d: Draft, ch: Chooser) -> None:
    asker = _mention(d, ch, ch.pick(PERSON_SLOTS))
    slot = ch.pick(ASKABLE_SLOTS)
    ch.say(' asks, "Where are ' if slot == "group" else ' asks, "Where is ')
    e = _mention(d, ch, slot)
    ch.say('?"')
    d.mid_step = True  # the answer below belongs to the same step
    ch.close(d)
    d.mid_step = False
    answerer = _mention(d, ch, _OTHER[asker.slot])
    ch.say(' says, "')
    loc = d.where.get(slot)
    if loc == answerer.slot:
        ch.say('I have it."')
    elif loc == asker.slot:
        ch.say('You have it!"')
    else:
        ch.say(e.title)
        _say_place(d, ch, e, end='."')
    d.subject = answerer.slot
    ch.close(d)


def _go(d: Draft, ch: Chooser, e: Entity, current: Location | None) -> Place:
    """The rest of a move sentence: " stays on the roof." or " (quickly) jumps onto the roof."."""
    target = ch.pick(e.habitat)
    if current == target:
        ch.say(f" {e.verb('stays')} {target.phrase}.")
    else:
        adverb = ch.pick(ADVERBS)
        if adverb:
            ch.say(" " + adverb)
        verb = ch.pick(_GAIT_DISTS[e.gait][target.prep])
        ch.say(f" {e.verb(verb)} the {target.noun.en}.")
    return target


def _move(d: Draft, ch: Chooser) -> None:
    e = _mention_subject(d, ch, ch.pick(MOVE_SLOTS))
    d.where[e.slot] = _go(d, ch, e, d.where.get(e.slot))
    d.subject = e.slot
    ch.close(d)


def _move_pair(d: Draft, ch: Chooser) -> None:
    if d.subject == "pair":
        ch.say("They")
        girl, boy = d.cast["girl"], d.cast["boy"]
    else:
        girl = _mention(d, ch, "girl")
        ch.say(" and ")
        boy = _mention(d, ch, "boy")
    both = d.where.get("girl") if d.where.get("girl") == d.where.get("boy") else None
    d.where["girl"] = d.where["boy"] = _go(d, ch, pair_entity(girl, boy), both)
    d.subject = "pair"
    ch.close(d)


def _put(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    slot = ch.pick(OBJECT_SLOTS)
    target = ch.pick(HABITATS[slot])
    current = d.where.get(slot)
    if current == target:
        ch.say(" leaves ")
        _mention(d, ch, slot)
        ch.say(f" {target.phrase}.")
    elif current is None or current == p.slot:
        ch.say(" puts ")
        _mention(d, ch, slot)
        ch.say(f" {target.phrase}.")
    else:
        ch.say(f" takes {d.cast[slot].name} {_away(d, current)} and puts it {target.phrase}.")
    d.where[slot], d.subject = target, p.slot
    ch.close(d)


def _take(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    slot = ch.pick(OBJECT_SLOTS)
    current = d.where.get(slot)
    if current is None:
        ch.say(" picks up ")
        _mention(d, ch, slot)
        ch.say(".")
    elif current == p.slot:
        ch.say(f" already has {d.cast[slot].name}.")
    else:
        ch.say(f" takes {d.cast[slot].name} {_away(d, current)}.")
    d.where[slot], d.subject = p.slot, p.slot
    ch.close(d)


def _give(d: Draft, ch: Chooser) -> None:
    giver = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    slot = ch.pick(OBJECT_SLOTS)
    other = _OTHER[giver.slot]
    current = d.where.get(slot)
    if current is None:
        ch.say(" finds ")
        _mention(d, ch, slot)
        ch.say(" and gives it to ")
    elif current == other:
        ch.say(f" wants to give {d.cast[slot].name} to {d.cast[other].name}, "
               f"but {d.cast[other].subject_pronoun} already has it.")
    elif current == giver.slot:
        ch.say(f" gives {d.cast[slot].name} to ")
    else:
        ch.say(f" takes {d.cast[slot].name} {_away(d, current)} and gives it to ")
    if current != other:
        _mention(d, ch, other)
        ch.say(".")
    d.where[slot], d.subject = other, giver.slot
    ch.close(d)


def _use(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    slot = ch.pick(OBJECT_SLOTS)
    current = d.where.get(slot)
    if current is None:
        ch.say(" finds ")
        o = _mention(d, ch, slot)
        ch.say(f" and {ch.pick(_uses(o.source, o.slot))} it.")
    elif current == p.slot:
        o = d.cast[slot]
        ch.say(f" {ch.pick(_uses(o.source, o.slot))} {o.name}.")
    else:
        o = d.cast[slot]
        ch.say(f" takes {o.name} {_away(d, current)} and {ch.pick(_uses(o.source, o.slot))} it.")
    d.where[slot], d.subject = p.slot, p.slot
    ch.close(d)


def _feels(d: Draft, ch: Chooser, person: str, category: str, key: str) -> str:
    """The person's opinion of ``key``: drawn from the prior the first time, then remembered."""
    op = d.opinions.get((person, key))
    if op is None:
        op = d.opinions[(person, key)] = ch.pick(OPINION_PRIORS[category])
    return op


def _target(d: Draft, ch: Chooser, person: str, before: Callable[[str], str], after: str) -> tuple[str, str]:
    """Say "<before(opinion)><something><after>" about something ``person`` has an opinion of.

    The something is a role of the story (drawn if new) or a food, weather or place ("the rain").
    Returns (opinion, the something's name).
    """
    category = ch.pick(OPINION_TARGETS)
    if category in EXTERNAL_TARGETS:
        noun, plural = ch.pick(EXTERNAL_TARGETS[category])
        name = f"the {noun.en_plural if plural else noun.en}"
        op = _feels(d, ch, person, category, name)
        ch.say(before(op) + name + after)
    else:
        op = _feels(d, ch, person, category, category)
        ch.say(before(op))
        name = _mention(d, ch, category).name
        ch.say(after)
    return op, name


def _opinion(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    _target(d, ch, p.slot, lambda op: f" {OPINION_VERBS[op]} ", ".")
    d.subject = p.slot
    ch.close(d)


def _dialogue_opinion(d: Draft, ch: Chooser) -> None:
    asker = _mention(d, ch, ch.pick(PERSON_SLOTS))
    ch.say(' asks, "')
    answerer = _mention(d, ch, _OTHER[asker.slot])
    ch.say(", do you like ")
    op, name = _target(d, ch, answerer.slot, lambda op: "", '?"')
    d.mid_step = True  # the answer below belongs to the same step
    ch.close(d)
    d.mid_step = False
    ch.say(f'{answerer.name} says, "{OPINION_ANSWERS[op]} {name}."')
    d.subject = answerer.slot
    ch.close(d)


def _review(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    ch.say(" writes a review of ")
    o = _mention(d, ch, ch.pick(OBJECT_SLOTS))
    ch.say(': "')
    op = _feels(d, ch, p.slot, o.slot, o.slot)
    ch.say(ch.pick(REVIEW_PHRASES[op]).format(noun=o.noun.en) + '"')
    d.subject = p.slot
    ch.close(d)


def _feeling(d: Draft, ch: Chooser) -> None:
    e = _mention_subject(d, ch, ch.pick(FEEL_SLOTS))
    form = ch.pick(FEEL_FORMS)
    ch.say(f" {e.be() if form == 'is' else e.verb('feels')} ")
    ch.say(ch.pick(EMOTIONS).en + ".")
    d.subject = e.slot
    ch.close(d)


def _animal_action(d: Draft, ch: Chooser) -> None:
    e = _mention_subject(d, ch, ch.pick(ANIMAL_SLOTS))
    assert isinstance(e.source, AnimalKind)
    singular, plural = ch.pick(_actions(e.source))
    ch.say(f" {plural if e.plural else singular}.")
    d.subject = e.slot
    ch.close(d)


def _person_action(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    ch.say(" " + ch.pick(PERSON_ACTIONS).format(pos=p.possessive) + ".")
    d.subject = p.slot
    ch.close(d)


def _interact(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    ch.say(f" {ch.pick(INTERACTIONS)} ")
    _mention(d, ch, ch.pick(ANIMAL_SLOTS))
    ch.say(".")
    d.subject = p.slot
    ch.close(d)


def _search(d: Draft, ch: Chooser) -> None:
    p = _mention_subject(d, ch, ch.pick(PERSON_SLOTS))
    ch.say(" looks for ")
    e = _mention(d, ch, ch.pick(SEARCH_SLOTS))
    ch.say(".")
    d.subject = p.slot
    d.mid_step = True  # what the search finds (the next sentence) belongs to the same step
    ch.close(d)
    d.mid_step = False
    loc = d.where.get(e.slot)
    she = p.subject_pronoun.capitalize()
    if loc == p.slot:
        ch.say(f"{she} already has it.")
    elif isinstance(loc, str):
        ch.say(f"{d.cast[loc].name} has it.")
        d.subject = loc
    else:
        ch.say(f"{she} finds {e.object_pronoun} ")
        ch.say(_place_of(d, ch, e).phrase + ".")
    ch.close(d)


def _weather(d: Draft, ch: Chooser) -> None:
    weather = ch.pick(WEATHER_DIST)
    ch.say(f"It is still {weather}." if weather == d.weather else WEATHERS[weather]["change"])
    d.weather, d.subject = weather, None
    ch.close(d)


def _time(d: Draft, ch: Chooser) -> None:
    nxt = TIMES[d.time]["next"]
    ch.say("It is late at night." if d.time == "night" else TIMES[nxt]["arrive"])
    d.time, d.subject = nxt, None
    ch.close(d)


_KIND_FUNCTIONS = {
    "locate": _locate, "question": _question, "dialogue_where": _dialogue_where, "move": _move,
    "move_pair": _move_pair, "put": _put, "take": _take, "give": _give, "use": _use, "opinion": _opinion,
    "dialogue_opinion": _dialogue_opinion, "review": _review, "feeling": _feeling,
    "animal_action": _animal_action, "person_action": _person_action, "interact": _interact,
    "search": _search, "weather": _weather, "time": _time,
}
assert set(_KIND_FUNCTIONS) == set(KINDS.items)


def story_step(state: WorldState, ch: Chooser) -> bool:
    """Write the next step of a story told so far up to ``state``; return False if the story ends instead.

    The text goes to ``ch.say`` / ``ch.close`` and every random decision to ``ch.pick``.
    """
    if state.step >= MIN_STEPS and ch.pick(_END):
        return False
    d = Draft(state)
    d.step += 1
    if state.step == 0:
        _opening(d, ch)
    else:
        _KIND_FUNCTIONS[ch.pick(KINDS)](d, ch)
    return True
