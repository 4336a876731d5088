"""The state of the toy world: who is in the story, where everything is, who holds what, who likes what.

A :class:`WorldState` is immutable. The generator works on a :class:`Draft` (a mutable copy) while it
writes a sentence and freezes it afterwards, so ``story.states[i]`` is the world right after sentence ``i``.

A story has six *roles* (called slots): ``"girl"``, ``"boy"``, ``"pet"`` (one animal), ``"group"``
(several animals of one kind), ``"toy"`` and ``"thing"`` (a household object). A role is filled the
first time the story needs it, so ``state.cast`` only holds the entities the text has mentioned. In the
same way, a location or an opinion is ``None`` until the text has said it: the state holds exactly
what a reader of the story so far can know.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping, Union

from nbutils.world.choice import Dist
from nbutils.world.lexicon import (
    HABITATS, Adjective, AnimalKind, Noun, ObjectKind, Person, Place, plural_verb,
)

__all__ = ["Entity", "WorldState", "Draft", "SLOTS", "Location", "person_entity", "animal_entity",
           "object_entity", "pair_entity"]

#: The roles of a story, in the order the state lists them.
SLOTS = ("girl", "boy", "pet", "group", "toy", "thing")

#: Where something is: a place, or the slot of the person holding it ("girl" / "boy").
Location = Union[Place, str]

_PRONOUNS = {  # gender/number -> (subject, object, possessive)
    "f": ("she", "her", "her"), "m": ("he", "him", "his"), "n": ("it", "it", "its"), "pl": ("they", "them", "their"),
}


@dataclass(frozen=True)
class Entity:
    """Someone or something in a story, as the story names it.

    ``name`` is how it appears in the middle of a sentence ("Mia", "the cat", "the red ball");
    ``slot`` is its role; ``kind`` is ``"person"``, ``"animal"`` or ``"object"``; ``plural`` decides
    "is"/"are"; ``source`` is the lexicon entry it was made from (a ``Person``, ``AnimalKind`` or
    ``ObjectKind``); ``adjective`` is its colour or adjective, if any.
    """

    slot: str
    kind: str
    name: str
    plural: bool
    gender: str
    source: Person | AnimalKind | ObjectKind
    adjective: Adjective | None = None

    @property
    def noun(self) -> Noun | None:
        return None if isinstance(self.source, Person) else self.source.noun

    @property
    def habitat(self) -> Dist[Place]:
        """Where this entity's location is drawn from."""
        if isinstance(self.source, Person):
            return HABITATS["person"]
        if isinstance(self.source, AnimalKind):
            return HABITATS[self.source.habitat]
        return HABITATS[self.slot]

    @property
    def gait(self) -> str:
        return "walk" if isinstance(self.source, Person) else getattr(self.source, "gait", "walk")

    @property
    def _key(self) -> str:
        return "pl" if self.plural else self.gender

    @property
    def subject_pronoun(self) -> str:
        return _PRONOUNS[self._key][0]

    @property
    def object_pronoun(self) -> str:
        return _PRONOUNS[self._key][1]

    @property
    def possessive(self) -> str:
        return _PRONOUNS[self._key][2]

    @property
    def title(self) -> str:
        """The name at the start of a sentence: "The cat", "Mia"."""
        return self.name[0].upper() + self.name[1:]

    def be(self) -> str:
        return "are" if self.plural else "is"

    def verb(self, singular: str) -> str:
        """Agree a third-person singular verb phrase with this entity: "jumps onto" / "jump onto"."""
        return _plural_verb(singular) if self.plural else singular

    def __str__(self) -> str:
        return self.name


_plural_verb = lru_cache(maxsize=None)(plural_verb)


@lru_cache(maxsize=None)
def person_entity(slot: str, person: Person) -> Entity:
    return Entity(slot, "person", person.name, False, person.gender, person)


@lru_cache(maxsize=None)
def animal_entity(slot: str, kind: AnimalKind, plural: bool) -> Entity:
    noun = kind.noun.en_plural if plural else kind.noun.en
    return Entity(slot, "animal", f"the {noun}", plural, "n", kind)


@lru_cache(maxsize=None)
def object_entity(slot: str, kind: ObjectKind, adjective: Adjective | None) -> Entity:
    words = f"{adjective.en} {kind.noun.en}" if adjective else kind.noun.en
    return Entity(slot, "object", f"the {words}", False, "n", kind, adjective)


def pair_entity(girl: Entity, boy: Entity) -> Entity:
    """The two children together ("Mia and Tom"), the subject of a plural sentence."""
    return Entity("pair", "person", f"{girl.name} and {boy.name}", True, "n", girl.source)


