"""The words of the toy world, with what the generator needs to know about each one.

Everything the stories can mention is listed here: people, animals, toys, household things, places,
food, weather, feelings and the verbs that go with them, together with the weights the generator uses
to pick them. Later parts of the course build English -> French pairs and labelled reviews from the same
world, so nouns carry their French form and gender, and adjectives their four French forms and whether
they go before the noun in French ("un petit chat") or after it ("un chat noir").
"""

from __future__ import annotations

from dataclasses import dataclass

from nbutils.world.choice import Dist

__all__ = [
    "Noun", "Adjective", "Place", "Person", "AnimalKind", "ObjectKind",
    "PLACES", "GIRLS", "BOYS", "PETS", "GROUPS", "TOYS", "THINGS", "COLORS", "THING_ADJECTIVES",
    "FOODS", "WEATHER_THINGS", "LIKED_PLACES", "EMOTIONS", "WEATHERS", "TIMES", "plural_verb",
]


# ----------------------------------------------------------------------------------------- words
@dataclass(frozen=True)
class Noun:
    """An English noun with its plural, and its French translation (singular, plural, gender 'm'/'f')."""

    en: str
    fr: str
    fr_gender: str
    en_plural: str = ""
    fr_plural: str = ""

    def __post_init__(self) -> None:
        if self.fr_gender not in ("m", "f"):
            raise ValueError(f"French gender must be 'm' or 'f', got {self.fr_gender!r}")
        if not self.en_plural:
            object.__setattr__(self, "en_plural", self.en + "s")
        if not self.fr_plural:
            object.__setattr__(self, "fr_plural", self.fr + "s")


def N(en: str, fr: str, gender: str, en_plural: str = "", fr_plural: str = "") -> Noun:
    return Noun(en, fr, gender, en_plural, fr_plural)


@dataclass(frozen=True)
class Adjective:
    """An English adjective and its French forms: masculine/feminine, singular/plural.

    ``fr_before_noun`` is True for the few French adjectives that come before the noun (petit, grand,
    vieux, nouveau, ...); most, colours included, come after it.
    """

    en: str
    fr_m: str
    fr_f: str
    fr_m_plural: str
    fr_f_plural: str
    fr_before_noun: bool = False

    def fr(self, gender: str, plural: bool = False) -> str:
        """The French form that agrees with a noun of this gender and number."""
        if gender == "m":
            return self.fr_m_plural if plural else self.fr_m
        return self.fr_f_plural if plural else self.fr_f


def A(en: str, fr_m: str, fr_f: str | None = None, before: bool = False,
      fr_m_plural: str | None = None, fr_f_plural: str | None = None) -> Adjective:
    fr_f = fr_f if fr_f is not None else fr_m + "e"
    m_pl = fr_m_plural if fr_m_plural is not None else (fr_m if fr_m.endswith(("s", "x")) else fr_m + "s")
    f_pl = fr_f_plural if fr_f_plural is not None else fr_f + "s"
    return Adjective(en, fr_m, fr_f, m_pl, f_pl, before)


@dataclass(frozen=True)
class Place:
    """Somewhere a person, animal or object can be: a preposition and a noun ("on" + "roof").

    ``phrase`` is how a location is said ("on the roof"); ``towards`` how a movement ends ("onto the roof");
    ``away`` how something is taken from there ("off the roof").
    """

    prep: str
    noun: Noun

    _PREPS = {
        # prep: (towards, away, French preposition)
        "on": ("onto", "off", "sur"),
        "in": ("into", "out of", "dans"),
        "under": ("under", "from under", "sous"),
        "at": ("to", "away from", "à"),
    }

    def __post_init__(self) -> None:
        if self.prep not in self._PREPS:
            raise ValueError(f"unknown preposition {self.prep!r}: use one of {sorted(self._PREPS)}")

    @property
    def phrase(self) -> str:
        return f"{self.prep} the {self.noun.en}"

    @property
    def towards(self) -> str:
        return f"{self._PREPS[self.prep][0]} the {self.noun.en}"

    @property
    def away(self) -> str:
        return f"{self._PREPS[self.prep][1]} the {self.noun.en}"

    @property
    def fr_prep(self) -> str:
        return self._PREPS[self.prep][2]

    def __str__(self) -> str:
        return self.phrase

    def __repr__(self) -> str:
        return f"Place({self.phrase!r})"


