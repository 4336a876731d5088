"""Translation fine-tuning (nbutils.tasks.translation, translation_errors): the format, the loss mask, padding,
training, greedy translation, the error analysis; the recipe (nbutils.recipes.translation): the command and the
stored results; and the exercise checks."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from nbutils.checks.core import CheckFailed
from nbutils.checks.translation import check_mask_prompt, check_ngram_precision_recall, ngram_precision_recall
from nbutils.model import GPT, GPTConfig
from nbutils.tokenizers.bpe import BPETokenizer
from nbutils.data import IGNORE_INDEX, collate
from nbutils.recipes.translation import (
    DEFAULT_OUT, DEFAULT_RESULTS, evaluate_translations, load_translation_model, load_translation_results, main,
)
from nbutils.tasks.translation import (
    END_MARKER, build_example, encode_pair, end_marker_id, finetune_translation, format_answer, format_prompt,
    mask_prompt, translate, translate_many,
)
from nbutils.world import translation_dataset
from nbutils.world.french import Pair

WORLD_MODEL = DEFAULT_OUT.parent / "world_model"  # the base model the command fine-tunes


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and much faster on a CPU that other programs keep busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return translation_dataset(seed=0)


@pytest.fixture(scope="module")
def tokenizer(data):
    """A small BPE tokenizer trained on a few hundred pairs in the prompt format (fast to train)."""
    text = "\n".join(format_prompt(p.en) + format_answer(p.fr) for p in data.train[:400])
    return BPETokenizer.train(text, vocab_size=320)


def tiny_gpt(vocab_size: int, seed: int = 0, context_length: int = 96) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, context_length=context_length, n_layer=1, n_head=2, n_embd=32))


# ------------------------------------------------------------------------- the format
def test_format():
    assert format_prompt("The cat is on the roof.") == "English: The cat is on the roof.\nFrench:"
    assert format_answer("Le chat est sur le toit.") == " Le chat est sur le toit.\n"
    with pytest.raises(ValueError, match="newline"):
        format_prompt("two\nlines")
    with pytest.raises(ValueError, match="empty"):
        format_answer("  ")
    with pytest.raises(TypeError, match="must be a str"):
        format_prompt(None)


def test_prompt_and_answer_tokens_are_the_tokens_of_the_whole_text(data, tokenizer):
    for pair in data.train[:200] + data.test[:200]:
        prompt, answer = encode_pair(pair.en, pair.fr, tokenizer)
        assert prompt + answer == tokenizer.encode(format_prompt(pair.en) + format_answer(pair.fr))
        assert answer[-1] == end_marker_id(tokenizer)
        assert end_marker_id(tokenizer) not in answer[:-1]


# ------------------------------------------------------------------------- the loss mask
def test_mask_prompt():
    targets = torch.arange(10, 20)
    masked = mask_prompt(targets, 4)
    assert masked.tolist() == [-100, -100, -100, 13, 14, 15, 16, 17, 18, 19]
    assert targets.tolist() == list(range(10, 20))  # the input is not changed
    assert torch.equal(mask_prompt(targets, 1), targets)
    batch = mask_prompt(torch.arange(12).view(2, 6), 3)
    assert batch.tolist() == [[-100, -100, 2, 3, 4, 5], [-100, -100, 8, 9, 10, 11]]
    with pytest.raises(ValueError, match="prompt_length"):
        mask_prompt(targets, 0)
    with pytest.raises(ValueError, match="prompt_length"):
        mask_prompt(targets, 11)
    with pytest.raises(TypeError):
        mask_prompt([1, 2, 3], 1)


def test_build_example_masks_exactly_the_prompt(data, tokenizer):
    pair = data.train[0]
    prompt, answer = encode_pair(pair.en, pair.fr, tokenizer)
    ids, targets = build_example(pair.en, pair.fr, tokenizer)
    full = prompt + answer
    assert ids.tolist() == full[:-1]
    assert targets.shape == ids.shape and ids.dtype == targets.dtype == torch.long
    assert targets.tolist() == [IGNORE_INDEX] * (len(prompt) - 1) + answer
    assert tokenizer.decode(targets[targets != IGNORE_INDEX].tolist()) == format_answer(pair.fr)


def test_masked_loss_is_the_cross_entropy_of_the_answer_tokens_only(data, tokenizer):
    model = tiny_gpt(tokenizer.vocab_size)
    pair = data.train[3]
    prompt, answer = encode_pair(pair.en, pair.fr, tokenizer)
    ids, targets = build_example(pair.en, pair.fr, tokenizer)
    logits, loss = model(ids[None], targets[None])
    # reference: the positions P-1 .. end predict the answer tokens
    reference = F.cross_entropy(logits[0, len(prompt) - 1:], torch.tensor(answer))
    assert torch.allclose(loss, reference, atol=1e-6)


def test_too_long_examples_are_refused(tokenizer):
    with pytest.raises(ValueError, match="at most 10"):
        build_example("The cat is on the roof.", "Le chat est sur le toit.", tokenizer, context_length=10)


# ------------------------------------------------------------------------- padding
def test_collate_pads_on_the_right():
    a = (torch.tensor([1, 2, 3]), torch.tensor([-100, 3, 4]))
    b = (torch.tensor([5]), torch.tensor([6]))
    x, y = collate([a, b], pad_id=0)
    assert x.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert y.tolist() == [[-100, 3, 4], [6, -100, -100]]
    with pytest.raises(ValueError, match="at least one"):
        collate([])
    with pytest.raises(ValueError, match="equally long"):
        collate([(torch.tensor([1, 2]), torch.tensor([1]))])


def test_padding_changes_neither_the_logits_nor_the_loss(data, tokenizer):
    model = tiny_gpt(tokenizer.vocab_size).eval()
    examples = [build_example(p.en, p.fr, tokenizer) for p in data.train[:4]]
    x, y = collate(examples, pad_id=7)
    logits, loss = model(x, y)
    total, count = 0.0, 0
    for row, (ids, targets) in enumerate(examples):
        alone, _ = model(ids[None])
        assert torch.allclose(logits[row, :len(ids)], alone[0], atol=1e-5)
        keep = targets != IGNORE_INDEX
        total += F.cross_entropy(alone[0][keep], targets[keep], reduction="sum").item()
        count += int(keep.sum())
    assert loss.item() == pytest.approx(total / count, rel=1e-5)


# ------------------------------------------------------------------------- training and translating
def test_finetuning_learns_a_few_pairs_by_heart(tokenizer):
    pairs = [Pair("The cat is on the roof.", "Le chat est sur le toit.", "location"),
             Pair("The ball is red.", "La balle est rouge.", "description"),
             Pair("Mia is at the park.", "Mia est au parc.", "location"),
             Pair("The birds are in the tree.", "Les oiseaux sont dans l'arbre.", "location")]
    model = tiny_gpt(tokenizer.vocab_size)
    history = finetune_translation(model, pairs, tokenizer, steps=60, lr=1e-2, batch_size=4, seed=0,
                                   val_pairs=pairs, eval_every=20)
    assert len(history.train_loss) == 60 and history.steps[-1] == 60
    assert history.val_steps == [0, 20, 40, 60]
    assert history.val_loss[-1] < 0.1 * history.val_loss[0]
    assert not model.training
    translations = translate_many(model, tokenizer, [p.en for p in pairs])
    assert translations == [p.fr for p in pairs]
    assert translate(model, tokenizer, pairs[0].en) == pairs[0].fr
    scores = evaluate_translations(model, tokenizer, pairs, n_examples=2)
    assert scores["all"] == {"n": 4, "exact_match": 100.0, "chrf": pytest.approx(100.0)}
    assert scores["unseen"] is None and len(scores["successes"]) == 2 and scores["errors"] == []
    assert set(scores["by_kind"]) == {"location", "description"}


def test_finetuning_is_deterministic(data, tokenizer):
    runs = []
    for _ in range(2):
        model = tiny_gpt(tokenizer.vocab_size)
        runs.append(finetune_translation(model, data.train[:40], tokenizer, steps=5, batch_size=8, seed=3).train_loss)
    assert runs[0] == runs[1]


def test_greedy_translation_matches_step_by_step_argmax(data, tokenizer):
    model = tiny_gpt(tokenizer.vocab_size, seed=1)
    sentences = [p.en for p in data.test[:6]]
    end = end_marker_id(tokenizer)
    got = translate_many(model, tokenizer, sentences, max_new_tokens=12, batch_size=2)
    for en, answer in zip(sentences, got):
        ids = tokenizer.encode(format_prompt(en))
        new = []
        for _ in range(12):  # the reference: one sequence, one argmax at a time
            next_id = int(model(torch.tensor([ids + new]))[0][0, -1].argmax())
            if next_id == end:
                break
            new.append(next_id)
        assert answer == tokenizer.decode(new).strip()
        assert END_MARKER not in answer


def test_translation_stops_at_the_context(tokenizer):
    model = tiny_gpt(tokenizer.vocab_size, context_length=24)
    answer = translate(model, tokenizer, "The cat is on the roof.", max_new_tokens=500)
    prompt_length = len(tokenizer.encode(format_prompt("The cat is on the roof.")))
    assert len(tokenizer.encode(answer)) <= 24 - prompt_length + 1
    with pytest.raises(TypeError, match="list of sentences"):
        translate_many(model, tokenizer, "The cat.")


# ------------------------------------------------------------------------- the command and the stored files
@pytest.mark.skipif(not (WORLD_MODEL / "checkpoint.json").is_file(), reason="the world model is not trained yet")
def test_quick_command(tmp_path, capsys):
    out, results = tmp_path / "model", tmp_path / "results.json"
    assert main(["--quick", "--out", str(out), "--results", str(results), "--device", "cpu"]) == 0
    report = json.loads(results.read_text(encoding="utf-8"))
    assert report["quick"] and report["settings"]["steps"] == 4
    for run in ("finetuned", "scratch"):
        assert set(report[run]["test"]) >= {"all", "seen", "unseen", "by_kind", "successes", "errors"}
        assert report[run]["test"]["all"]["n"] == 8
    model, tokenizer = load_translation_model(out, device="cpu")
    assert model.config.context_length == 256 and tokenizer.vocab_size == 1024
    assert report["base_model"]["folder"] == "world_model"
    assert not (out / "training_state.safetensors").exists()  # no optimiser state
    assert "wall time" in capsys.readouterr().out


def test_quick_command_refuses_to_overwrite_the_shipped_files():
    with pytest.raises(SystemExit):
        main(["--quick"])


@pytest.mark.skipif(not DEFAULT_RESULTS.is_file(), reason="the translation results are not computed yet")
def test_stored_results_and_model():
    report = load_translation_results()
    assert not report["quick"]
    for run in ("finetuned", "scratch"):
        test = report[run]["test"]
        assert test["all"]["n"] == report["data"]["test"] == test["seen"]["n"] + test["unseen"]["n"]
        assert 0 <= test["all"]["exact_match"] <= 100 and 0 <= test["all"]["chrf"] <= 100
    assert report["tokens"]["example_tokens_max"] <= 257
    assert report["base_model"]["folder"] == "world_model"
    size = sum(f.stat().st_size for f in DEFAULT_OUT.iterdir())
    assert size <= 4.5e6
    model, tokenizer = load_translation_model(device="cpu")
    assert translate(model, tokenizer, "The cat is on the roof.") == "Le chat est sur le toit."
    # today's decoder (nbutils.generate.greedy_until) writes what the stored run's decoder wrote
    test = translation_dataset(seed=0).test[:120]
    assert translate_many(model, tokenizer, [p.en for p in test]) == report["finetuned"]["test"]["translations"][:120]


# ------------------------------------------------------------------------- the exercise checks
def test_checks_accept_the_reference_solutions(capsys):
    check_mask_prompt(mask_prompt)
    check_ngram_precision_recall(ngram_precision_recall)

    def mask_with_where(targets, prompt_length):
        positions = torch.arange(targets.shape[-1])
        return torch.where(positions < prompt_length - 1, torch.full_like(targets, -100), targets)

    check_mask_prompt(mask_with_where)
    out = capsys.readouterr().out
    assert "✓ mask_prompt" in out and "✓ ngram_precision_recall" in out


@pytest.mark.parametrize("wrong, hint", [
    (lambda t, p: t.clone(), "nothing was masked"),
    (lambda t, p: torch.cat([t[..., :p - 1], torch.full_like(t[..., p - 1:], -100)], -1), "masked the answer"),
    (lambda t, p: mask_prompt(t, p + 1) if p < t.shape[-1] else torch.full_like(t, -100), "first answer token"),
    (lambda t, p: mask_prompt(t, p - 1) if p > 1 else t.clone(), "still a prompt token"),
    (lambda t, p: torch.where(mask_prompt(t, p) == -100, torch.zeros_like(t), t), "instead of -100"),
])
def test_mask_check_explains_typical_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_mask_prompt(wrong)


def test_mask_check_notices_changes_in_place():
    def in_place(targets, prompt_length):
        targets[..., :prompt_length - 1] = -100
        return targets

    with pytest.raises(CheckFailed, match="clone"):
        check_mask_prompt(in_place)


@pytest.mark.parametrize("wrong, hint", [
    (lambda h, r, n: ngram_precision_recall(h, r, n)[::-1], "swapped"),
    (lambda h, r, n: tuple(100 * v for v in ngram_precision_recall(h, r, n)), "percentages"),
    (lambda h, r, n: ngram_precision_recall(h.replace(" ", "_"), r.replace(" ", "_"), n), "remove the spaces"),
])
def test_overlap_check_explains_typical_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_ngram_precision_recall(wrong)


def test_overlap_check_notices_unclipped_counts():
    def unclipped(hypothesis, reference, n):
        hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
        h = [hyp[i:i + n] for i in range(len(hyp) - n + 1)]
        r = [ref[i:i + n] for i in range(len(ref) - n + 1)]
        return sum(g in r for g in h) / len(h), sum(g in h for g in r) / len(r)

    with pytest.raises(CheckFailed, match="clip the counts"):
        check_ngram_precision_recall(unclipped)


# ------------------------------------------------------------------------- reading errors, word order
@pytest.fixture(scope="module")
def vocabulary(data):
    from nbutils.tasks.translation_errors import french_words
    return {w for p in data.train for w in french_words(p.fr)}


def test_french_words():
    from nbutils.tasks.translation_errors import french_words
    assert french_words("L'abeille n'aime pas la pluie.") == ["L'", "abeille", "n'", "aime", "pas", "la", "pluie"]
    assert french_words("Le cerf-volant de Mia.") == ["Le", "cerf-volant", "de", "Mia"]


@pytest.mark.parametrize("hypothesis, reference, expected", [
    ("La montre violetttte est sur la chaise.", "La montre violette est sur la chaise.", "misspelt word"),
    ("Leo aime bien la brosse.", "Leo aime bien la brosse douce.", "word dropped"),
    ("Mia a une belle belle poule.", "Mia a une belle poule.", "word added"),
    # a noun swap across an elision is one-for-one once "l'" is a word: not "dropped or added"
    ("Tom déteste la vache calme.", "Tom déteste l'abeille calme.", "wrong noun"),
    ("Les papillons orange du papillon curieux sont petits.", "Les camions orange du papillon curieux sont petits.",
     "wrong noun"),
    ("Le manteau est bleu.", "Le manteau est vert.", "wrong adjective"),
    ("Les chiens sautent sur le tapis.", "Les chiens grimpent sur le tapis.", "other wrong word"),
    # a singular turned plural is an error of meaning, not three agreement errors
    ("Mia n'aime pas les grandes clés.", "Mia n'aime pas la grande clé.", "wrong number"),
    ("La hamster marron n'aime pas les grandes clés.", "Le hamster marron n'aime pas la grande clé.", "wrong number"),
    ("Le canard se cachent sous l'arbre.", "Les canards se cachent sous l'arbre.", "wrong number"),
    ("Les manteaux sont lourdes.", "Les manteaux sont lourds.", "wrong agreement"),
    ("La chien est dans le jardin.", "Le chien est dans le jardin.", "wrong agreement"),
    ("Les chiens est dans le jardin.", "Les chiens sont dans le jardin.", "wrong agreement"),
    ("Mia met les nouveau montres sur la chaise.", "Mia met les nouvelles montres sur la chaise.", "wrong agreement"),
    ("Le beaux lapin aime le bol.", "Le beau lapin aime le bol.", "wrong agreement"),
    ("Le chien de Nora est calme.", "Le chien de Mia est calme.", "wrong name"),
])
def test_error_type(vocabulary, hypothesis, reference, expected):
    from nbutils.tasks.translation_errors import ERROR_TYPES, error_type
    assert expected in ERROR_TYPES
    assert error_type(hypothesis, reference, vocabulary) == expected


def test_error_type_details(vocabulary):
    from nbutils.tasks.translation_errors import error_kinds, error_type
    assert error_type("Le chat est sur le toit.", "Le chat est sur le toit.", vocabulary) is None
    assert error_type("Le chat est sur le toit", "Le chat est sur le toit.") is None   # the full stop only
    # without a vocabulary nothing is called misspelt
    assert error_type("La montre violetttte est sur la chaise.", "La montre violette est sur la chaise.") \
        == "wrong adjective"
    assert sorted(error_kinds("Le bon papillon du bon papillon est rose.", "La lampe du bon papillon est rose.",
                              vocabulary)) == ["word added", "wrong agreement", "wrong noun"]


@pytest.mark.parametrize("en, fr, flips", [
    ("The cat is on the roof.", "Le chat est sur le toit.", 0),
    ("Tom likes the blue bowl.", "Tom aime bien le bol bleu.", 1),
    ("Ruby's happy rabbits are under the bed.", "Les lapins heureux de Ruby sont sous le lit.", 3),
    ("The curious butterfly's orange trucks are small.", "Les camions orange du papillon curieux sont petits.", 6),
    ("Rosa does not like the calm squirrel.", "Rosa n'aime pas l'écureuil calme.", 1),   # "l'écureuil" is found
    ("Tom puts the teddy bear in the box.", "Tom met le nounours dans la boîte.", 0),
])
def test_reordering(en, fr, flips):
    from nbutils.tasks.translation_errors import aligned_words, reordering
    assert reordering(en, fr) == flips
    words = [w for w, _, _ in aligned_words(en, fr)]
    assert len(words) == len(set(words))


def test_reordering_whole_test_split(data):
    from nbutils.tasks.translation_errors import aligned_words, reordering
    flips = [reordering(p.en, p.fr) for p in data.test]
    assert min(flips) == 0 and max(flips) <= 10
    # every noun phrase of a translation is found: at least one aligned word per sentence
    assert all(aligned_words(p.en, p.fr) for p in data.test)


def test_merge_seeds(tmp_path):
    from nbutils.recipes.translation import merge_seeds, seed_translations
    base = json.loads(DEFAULT_RESULTS.read_text(encoding="utf-8"))
    base.pop("seeds", None)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(base), encoding="utf-8")
    other = json.loads(json.dumps(base))
    other["settings"]["seed"] = 7
    other["finetuned"]["test"]["translations"][0] = "Faux."
    (tmp_path / "seed7.json").write_text(json.dumps(other), encoding="utf-8")
    merged = merge_seeds(results, [tmp_path / "seed7.json"])
    assert merged["seeds"]["seeds"] == [0, 7]
    references = [p.fr for p in translation_dataset(seed=0).test]
    assert seed_translations(merged["seeds"]["finetuned"][0], references) == base["finetuned"]["test"]["translations"]
    assert seed_translations(merged["seeds"]["finetuned"][1], references)[0] == "Faux."
    assert merged["finetuned"] == base["finetuned"]   # the stored run is kept
    other["settings"]["lr"] = 1.0
    (tmp_path / "bad.json").write_text(json.dumps(other), encoding="utf-8")
    with pytest.raises(ValueError, match="other settings"):
        merge_seeds(results, [tmp_path / "bad.json"])


def test_check_mask_prompt_not_written_yet(capsys):
    """An exercise not written yet (the student copy) says so and does not stop Run All."""
    def mask_prompt_todo(targets, prompt_length):
        raise NotImplementedError

    check_mask_prompt(mask_prompt_todo)
    assert "not written yet" in capsys.readouterr().out


def test_the_old_module_paths_re_export_the_new_homes():
    """nbutils.translation, nbutils.finetune and nbutils.experiments.sentiment_curves are deprecated shims."""
    import nbutils.experiments.sentiment_curves as old_curves
    import nbutils.finetune as old_finetune
    import nbutils.translation as old_translation
    from nbutils import baselines, data, metrics
    from nbutils.recipes import sentiment_curves, translation as recipe
    from nbutils.tasks import classification, translation, translation_errors

    assert old_translation.translate is translation.translate and old_translation.main is recipe.main
    assert old_translation.collate is data.collate and old_translation.error_kinds is translation_errors.error_kinds
    assert old_finetune.GPTClassifier is classification.GPTClassifier and old_finetune.pad_batch is data.pad_batch
    assert old_finetune.BowClassifier is baselines.BowClassifier and old_finetune.accuracy is metrics.accuracy
    assert old_curves.load_curves is sentiment_curves.load_curves and old_curves.main is sentiment_curves.main
    assert not hasattr(old_finetune, "hidden_states")  # GPT.hidden_states is the one path