@dataclass(frozen=True)
class WorldState:
    """What the story so far has established. Immutable.

    Attributes:
        cast: slot -> :class:`Entity`, for every role the story has mentioned.
        where: slot -> location. A location is a :class:`~nbutils.world.lexicon.Place` ("on the roof")
            or the slot of the person who holds it (``"girl"``/``"boy"``). Missing = not said yet.
        opinions: (person slot, target) -> ``"love"``, ``"like"``, ``"dislike"`` or ``"hate"``; the target
            is a slot for story entities and a noun phrase such as ``"the rain"`` for anything else.
        weather, time: ``"sunny"``..., ``"morning"``...
        subject: the slot of the previous sentence's subject (the generator says "she"/"it"/"they"
            when the next sentence has the same subject); ``"pair"`` means both children.
        step: how many steps (sentences, or a question with its answer, or a search with what it finds)
            the story has told.
        mid_step: True for the state right after the first sentence of a two-sentence step: a question
            whose answer belongs to the same step ("Where is the cat?" before "The cat is on the roof.",
            'Tom asks, "Mia, do you like the cat?"' before its answer), or a search before what it finds ("Mia looks for the ball." before "Tom has it."). The true next-word
            distribution is defined from step boundaries only: condition on the state before instead.
    """

    cast: Mapping[str, Entity]
    where: Mapping[str, Location]
    opinions: Mapping[tuple[str, str], str]
    weather: str | None
    time: str | None
    subject: str | None
    step: int
    mid_step: bool = False

    @staticmethod
    def empty() -> "WorldState":
        """The state before a story begins: nothing is known."""
        return WorldState(MappingProxyType({}), MappingProxyType({}), MappingProxyType({}), None, None, None, 0)

    # ---------------------------------------------------------------------------- questions
    def entity(self, who: str) -> Entity:
        """Find a story entity by slot ("pet"), name ("Mia") or noun phrase ("the cat", "cat", "red ball")."""
        if not isinstance(who, str):
            raise TypeError(f"who must be a string such as 'the cat' or 'Mia', got {type(who).__name__}")
        if who in self.cast:
            return self.cast[who]
        wanted = who.strip().lower().removeprefix("the ").strip()
        for e in self.cast.values():
            if e.name.lower().removeprefix("the ") == wanted:
                return e
        known = ", ".join(repr(e.name) for e in self.cast.values()) or "nobody yet"
        raise KeyError(f"{who!r} is not in this story (so far: {known})")

    def place(self, who: str) -> Place | None:
        """The place where ``who`` is, or ``None`` if the story has not said it or a person holds it."""
        loc = self.where.get(self.entity(who).slot)
        return loc if isinstance(loc, Place) else None

    def holder(self, who: str) -> Entity | None:
        """The person holding the object ``who``, or ``None``."""
        loc = self.where.get(self.entity(who).slot)
        return self.cast[loc] if isinstance(loc, str) else None

    def location(self, who: str) -> str | None:
        """Where ``who`` is, in words: ``"on the roof"``, ``"with Mia"``, or ``None`` (not said yet)."""
        e = self.entity(who)
        loc = self.where.get(e.slot)
        if loc is None:
            return None
        return loc.phrase if isinstance(loc, Place) else f"with {self.cast[loc].name}"

    def opinion(self, person: str, target: str) -> str | None:
        """How ``person`` feels about ``target`` ("love", "like", "dislike", "hate"), or ``None``."""
        p = self.entity(person)
        try:
            key = self.entity(target).slot
        except KeyError:
            key = target if target.startswith("the ") else f"the {target}"
        return self.opinions.get((p.slot, key))

    def facts(self) -> list[str]:
        """Everything the state knows, as short English sentences."""
        out = []
        for slot in SLOTS:
            e = self.cast.get(slot)
            if e is None:
                continue
            loc = self.where.get(slot)
            if isinstance(loc, str):
                out.append(f"{self.cast[loc].name} has {e.name}.")
            elif loc is not None:
                out.append(f"{e.title} {e.be()} {loc.phrase}.")
            else:
                out.append(f"The story has not said where {e.name} {e.be()}.")
        verbs = {"love": "loves", "like": "likes", "dislike": "does not like", "hate": "hates"}
        for (p, t), op in self.opinions.items():
            target = self.cast[t].name if t in self.cast else t
            out.append(f"{self.cast[p].name} {verbs[op]} {target}.")
        if self.weather:
            out.append(f"The weather is {self.weather}; it is {self.time}.")
        return out

    def __str__(self) -> str:
        return " ".join(self.facts())


class Draft:
    """A mutable copy of a :class:`WorldState`, used while a sentence is being written."""

    __slots__ = ("cast", "where", "opinions", "weather", "time", "subject", "step", "mid_step")

    def __init__(self, state: WorldState):
        self.cast = dict(state.cast)
        self.where = dict(state.where)
        self.opinions = dict(state.opinions)
        self.weather, self.time = state.weather, state.time
        self.subject, self.step = state.subject, state.step
        self.mid_step = state.mid_step

    def freeze(self) -> WorldState:
        return WorldState(MappingProxyType(dict(self.cast)), MappingProxyType(dict(self.where)),
                          MappingProxyType(dict(self.opinions)), self.weather, self.time, self.subject, self.step,
                          self.mid_step)