@dataclass(frozen=True)
class Person:
    """A child of the world. ``gender`` ('f' or 'm') decides she/he and her/his."""

    name: str
    gender: str


@dataclass(frozen=True)
class AnimalKind:
    """A kind of animal: its noun, how it moves (``gait``), what it does, and where it likes to be."""

    noun: Noun
    gait: str
    actions: tuple[tuple[str, str], ...]   # (singular, plural) verb phrases: ("wags its tail", "wag their tails")
    habitat: str                           # key into HABITATS


@dataclass(frozen=True)
class ObjectKind:
    """A kind of object (toy or household thing): its noun and what people do with it."""

    noun: Noun
    uses: tuple[str, ...]                  # verb phrases that take the object: "kicks", "drinks from"


# ------------------------------------------------------------------------------------ verb helper
_IRREGULAR = {"has": "have", "does": "do", "is": "are", "lies": "lie", "goes": "go"}


def plural_verb(phrase: str) -> str:
    """Turn a third-person singular verb phrase into its plural form: "jumps onto" -> "jump onto".

    Only the first word changes ("flies" -> "fly", "washes" -> "wash", "has" -> "have"); a possessive
    "its" becomes "their".
    """
    if not phrase:
        raise ValueError("empty verb phrase")
    first, _, rest = phrase.partition(" ")
    if first in _IRREGULAR:
        verb = _IRREGULAR[first]
    elif first.endswith("ies"):
        verb = first[:-3] + "y"
    elif first.endswith(("shes", "ches", "sses", "xes", "zzes")):
        verb = first[:-2]
    elif first.endswith("s"):
        verb = first[:-1]
    else:
        raise ValueError(f"{phrase!r} does not start with a third-person singular verb")
    rest = " ".join("their" if w == "its" else w for w in rest.split())
    return f"{verb} {rest}".strip()


