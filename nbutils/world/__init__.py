"""The toy world: a seeded story generator that knows its own ground truth.

The course cannot download text, and downloaded text would not tell us what a model *should* have
learned. So the course writes its own. The toy world has two children (a girl such as Mia and a boy
such as Tom), a pet (usually the cat), a group of animals (the birds, the ducks, ...), a toy (the red
ball, the blue kite, ...) and a household thing (the cup, the old key, ...), and places (the roof, the
garden, the kitchen, the box, under the table, at the park, ...). Each story starts with the weather and
the time of day, then tells what happens in simple English: things move ("The cat jumps onto the roof.",
"Mia puts the red ball in the box."), children take, give and use things, say what they love or do not
like, write a short review ("I love this product!"), ask each other questions. Later sentences depend on
earlier ones: "she"/"it"/"they" refer to the previous subject, an answer to "Where is the ball?" always
agrees with the story so far, an object is found where it was put. Three stories of the default corpus'
kind (``generate_story(17)``, ``generate_story(18)``, ``generate_story(8)``)::

    It is a cloudy evening. The kitten jumps onto the bed. Ben puts the black teddy bear on the table. He
    takes the black teddy bear off the table and puts it under the sofa. Where is the black teddy bear?
    The black teddy bear is under the sofa. The sun comes out. Ben looks at the kitten.

    It is a windy morning. Zoe asks, "Where are the frogs?" Ben says, "The frogs are in the pond." Zoe
    writes a review of the shiny blanket: "I hate this product!" The dog slowly walks into the yard. Zoe
    asks, "Where is the dog?" Ben says, "The dog is in the yard."

    It is a foggy morning. Mia writes a review of the blue umbrella: "It is a good umbrella." She finds the
    blue umbrella and gives it to Tom. She goes into the garden. Where is the owl? The owl is in the tree.
    Tom puts the yellow robot on the floor.

What you can ask it:

- ``default_corpus()`` - about 2 MB of stories (seed 0), split 95/5 into ``train_text`` / ``val_text``
  by whole stories. ``generate_corpus(seed, n_stories=None, target_bytes=2_000_000)`` makes others.
- ``story.sentences`` and ``story.states``: ``states[i]`` is the world right after sentence ``i``
  (who is where, who holds what, who likes what): ``story.states[3].location("the cat")`` ->
  ``"on the roof"``. Anything the story has not said yet is ``None``.
- ``true_next_word_distribution("The cat is on the")`` - the exact next-word probabilities for the
  start of a sentence, from the generator's weights; with ``state=story.states[i]`` the exact
  distribution given the story so far, for any prefix that continues it from a step boundary (not from
  the state right after a question: see ``WorldState.mid_step``). ``true_next_word_entropy`` gives its entropy.
- ``corpus.entropy_floor("val")`` - the entropy floor, below.

**The entropy floor.** Every random choice the generator makes (which kind of sentence, which child,
where the cat jumps, ...) has a known probability, and the generator adds up ``-log p`` of each choice it
makes. For a story this sum is ``-log P(story)``, *provided* the text can be written by only one sequence
of choices. If two sequences could write the same text, the text's probability would be the sum of both,
and the logged sum would only be an upper bound on ``-log P(text)``. The grammar rules that out (every
choice shows in the text, and different choices write different words), and ``score_story`` checks it by
finding every way the generator could have written a given story. Divided by the number of
characters (or words) of the validation text, it is the cross-entropy that the *true* process itself
gets on that text, which is, on average, the lowest loss any model can reach: the entropy rate of the
corpus. Compare a trained model's validation loss (in nats per character, or per token divided by
characters per token) with it: the gap is what the model has not learned. Two caveats: a model that
reads the text in fixed windows cuts stories in two, and the floor assumes it sees each story from its
first sentence, so a windowed model cannot quite reach it; and the floor is measured on one finite
sample, so it wobbles a little around the true entropy rate (about 1.5% for the 100 kB validation
text).
"""

from nbutils.world.corpus import (
    STORY_SEPARATOR, WORLD_VERSION, Corpus, EntropyFloor, Story, default_corpus, generate_corpus, generate_story,
    words,
)
from nbutils.world.state import SLOTS, Entity, WorldState
from nbutils.world.truth import (
    END_OF_STORY, SUPPORTED_FORMS, Entropy, StoryScore, next_word_distribution, score_story,
    true_next_word_distribution, true_next_word_entropy,
)
from nbutils.world.sentiment import (
    HARD_SENTIMENT_KINDS, SENTIMENT_KINDS, SENTIMENT_LABELS, Review, SentimentData, sentiment_dataset,
)
from nbutils.world.french import TRANSLATION_KINDS, Pair, TranslationData, translation_dataset

__all__ = [
    "generate_corpus", "default_corpus", "generate_story", "Corpus", "Story", "EntropyFloor", "WorldState",
    "Entity", "SLOTS", "true_next_word_distribution", "true_next_word_entropy", "next_word_distribution",
    "score_story", "Entropy", "StoryScore", "END_OF_STORY", "SUPPORTED_FORMS", "STORY_SEPARATOR",
    "WORLD_VERSION", "words",
    "sentiment_dataset", "SentimentData", "Review", "SENTIMENT_KINDS", "HARD_SENTIMENT_KINDS", "SENTIMENT_LABELS",
    "translation_dataset", "TranslationData", "Pair", "TRANSLATION_KINDS",
]