def _acts(*phrases: str | tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Animal actions: plain phrases get an automatic plural, pairs are given in full."""
    return tuple(p if isinstance(p, tuple) else (p, plural_verb(p)) for p in phrases)


# ------------------------------------------------------------------------------------------ places
_PLACE_NOUNS = {
    "roof": N("roof", "toit", "m"), "table": N("table", "table", "f"), "sofa": N("sofa", "canapé", "m"),
    "bed": N("bed", "lit", "m"), "mat": N("mat", "tapis", "m", fr_plural="tapis"),
    "wall": N("wall", "mur", "m"), "shelf": N("shelf", "étagère", "f", en_plural="shelves"),
    "chair": N("chair", "chaise", "f"), "floor": N("floor", "sol", "m"), "fence": N("fence", "clôture", "f"),
    "garden": N("garden", "jardin", "m"), "kitchen": N("kitchen", "cuisine", "f"),
    "box": N("box", "boîte", "f", en_plural="boxes"), "tree": N("tree", "arbre", "m"),
    "basket": N("basket", "panier", "m"), "bedroom": N("bedroom", "chambre", "f"),
    "living room": N("living room", "salon", "m"),
    "bathroom": N("bathroom", "salle de bain", "f", fr_plural="salles de bain"),
    "yard": N("yard", "cour", "f"), "pond": N("pond", "étang", "m"), "drawer": N("drawer", "tiroir", "m"),
    "barn": N("barn", "grange", "f"), "field": N("field", "champ", "m"), "park": N("park", "parc", "m"),
    "shop": N("shop", "magasin", "m"), "school": N("school", "école", "f"), "beach": N("beach", "plage", "f"),
    "farm": N("farm", "ferme", "f"), "library": N("library", "bibliothèque", "f", en_plural="libraries"),
}
_PLACE_LIST = [
    ("on", "roof"), ("on", "table"), ("on", "sofa"), ("on", "bed"), ("on", "mat"), ("on", "wall"),
    ("on", "shelf"), ("on", "chair"), ("on", "floor"), ("on", "fence"),
    ("in", "garden"), ("in", "kitchen"), ("in", "box"), ("in", "tree"), ("in", "basket"), ("in", "bedroom"),
    ("in", "living room"), ("in", "bathroom"), ("in", "yard"), ("in", "pond"), ("in", "drawer"),
    ("in", "barn"), ("in", "field"),
    ("under", "table"), ("under", "bed"), ("under", "sofa"), ("under", "tree"), ("under", "chair"),
    ("at", "park"), ("at", "shop"), ("at", "school"), ("at", "beach"), ("at", "farm"), ("at", "library"),
]
#: Every place, keyed by its phrase: ``PLACES["on the roof"]``.
PLACES: dict[str, Place] = {}
for _prep, _noun in _PLACE_LIST:
    _p = Place(_prep, _PLACE_NOUNS[_noun])
    PLACES[_p.phrase] = _p


def _habitat(weights: dict[str, float]) -> Dist[Place]:
    return Dist([(PLACES[k], w) for k, w in weights.items()])


#: Where each kind of being or object tends to be. A location is always drawn from its habitat, both
#: the first time the story needs it and whenever something moves (see ``grammar``).
HABITATS: dict[str, Dist[Place]] = {
    "person": _habitat({
        "in the kitchen": 14, "in the garden": 14, "in the bedroom": 8, "in the living room": 8,
        "in the bathroom": 3, "in the yard": 5, "on the sofa": 5, "under the table": 2, "at the park": 12,
        "at the shop": 7, "at the school": 7, "at the beach": 6, "at the farm": 4, "at the library": 4}),
    "cat": _habitat({
        "on the roof": 30, "in the garden": 12, "on the sofa": 8, "in the box": 8, "under the table": 8,
        "on the bed": 6, "in the tree": 6, "on the mat": 5, "on the wall": 5, "in the kitchen": 5,
        "on the fence": 4, "under the bed": 3}),
    "dog": _habitat({
        "in the garden": 20, "in the yard": 15, "in the kitchen": 10, "on the sofa": 8, "under the table": 10,
        "on the mat": 10, "in the living room": 7, "at the park": 10, "on the bed": 5, "under the bed": 5}),
    "small": _habitat({
        "in the garden": 20, "in the box": 15, "under the bed": 10, "in the basket": 15, "under the sofa": 10,
        "in the kitchen": 10, "on the mat": 10, "under the table": 10}),
    "bird": _habitat({
        "in the tree": 30, "on the roof": 20, "on the fence": 15, "in the garden": 10, "on the wall": 10,
        "on the shelf": 5, "in the barn": 5, "under the tree": 5}),
    "farm": _habitat({"in the field": 30, "in the barn": 25, "in the yard": 20, "in the garden": 15,
                      "under the tree": 10}),
    "water": _habitat({"in the pond": 40, "in the garden": 20, "in the field": 15, "in the yard": 15,
                       "under the tree": 10}),
    "insect": _habitat({"in the garden": 35, "in the kitchen": 20, "in the tree": 15, "under the table": 10,
                        "on the floor": 10, "in the field": 10}),
    "toy": _habitat({
        "in the box": 25, "on the table": 12, "under the bed": 10, "on the shelf": 10, "in the garden": 10,
        "on the floor": 10, "under the sofa": 5, "in the basket": 10, "on the chair": 5, "in the yard": 3}),
    "thing": _habitat({
        "on the table": 25, "in the kitchen": 8, "in the drawer": 15, "on the shelf": 15, "under the bed": 5,
        "on the floor": 8, "in the box": 10, "on the chair": 7, "under the sofa": 4, "in the bathroom": 3}),
}

# ----------------------------------------------------------------------------------------- people
def _people(names: list[str], gender: str, favourite_weight: float) -> Dist[Person]:
    rest = (1.0 - favourite_weight) / (len(names) - 1)
    return Dist([(Person(n, gender), favourite_weight if i == 0 else rest) for i, n in enumerate(names)])


#: The girl and the boy of a story. Mia and Tom, the course's running characters, are the most likely.
GIRLS: Dist[Person] = _people(
    ["Mia", "Anna", "Lily", "Emma", "Sara", "Zoe", "Lucy", "Nora", "Ella", "Ruby", "Maya", "Alice",
     "Julia", "Hana", "Rosa", "Ivy"], "f", 0.25)
BOYS: Dist[Person] = _people(
    ["Tom", "Ben", "Sam", "Leo", "Max", "Jack", "Noah", "Omar", "Finn", "Luca", "Hugo", "Theo", "Kai",
     "Adam", "Eli", "Ravi"], "m", 0.25)

# ---------------------------------------------------------------------------------------- animals
_CAT_ACTS = _acts("purrs", "meows", "sleeps", ("licks its paw", "lick their paws"), "plays with a string",
                  ("washes its face", "wash their faces"), "yawns")
_DOG_ACTS = _acts("barks", ("wags its tail", "wag their tails"), "digs a hole", "chases a ball", "sleeps",
                  "sniffs the air")

#: The story's single animal (always singular). The cat is by far the most common.
PETS: Dist[AnimalKind] = Dist([
    (AnimalKind(N("cat", "chat", "m"), "jump", _CAT_ACTS, "cat"), 45),
    (AnimalKind(N("dog", "chien", "m"), "run", _DOG_ACTS, "dog"), 15),
    (AnimalKind(N("rabbit", "lapin", "m"), "hop",
                _acts(("twitches its nose", "twitch their noses"), "eats a carrot", "hops around", "sleeps"),
                "small"), 5),
    (AnimalKind(N("puppy", "chiot", "m", en_plural="puppies"), "run",
                _acts("yaps", ("wags its tail", "wag their tails"), "chews a shoe", "plays"), "dog"), 5),
    (AnimalKind(N("kitten", "chaton", "m"), "jump",
                _acts("meows", "plays with a string", "purrs", ("chases its tail", "chase their tails")), "cat"), 5),
    (AnimalKind(N("hamster", "hamster", "m"), "crawl",
                _acts(("runs in its wheel", "run in their wheels"), "eats a seed", "sleeps",
                      ("fills its cheeks", "fill their cheeks")), "small"), 4),
    (AnimalKind(N("parrot", "perroquet", "m"), "fly",
                _acts("talks", "says hello", "sings", "eats a seed", ("flaps its wings", "flap their wings")),
                "bird"), 4),
    (AnimalKind(N("turtle", "tortue", "f"), "crawl",
                _acts("sleeps", "eats a leaf", ("hides in its shell", "hide in their shells")), "small"), 4),
    (AnimalKind(N("goat", "chèvre", "f"), "run", _acts("eats grass", "bleats", "jumps around"), "farm"), 3),
    (AnimalKind(N("pony", "poney", "m", en_plural="ponies"), "run",
                _acts("neighs", "eats hay", ("shakes its mane", "shake their manes"), "trots around"), "farm"), 3),
    (AnimalKind(N("mouse", "souris", "f", en_plural="mice", fr_plural="souris"), "crawl",
                _acts("squeaks", "eats some cheese", "runs around", "sleeps"), "small"), 3),
    (AnimalKind(N("owl", "hibou", "m", fr_plural="hiboux"), "fly",
                _acts("hoots", "sleeps", ("turns its head", "turn their heads"), "looks around"), "bird"), 4),
])

#: The story's group of animals (always plural: "The birds are in the tree."). No kind of animal is both
#: a pet and a group, so "the cat" and "the cats" never meet in one story.
GROUPS: Dist[AnimalKind] = Dist([
    (AnimalKind(N("bird", "oiseau", "m", fr_plural="oiseaux"), "fly",
                _acts("sings", "builds a nest", ("flaps its wings", "flap their wings"), "eats seeds"), "bird"), 20),
    (AnimalKind(N("duck", "canard", "m"), "waddle", _acts("quacks", "swims", "splashes", "eats bread"), "water"), 12),
    (AnimalKind(N("hen", "poule", "f"), "waddle", _acts("clucks", "lays eggs", "pecks at the ground"), "farm"), 8),
    (AnimalKind(N("frog", "grenouille", "f"), "hop", _acts("croaks", "jumps", "catches flies"), "water"), 8),
    (AnimalKind(N("bee", "abeille", "f"), "fly", _acts("buzzes", "makes honey", "visits the flowers"), "insect"), 8),
    (AnimalKind(N("goose", "oie", "f", en_plural="geese"), "waddle", _acts("honks", "swims", "eats grass"),
                "water"), 6),
    (AnimalKind(N("ant", "fourmi", "f"), "crawl", _acts("carries crumbs", "marches in a line", "works hard"),
                "insect"), 6),
    (AnimalKind(N("cow", "vache", "f"), "run", _acts("moos", "eats grass", ("swishes its tail", "swish their tails")),
                "farm"), 8),
    (AnimalKind(N("pig", "cochon", "m"), "run", _acts("oinks", "rolls in the mud", "eats apples"), "farm"), 8),
    (AnimalKind(N("squirrel", "écureuil", "m"), "jump", _acts("collects nuts", "climbs around", "eats a nut"),
                "bird"), 8),
    (AnimalKind(N("butterfly", "papillon", "m", en_plural="butterflies"), "fly",
                _acts("flutters around", "lands on the flowers"), "insect"), 8),
])

#: How each kind of walker moves to a place, by the place's preposition: (singular, plural) phrases.
GAITS: dict[str, dict[str, tuple[str, ...]]] = {
    "walk": {"in": ("walks into", "runs into", "goes into"), "at": ("goes to", "walks to", "runs to"),
             "on": ("sits down on", "climbs onto"), "under": ("hides under", "crawls under")},
    "jump": {"on": ("jumps onto", "climbs onto"), "in": ("jumps into", "runs into"),
             "under": ("hides under", "creeps under"), "at": ("runs to",)},
    "run": {"on": ("jumps onto", "climbs onto"), "in": ("runs into", "walks into"),
            "under": ("crawls under", "lies down under"), "at": ("runs to",)},
    "hop": {"on": ("hops onto",), "in": ("hops into",), "under": ("hops under",), "at": ("hops to",)},
    "fly": {"on": ("flies onto", "lands on"), "in": ("flies into",), "under": ("flies under",), "at": ("flies to",)},
    "crawl": {"on": ("crawls onto", "climbs onto"), "in": ("crawls into",), "under": ("crawls under",),
              "at": ("crawls to",)},
    "waddle": {"on": ("hops onto",), "in": ("waddles into", "walks into"), "under": ("waddles under",),
               "at": ("waddles to",)},
}

# ---------------------------------------------------------------------------------------- objects
COLORS: Dist[Adjective] = Dist([
    (A("red", "rouge", "rouge"), 25), (A("blue", "bleu"), 10), (A("green", "vert"), 9),
    (A("yellow", "jaune", "jaune"), 9), (A("pink", "rose", "rose"), 8), (A("purple", "violet", "violette"), 8),
    (A("orange", "orange", "orange", fr_m_plural="orange", fr_f_plural="orange"), 8),
    (A("black", "noir"), 8), (A("white", "blanc", "blanche"), 8),
    (A("brown", "marron", "marron", fr_m_plural="marron", fr_f_plural="marron"), 7),
])

_TOY_USES = ("plays with", "looks at")
#: Toys: every toy in a story has a colour ("the red ball").
TOYS: Dist[ObjectKind] = Dist([
    (ObjectKind(N("ball", "balle", "f"), ("kicks", "throws", "bounces")), 25),
    (ObjectKind(N("kite", "cerf-volant", "m", fr_plural="cerfs-volants"), ("flies",)), 6),
    (ObjectKind(N("doll", "poupée", "f"), ("hugs", "dresses")), 6),
    (ObjectKind(N("car", "voiture", "f"), ("pushes", "races")), 6),
    (ObjectKind(N("boat", "bateau", "m", fr_plural="bateaux"), ("sails", "pushes")), 5),
    (ObjectKind(N("drum", "tambour", "m"), ("plays", "bangs")), 5),
    (ObjectKind(N("book", "livre", "m"), ("reads", "opens")), 6),
    (ObjectKind(N("balloon", "ballon", "m"), ("holds", "waves")), 5),
    (ObjectKind(N("robot", "robot", "m"), ("builds", "fixes")), 5),
    (ObjectKind(N("train", "train", "m"), ("pushes", "fixes")), 5),
    (ObjectKind(N("truck", "camion", "m"), ("pushes", "loads")), 5),
    (ObjectKind(N("bike", "vélo", "m"), ("rides", "fixes")), 5),
    (ObjectKind(N("puzzle", "puzzle", "m"), ("solves",)), 5),
    (ObjectKind(N("teddy bear", "nounours", "m", fr_plural="nounours"), ("hugs",)), 6),
    (ObjectKind(N("top", "toupie", "f"), ("spins",)), 5),
])

_THING_USES = ("cleans", "looks at")
#: Household things ("the blue cup", "the old key", or just "the cup").
THINGS: Dist[ObjectKind] = Dist([
    (ObjectKind(N("cup", "tasse", "f"), ("drinks from", "fills", "washes")), 20),
    (ObjectKind(N("plate", "assiette", "f"), ("washes", "dries")), 5),
    (ObjectKind(N("spoon", "cuillère", "f"), ("washes", "holds")), 5),
    (ObjectKind(N("bowl", "bol", "m"), ("fills", "washes")), 5),
    (ObjectKind(N("lamp", "lampe", "f"), ("fixes", "carries")), 5),
    (ObjectKind(N("key", "clé", "f"), ("holds", "uses")), 6),
    (ObjectKind(N("bag", "sac", "m"), ("opens", "carries", "packs")), 5),
    (ObjectKind(N("hat", "chapeau", "m", fr_plural="chapeaux"), ("wears",)), 5),
    (ObjectKind(N("coat", "manteau", "m", fr_plural="manteaux"), ("wears",)), 5),
    (ObjectKind(N("umbrella", "parapluie", "m"), ("opens", "carries")), 5),
    (ObjectKind(N("clock", "horloge", "f"), ("winds", "fixes")), 4),
    (ObjectKind(N("bottle", "bouteille", "f"), ("opens", "fills")), 4),
    (ObjectKind(N("pencil", "crayon", "m"), ("sharpens", "uses")), 4),
    (ObjectKind(N("watch", "montre", "f", en_plural="watches"), ("wears", "winds")), 4),
    (ObjectKind(N("brush", "brosse", "f", en_plural="brushes"), ("uses", "washes")), 4),
    (ObjectKind(N("blanket", "couverture", "f"), ("folds", "shakes")), 4),
    (ObjectKind(N("jar", "pot", "m"), ("opens", "fills")), 4),
    (ObjectKind(N("scarf", "écharpe", "f", en_plural="scarves"), ("wears", "folds")), 4),
    (ObjectKind(N("sock", "chaussette", "f"), ("washes", "finds")), 3),
])

#: Adjective in front of a household thing; ``None`` means no adjective ("the cup").
THING_ADJECTIVES: Dist[Adjective | None] = Dist([
    (None, 20), (A("blue", "bleu"), 12), (A("big", "grand", before=True), 10),
    (A("small", "petit", before=True), 10), (A("old", "vieux", "vieille", True, "vieux", "vieilles"), 10),
    (A("new", "nouveau", "nouvelle", True, "nouveaux", "nouvelles"), 8), (A("little", "petit", before=True), 6),
    (A("shiny", "brillant"), 6), (A("heavy", "lourd"), 5), (A("green", "vert"), 5),
    (A("white", "blanc", "blanche"), 4), (A("soft", "doux", "douce", False, "doux", "douces"), 4),
])

# ---------------------------------------------------------------- things to have an opinion about
#: Food, weather and places people like or dislike. ``(noun, plural?)``: "the cake", "the apples".
FOODS: Dist[tuple[Noun, bool]] = Dist.uniform([
    (N("cake", "gâteau", "m", fr_plural="gâteaux"), False), (N("apple", "pomme", "f"), True),
    (N("soup", "soupe", "f"), False), (N("cookie", "biscuit", "m"), True), (N("carrot", "carotte", "f"), True),
    (N("bread", "pain", "m"), False), (N("pizza", "pizza", "f"), False), (N("milk", "lait", "m"), False),
    (N("cheese", "fromage", "m"), False), (N("banana", "banane", "f"), True),
    (N("pancake", "crêpe", "f"), True), (N("orange", "orange", "f"), True),
])
WEATHER_THINGS: Dist[tuple[Noun, bool]] = Dist.uniform([
    (N("rain", "pluie", "f"), False), (N("snow", "neige", "f"), False), (N("sun", "soleil", "m"), False),
    (N("wind", "vent", "m"), False), (N("fog", "brouillard", "m"), False), (N("storm", "orage", "m"), False),
    (N("dark", "obscurité", "f"), False),
])
LIKED_PLACES: Dist[tuple[Noun, bool]] = Dist.uniform([
    (_PLACE_NOUNS[k], False) for k in ("park", "beach", "farm", "library", "school", "garden", "kitchen", "shop")
])

#: Feelings ("Mia is happy.", "The cats feel sleepy.").
EMOTIONS: Dist[Adjective] = Dist.uniform([
    A("happy", "heureux", "heureuse", False, "heureux", "heureuses"), A("sad", "triste", "triste"),
    A("tired", "fatigué"), A("hungry", "affamé"), A("sleepy", "endormi"), A("angry", "fâché"),
    A("scared", "effrayé"), A("excited", "excité"), A("bored", "ennuyé"), A("calm", "calme", "calme"),
    A("proud", "fier", "fière"), A("surprised", "surpris", "surprise"), A("shy", "timide", "timide"),
    A("grumpy", "grognon", "grognonne"), A("thirsty", "assoiffé"), A("cold", "froid"),
    A("curious", "curieux", "curieuse", False, "curieux", "curieuses"), A("lonely", "seul"),
    A("busy", "occupé"), A("cheerful", "joyeux", "joyeuse", False, "joyeux", "joyeuses"),
])

#: Weather: how it is named in "It is a sunny morning." and said when it changes.
WEATHERS: dict[str, dict[str, str]] = {
    "sunny": {"change": "The sun comes out.", "fr": "ensoleillé"},
    "rainy": {"change": "It starts to rain.", "fr": "pluvieux"},
    "windy": {"change": "The wind starts to blow.", "fr": "venteux"},
    "snowy": {"change": "It starts to snow.", "fr": "neigeux"},
    "cloudy": {"change": "Clouds fill the sky.", "fr": "nuageux"},
    "foggy": {"change": "Fog rolls in.", "fr": "brumeux"},
}
WEATHER_DIST: Dist[str] = Dist({"sunny": 35, "rainy": 20, "windy": 12, "snowy": 10, "cloudy": 15, "foggy": 8})

#: Parts of the day, in order, and how the story moves on to each one.
TIMES: dict[str, dict[str, str]] = {
    "morning": {"next": "afternoon", "fr": "matin"},
    "afternoon": {"next": "evening", "fr": "après-midi", "arrive": "Later, it is afternoon."},
    "evening": {"next": "night", "fr": "soir", "arrive": "Now it is evening."},
    "night": {"next": "night", "fr": "nuit", "arrive": "Soon it is night."},
}
OPENING_TIMES: Dist[str] = Dist({"morning": 50, "afternoon": 30, "evening": 20})

# ---------------------------------------------------------------------------- people's activities
#: Things a child does on their own; ``{pos}`` becomes her/his.
PERSON_ACTIONS: Dist[str] = Dist.uniform([
    "reads a book", "sings a song", "draws a picture", "eats an apple", "drinks some milk",
    "washes {pos} hands", "brushes {pos} teeth", "takes a nap", "plays a game", "writes a letter",
    "counts to ten", "looks out of the window", "makes a sandwich", "builds a tower", "cleans {pos} room",
    "laughs", "smiles", "waves", "dances", "claps {pos} hands", "yawns", "bakes a cake",
    "waters the flowers", "calls {pos} grandma", "hums a tune", "ties {pos} shoes",
])
#: What a child does to an animal ("Mia feeds the birds.").
INTERACTIONS: Dist[str] = Dist.uniform([
    "pets", "feeds", "plays with", "looks at", "talks to", "waves at", "sings to", "brushes", "calls",
    "watches", "follows", "draws",
])
ADVERBS: Dist[str] = Dist({"": 60, "slowly": 8, "quickly": 8, "quietly": 6, "happily": 6, "suddenly": 6,
                           "carefully": 6})

OPINIONS = ("love", "like", "dislike", "hate")
#: How a child says an opinion, in the narration and in their own words.
OPINION_VERBS = {"love": "loves", "like": "likes", "dislike": "does not like", "hate": "hates"}
OPINION_ANSWERS = {"love": "Yes, I love", "like": "Yes, I like", "dislike": "No, I do not like", "hate": "No, I hate"}
#: A short review a child writes about a toy or thing, by opinion. ``{noun}`` is the object's noun.
REVIEW_PHRASES: dict[str, Dist[str]] = {
    "love": Dist({"I love this product!": 50, "It is the best {noun} ever!": 25, "Five stars. I love it!": 25}),
    "like": Dist({"It is a good {noun}.": 50, "I like it. Four stars.": 50}),
    "dislike": Dist({"It is not very good.": 50, "I do not like this product.": 50}),
    "hate": Dist({"I hate this product!": 50, "It is the worst {noun} ever!": 50}),
}


# import-time sanity checks of the tables above (cheap, and they catch typos early)
for _kind in list(PETS.items) + list(GROUPS.items):
    assert _kind.habitat in HABITATS and _kind.gait in GAITS, _kind
for _gait in GAITS.values():
    assert set(_gait) == {"on", "in", "under", "at"}

# ------------------------------------------------------- words only the English -> French pairs use
#: Adjectives the stories never use, added for the English -> French pairs (``nbutils.world.french``):
#: grey, and more of the French adjectives that go before the noun ("un bel oiseau", "une bonne soupe",
#: "le jeune chat", "une jolie tasse"). Appending them leaves the story corpus unchanged.
MORE_ADJECTIVES: tuple[Adjective, ...] = (
    A("grey", "gris", "grise", False, "gris", "grises"),
    A("young", "jeune", "jeune", True),
    A("beautiful", "beau", "belle", True, "beaux", "belles"),
    A("good", "bon", "bonne", True),
    A("pretty", "joli", "jolie", True),
)
__all__ += ["MORE_ADJECTIVES"]
