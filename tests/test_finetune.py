"""Tests of nbutils.tasks.classification, nbutils.baselines, the classification metrics, the classification checks
and the learning-curve recipe.

References: the GPT's own forward pass and ``residual_stream`` (for the hidden states), each review run
alone (for padding), Python loops and ``collections.Counter`` (bag of words, confusion matrix), Newton's
method in NumPy (for logistic regression), torch's autograd (for frozen parameters).
"""

from __future__ import annotations

import random
from collections import Counter

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn as nn

matplotlib.use("Agg")

from nbutils.checks.classification import (  # noqa: E402
    accuracy_from_logits, check_accuracy, check_last_token_logits, last_token_logits,
)
from nbutils.checks.core import CheckFailed  # noqa: E402
from nbutils.baselines import BagOfWords, BowClassifier, LogisticRegression  # noqa: E402
from nbutils.data import pad_batch  # noqa: E402
from nbutils.metrics import accuracy, confusion_matrix  # noqa: E402
from nbutils.tasks.classification import (  # noqa: E402
    GPTClassifier, encode_texts, last_token_features, last_token_states, predict, predict_proba, train_classifier,
)
from nbutils.model import GPT, GPTConfig  # noqa: E402
from nbutils.tokenizers import CharTokenizer  # noqa: E402


def tiny_gpt(seed: int = 0, vocab_size: int = 12, context_length: int = 16, n_embd: int = 16) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, context_length=context_length, n_layer=2, n_head=2,
                         n_embd=n_embd)).eval()


# ------------------------------------------------------------------------------------------ hidden states
def test_hidden_states_match_the_gpt_forward_and_residual_stream():
    gpt = tiny_gpt()
    idx = torch.randint(0, 12, (3, 9), generator=torch.Generator().manual_seed(1))
    hidden = gpt.hidden_states(idx)
    assert hidden.shape == (3, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(hidden, gpt.ln_f(gpt.residual_stream(idx)[-1]))
        torch.testing.assert_close(gpt.lm_head(hidden), gpt(idx)[0])


def test_hidden_states_keep_gradients():
    gpt = tiny_gpt()
    hidden = gpt.hidden_states(torch.tensor([[1, 2, 3]]))
    assert hidden.requires_grad
    hidden.sum().backward()
    assert gpt.wte.weight.grad is not None and gpt.blocks[0].attn.c_attn.weight.grad is not None


@pytest.mark.parametrize("bad, error", [
    (torch.tensor([1, 2, 3]), ValueError),               # not (B, T)
    (torch.tensor([[1.0, 2.0]]), TypeError),             # floats
    (torch.tensor([[1, 12]]), ValueError),               # id outside the vocabulary
    (torch.zeros(1, 17, dtype=torch.long), ValueError),  # longer than the context
])
def test_hidden_states_refuse_bad_input(bad, error):
    with pytest.raises(error):
        tiny_gpt().hidden_states(bad)


# ------------------------------------------------------------------------------------------ padding
def test_pad_batch_right_pads_and_counts_lengths():
    ids, lengths = pad_batch([[5, 6, 7], [8], [9, 10]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]
    with pytest.raises(ValueError):
        pad_batch([[1], []])
    with pytest.raises(ValueError):
        pad_batch([])


def test_last_token_states_pick_position_length_minus_one():
    hidden = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([2, 5, 1])
    expected = torch.stack([hidden[b, int(lengths[b]) - 1] for b in range(3)])
    torch.testing.assert_close(last_token_states(hidden, lengths), expected)
    with pytest.raises(ValueError):
        last_token_states(hidden, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError):
        last_token_states(hidden, torch.tensor([6, 1, 2]))


@pytest.mark.parametrize("pad_id", [0, 11])
def test_padded_batch_gives_the_same_logits_as_each_review_alone(pad_id):
    classifier = GPTClassifier(tiny_gpt(), n_classes=3).eval()
    sequences = [[3, 1, 4, 1, 5], [9], [2, 6, 5, 3], [5, 8, 9, 7, 9, 3, 2]]
    idx, lengths = pad_batch(sequences, pad_id=pad_id)
    with torch.no_grad():
        batched = classifier(idx, lengths)
        alone = torch.cat([classifier(torch.tensor([s])) for s in sequences])
    assert batched.shape == (4, 3)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-4)


def test_predict_keeps_the_input_order():
    tokenizer = CharTokenizer.train("abcx ")
    gpt = tiny_gpt(vocab_size=tokenizer.vocab_size)
    classifier = GPTClassifier(gpt)
    texts = ["abc", "x", "ab ab ab", "cxa", "b"]
    together = predict_proba(classifier, texts, tokenizer, batch_size=2)
    one_by_one = torch.cat([predict_proba(classifier, [t], tokenizer) for t in texts])
    torch.testing.assert_close(together, one_by_one, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together.sum(dim=1), torch.ones(5))


def test_encode_texts_keeps_the_last_tokens_and_refuses_empty_text():
    tokenizer = CharTokenizer.train("abcd")
    assert encode_texts(tokenizer, ["abcd"], context_length=2) == [tokenizer.encode("cd")]
    with pytest.raises(ValueError):
        encode_texts(tokenizer, ["ab", ""])
    with pytest.raises(TypeError):
        encode_texts(tokenizer, "abc")


# ------------------------------------------------------------------------------------------ the classifier
def test_classifier_shapes_and_arguments():
    classifier = GPTClassifier(tiny_gpt(), n_classes=4)
    assert classifier(torch.tensor([[1, 2, 3], [4, 5, 6]])).shape == (2, 4)
    assert classifier.head.in_features == 16 and classifier.head.out_features == 4
    with pytest.raises(ValueError):
        GPTClassifier(tiny_gpt(), n_classes=1)
    with pytest.raises(TypeError):
        GPTClassifier(nn.Linear(3, 3))


def test_frozen_body_gets_no_gradients_and_does_not_move():
    classifier = GPTClassifier(tiny_gpt(), freeze_body=True)
    assert classifier.num_trainable() == 16 * 2 + 2
    idx, lengths = pad_batch([[1, 2, 3], [4, 5]])
    nn.functional.cross_entropy(classifier(idx, lengths), torch.tensor([0, 1])).backward()
    assert all(p.grad is None for p in classifier.body.parameters())
    assert classifier.head.weight.grad is not None

    tokenizer = CharTokenizer.train("abcx ")
    classifier = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size), freeze_body=True)
    body_before = [p.detach().clone() for p in classifier.body.parameters()]
    head_before = classifier.head.weight.detach().clone()
    train_classifier(classifier, ["ab", "xc", "a x", "bb"], [0, 1, 1, 0], tokenizer, steps=5, lr=1e-2,
                     device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(body_before, classifier.body.parameters()))
    assert not torch.equal(head_before, classifier.head.weight)


def test_unfreezing_one_block_lets_only_that_block_learn():
    classifier = GPTClassifier(tiny_gpt(), freeze_body=True)
    assert classifier.body_frozen
    for p in classifier.body.blocks[-1].parameters():
        p.requires_grad_(True)
    assert not classifier.body_frozen
    idx, lengths = pad_batch([[1, 2, 3], [4, 5]])
    nn.functional.cross_entropy(classifier(idx, lengths), torch.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in classifier.body.blocks[-1].parameters())
    assert all(p.grad is None for p in classifier.body.blocks[0].parameters())
    assert classifier.body.wte.weight.grad is None


def _contains_x_task(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Random strings of a, b, c (and sometimes one x); the label says whether an x is present anywhere,
    so the last token alone does not tell: attention has to look back."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        chars = [rng.choice("abc") for _ in range(rng.randint(3, 8))]
        if i % 2:
            chars[rng.randrange(len(chars) - 1)] = "x"  # never at the very end
        texts.append("".join(chars))
        labels.append(i % 2)
    return texts, labels


def test_classifier_learns_a_tiny_synthetic_task():
    tokenizer = CharTokenizer.train("abcx")
    texts, labels = _contains_x_task(256, seed=0)
    test_texts, test_labels = _contains_x_task(200, seed=1)
    torch.manual_seed(0)
    classifier = GPTClassifier(GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1,
                                             n_head=2, n_embd=32)))
    losses = train_classifier(classifier, texts, labels, tokenizer, steps=150, lr=3e-3, batch_size=32, seed=0,
                              device="cpu")
    assert len(losses) == 150 and np.mean(losses[-10:]) < 0.3 < np.mean(losses[:5])
    assert accuracy(predict(classifier, test_texts, tokenizer), test_labels) > 0.9


def test_train_classifier_is_deterministic_and_checks_its_arguments():
    tokenizer = CharTokenizer.train("abcx")
    texts, labels = _contains_x_task(20, seed=2)

    def run() -> list[float]:
        classifier = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size))
        return train_classifier(classifier, texts, labels, tokenizer, epochs=2, batch_size=8, seed=3, device="cpu")

    first = run()
    assert len(first) == 2 * 3 and first == run()
    classifier = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size))
    with pytest.raises(ValueError, match="exactly one"):
        train_classifier(classifier, texts, labels, tokenizer, device="cpu")
    with pytest.raises(ValueError, match="exactly one"):
        train_classifier(classifier, texts, labels, tokenizer, steps=2, epochs=2, device="cpu")
    with pytest.raises(ValueError, match="labels"):
        train_classifier(classifier, texts, labels[:-1], tokenizer, steps=2, device="cpu")
    with pytest.raises(ValueError, match="labels"):
        train_classifier(classifier, texts, [2] * len(texts), tokenizer, steps=2, device="cpu")


def test_train_classifier_matches_a_hand_written_loop():
    """The one training loop (Trainer) gives the same steps as the loop written out with torch's pieces."""
    import torch.nn.functional as F

    from nbutils.train import TrainConfig, lr_at, make_optimizer

    tokenizer = CharTokenizer.train("abcx")
    texts, labels = _contains_x_task(20, seed=2)
    classifier = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size))
    reference = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size))
    reference.load_state_dict(classifier.state_dict())
    losses = train_classifier(classifier, texts, labels, tokenizer, steps=7, batch_size=6, lr=3e-3, seed=4,
                              device="cpu")

    cfg = TrainConfig(steps=7, batch_size=6, lr=3e-3, min_lr=3e-4, warmup_steps=0, weight_decay=0.01)
    optimizer = make_optimizer(reference, cfg)
    generator = torch.Generator().manual_seed(4)
    encoded = encode_texts(tokenizer, texts)
    order, expected = [], []
    for step in range(7):
        if len(order) < 6:
            order += torch.randperm(len(texts), generator=generator).tolist()
        chosen, order = order[:6], order[6:]
        idx, lengths = pad_batch([encoded[i] for i in chosen])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = F.cross_entropy(reference(idx, lengths), torch.tensor([labels[i] for i in chosen]))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        optimizer.step()
        expected.append(loss.item())
    assert losses == pytest.approx(expected, abs=1e-6)
    for mine, theirs in zip(classifier.parameters(), reference.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-5)
    assert not classifier.training


def test_a_frozen_body_stays_in_eval_mode_while_the_head_trains():
    classifier = GPTClassifier(tiny_gpt(), freeze_body=True).train()
    assert classifier.training and classifier.head.training and not classifier.body.training
    assert GPTClassifier(tiny_gpt()).train().body.training  # a body that learns trains too


# ------------------------------------------------------------------------------------------ scores
def test_accuracy_and_confusion_matrix_against_loops():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=50)
    logits = torch.from_numpy(rng.normal(size=(50, 3)))
    predicted = logits.argmax(dim=1).numpy()
    assert accuracy(logits, labels) == pytest.approx(np.mean(predicted == labels))
    assert accuracy(torch.from_numpy(predicted), labels) == pytest.approx(np.mean(predicted == labels))
    matrix = confusion_matrix(predicted, labels, n_classes=3)
    expected = np.zeros((3, 3), dtype=int)
    for y, p in zip(labels, predicted):
        expected[y, p] += 1
    assert matrix.tolist() == expected.tolist()
    with pytest.raises(ValueError):
        accuracy([1, 0], [1])
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], n_classes=2)


# ------------------------------------------------------------------------------------------ bag of words
def test_bag_of_words_counts_like_a_counter():
    texts = ["I love it. I LOVE it!", "It is not bad.", "Not good, not bad."]
    bow = BagOfWords().fit(texts)
    assert list(bow.vocabulary) == sorted({"i", "love", "it", "is", "not", "bad", "good"})
    counts = bow.transform(texts + ["A new word and love."])
    for row, text in enumerate(texts):
        expected = Counter(text.lower().replace(".", " ").replace("!", " ").replace(",", " ").split())
        assert {w: int(counts[row, j]) for w, j in bow.vocabulary.items() if counts[row, j]} == expected
    assert counts[3].sum() == 1  # only "love" is known
    bigrams = BagOfWords(bigrams=True).fit(texts)
    assert "not bad" in bigrams.vocabulary and "bad not" not in bigrams.vocabulary
    assert bigrams.transform(["not bad"])[0, bigrams.vocabulary["not bad"]] == 1
    with pytest.raises(ValueError):
        BagOfWords().transform(["x"])


def _newton_logistic(X: np.ndarray, y: np.ndarray, l2: float, iterations: int = 30) -> tuple[np.ndarray, float]:
    """The minimiser of mean cross-entropy + l2/2 |w|^2 by Newton's method (a reference, written here)."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.diag([l2] * d + [0.0])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-A @ theta))
        gradient = A.T @ (p - y) / n + penalty @ theta
        hessian = (A * (p * (1 - p))[:, None]).T @ A / n + penalty
        theta -= np.linalg.solve(hessian, gradient)
    return theta[:d], theta[d]


def test_logistic_regression_reaches_the_newton_solution():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(size=80) > 0).astype(float)  # noisy: not separable
    w, b = _newton_logistic(X, y, l2=0.01)
    model = LogisticRegression(lr=1.0, steps=3000, l2=0.01).fit(torch.from_numpy(X), torch.from_numpy(y))
    np.testing.assert_allclose(model.weight.numpy(), w, atol=1e-4)
    assert model.bias == pytest.approx(b, abs=1e-4)
    probs = model.predict_proba(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-(X @ w + b))), atol=1e-4)


def test_logistic_regression_with_lbfgs_reaches_the_newton_solution_on_correlated_features():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 2))
    X = np.hstack([base, base @ np.array([[1.0], [0.9]]) + 0.05 * rng.normal(size=(200, 1))])  # correlated
    y = (base[:, 0] - base[:, 1] + rng.normal(size=200) > 0).astype(float)
    w, b = _newton_logistic(X, y, l2=1e-3)
    model = LogisticRegression(l2=1e-3, steps=200, solver="lbfgs").fit(torch.from_numpy(X), torch.from_numpy(y))
    np.testing.assert_allclose(model.weight.numpy(), w, atol=1e-5)
    assert model.bias == pytest.approx(b, abs=1e-5)
    assert model.final_loss == pytest.approx(model.loss(torch.from_numpy(X), torch.from_numpy(y)))
    with pytest.raises(ValueError):
        LogisticRegression(solver="newton")


def test_last_token_features_are_what_a_frozen_head_reads():
    tokenizer = CharTokenizer.train("abcx ")
    classifier = GPTClassifier(tiny_gpt(vocab_size=tokenizer.vocab_size), freeze_body=True)
    texts = ["abc", "x", "ab ab ab", "cxa"]
    features = last_token_features(classifier.body, texts, tokenizer, batch_size=3)
    idx, lengths = pad_batch([tokenizer.encode(t) for t in texts])
    torch.testing.assert_close(features, classifier.features(idx, lengths), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(classifier.head(features), classifier(idx, lengths), atol=1e-5, rtol=1e-4)


def test_logistic_regression_separates_a_tiny_set_by_hand():
    # feature 0 present -> positive, feature 1 present -> negative
    X = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    model = LogisticRegression(lr=0.5, steps=200, l2=0.0).fit(X, [1, 1, 0, 0])
    assert model.predict(X).tolist() == [1, 1, 0, 0]
    assert model.weight[0] > 0 > model.weight[1]
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, [1, 2, 0, 0])
    with pytest.raises(ValueError):
        LogisticRegression().predict(X)


def test_bow_classifier_needs_bigrams_for_negation():
    texts = ["it is good", "it is bad", "it is not good", "it is not bad"] * 5
    labels = [1, 0, 0, 1] * 5
    unigrams = BowClassifier(steps=500).fit(texts, labels)
    bigrams = BowClassifier(bigrams=True, steps=500).fit(texts, labels)
    assert accuracy(unigrams.predict(texts), labels) == 0.5  # "not" cannot flip a word's weight
    assert accuracy(bigrams.predict(texts), labels) == 1.0
    positive, negative = bigrams.top_words(2)
    assert {w for w, _ in positive} <= {"good", "not bad", "is good", "bad"} and len(negative) == 2


# ------------------------------------------------------------------------------------------ the checks
def test_check_last_token_logits_accepts_the_reference_and_explains_mistakes():
    check_last_token_logits(last_token_logits)

    def padding_position(hidden, lengths, head):
        return head(hidden[:, -1])

    def off_by_one(hidden, lengths, head):
        return head(hidden[torch.arange(hidden.shape[0]), lengths.clamp(max=hidden.shape[1] - 1)])

    def first_token(hidden, lengths, head):
        return head(hidden[:, 0])

    def no_bias(hidden, lengths, head):
        return hidden[torch.arange(hidden.shape[0]), lengths - 1] @ head.weight.T

    for wrong, hint in [(padding_position, "padding"), (off_by_one, "off by one"), (first_token, "first token"),
                        (no_bias, "bias")]:
        with pytest.raises(CheckFailed, match=hint):
            check_last_token_logits(wrong)


def test_check_accuracy_accepts_the_reference_and_explains_mistakes():
    check_accuracy(accuracy_from_logits)
    check_accuracy(lambda logits, labels: (logits.argmax(dim=1) == labels).float().mean())  # a 0-d tensor is fine

    def count(logits, labels):
        return (logits.argmax(dim=-1) == labels).sum().item()

    def max_values(logits, labels):
        return (logits.max(dim=-1).values == labels).float().mean().item()

    with pytest.raises(CheckFailed, match="fraction"):
        check_accuracy(count)
    with pytest.raises(CheckFailed, match="argmax"):
        check_accuracy(max_values)


def test_check_accuracy_gives_back_the_imported_accuracy_when_a_student_shadows_it(capsys):
    from nbutils.metrics import accuracy as imported

    namespace = {"accuracy": imported}
    exec("def accuracy(logits, labels):\n    return (logits.argmax(dim=-1) == labels).float().mean().item()\n",
         namespace)
    mine = namespace["accuracy"]
    check_accuracy(mine)
    assert namespace["accuracy"] is imported and namespace["accuracy_from_logits"] is mine
    assert "accuracy_from_logits" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ the experiment
def test_sentiment_curves_helpers_and_a_tiny_run():
    from nbutils.recipes.sentiment_curves import balanced_subset, plot_curves, run_curves, seeds_for, steps_for
    from nbutils.world import sentiment_dataset

    assert [steps_for(n) for n in (16, 256, 4000)] == [40, 120, 300]
    assert [seeds_for(n) for n in (16, 1024, 4000)] == [3, 3, 3]
    assert seeds_for(4000, max_seeds=1) == 1
    data = sentiment_dataset(seed=0, n_train=40, n_val=0, n_test=20, n_hard=10)
    subset = balanced_subset(data.train, 10, seed=0)
    assert len(subset) == 10 and sum(r.label for r in subset) == 5
    assert subset == balanced_subset(data.train, 10, seed=0) != balanced_subset(data.train, 10, seed=1)

    tokenizer = CharTokenizer.train("".join(r.text for r in data.train + data.test + data.hard))
    gpt = tiny_gpt(vocab_size=tokenizer.vocab_size, context_length=64)
    result = run_curves(gpt, tokenizer, data, sizes=(8, 100), methods=("finetune", "frozen", "bow"), max_seeds=1,
                        device="cpu", say=lambda line: None)
    assert result["sizes"] == [8, 40]  # 100 is more than the training split: all 40 reviews
    assert len(result["runs"]) == 2 * 3
    assert all(0.0 <= run["test"] <= 1.0 and 0.0 <= run["hard"] <= 1.0 for run in result["runs"])
    assert set(result["summary"]) == {"finetune", "frozen", "bow"}
    assert result["summary"]["bow"]["size"] == [8, 40]
    assert all("l2" in run for run in result["runs"] if run["method"] == "frozen")
    plot_curves(result, split="hard")


def test_the_frozen_head_takes_its_l2_from_the_validation_split():
    from nbutils.recipes.sentiment_curves import FROZEN_L2_GRID, run_curves
    from nbutils.world import sentiment_dataset

    data = sentiment_dataset(seed=0, n_train=40, n_val=20, n_test=20, n_hard=10)
    tokenizer = CharTokenizer.train("".join(r.text for r in data.train + data.val + data.test + data.hard))
    gpt = tiny_gpt(vocab_size=tokenizer.vocab_size, context_length=64)
    result = run_curves(gpt, tokenizer, data, sizes=(20,), methods=("frozen",), max_seeds=2, device="cpu",
                        say=lambda line: None)
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    assert all(run["l2"] in FROZEN_L2_GRID for run in result["runs"])


def test_paired_differences_and_their_interval():
    from nbutils.recipes.sentiment_curves import paired_differences, t_quantile_975

    assert t_quantile_975(2) == 4.303 and t_quantile_975(100) == 1.96
    with pytest.raises(ValueError):
        t_quantile_975(0)
    runs = [{"method": m, "size": n, "seed": s, "test": a, "hard": 0.5}
            for m, n, s, a in [("finetune", 16, 0, 0.6), ("finetune", 16, 1, 0.7), ("finetune", 16, 2, 0.8),
                               ("scratch", 16, 0, 0.5), ("scratch", 16, 1, 0.5), ("scratch", 16, 2, 0.5),
                               ("finetune", 64, 0, 0.9), ("scratch", 64, 0, 0.8)]]
    rows = paired_differences({"runs": runs, "sizes": [16, 64]}, "finetune", "scratch", "test")
    assert [row["size"] for row in rows] == [16, 64]
    assert rows[0]["differences"] == pytest.approx([0.1, 0.2, 0.3])
    assert rows[0]["mean"] == pytest.approx(0.2)
    half = 4.303 * 0.1 / 3 ** 0.5  # t(2) * stdev / sqrt(3)
    assert (rows[0]["low"], rows[0]["high"]) == pytest.approx((0.2 - half, 0.2 + half))
    assert rows[1]["low"] is None and rows[1]["mean"] == pytest.approx(0.1)  # one seed: no interval
    assert paired_differences({"runs": runs, "sizes": [16]}, split="hard")[0]["mean"] == 0.0


def test_last_word_positions_and_pooled_features():
    from nbutils.tasks.classification import last_word_positions, pooled_features

    tokenizer = CharTokenizer.train("abcx ")
    texts = ["ab cx", "cx ab", "xx"]
    assert last_word_positions(tokenizer, texts, ["ab"]) == [1, 4, None]  # the token that ends the word
    assert last_word_positions(tokenizer, ["ab cab"], ["ab"]) == [1]     # whole words only
    with pytest.raises(ValueError):
        last_word_positions(tokenizer, texts, [])
    gpt = tiny_gpt(vocab_size=tokenizer.vocab_size, context_length=16)
    last = pooled_features(gpt, texts, tokenizer)
    assert torch.allclose(last, last_token_features(gpt, texts, tokenizer))
    with torch.no_grad():
        hidden = [gpt.hidden_states(torch.tensor([tokenizer.encode(t)]))[0] for t in texts]
    mean = pooled_features(gpt, texts, tokenizer, "mean", batch_size=2)  # padding must not count
    assert torch.allclose(mean, torch.stack([h.mean(dim=0) for h in hidden]), atol=1e-5)
    at = pooled_features(gpt, texts, tokenizer, "position", positions=[1, 4, None])
    assert torch.allclose(at, torch.stack([hidden[0][1], hidden[1][4], hidden[2][-1]]), atol=1e-5)
    with pytest.raises(ValueError):
        pooled_features(gpt, texts, tokenizer, "position", positions=[9, 0, 0])
    with pytest.raises(ValueError):
        pooled_features(gpt, texts, tokenizer, "mean", positions=[1, 4, None])
    with pytest.raises(ValueError):
        pooled_features(gpt, texts, tokenizer, "max")


def test_stored_sentiment_curves_are_complete():
    from nbutils.recipes.sentiment_curves import METHODS, SIZES, load_curves

    curves = load_curves()
    # the stored run may leave out sizes for time (``--sizes``); the ones it has come in the default order
    assert curves["sizes"] == [n for n in SIZES if n in curves["sizes"]] and len(curves["sizes"]) >= 4
    assert set(curves["summary"]) == set(METHODS)
    for rows in curves["summary"].values():
        assert rows["size"] == curves["sizes"]
        assert all(0.0 <= a <= 1.0 for a in rows["test_mean"] + rows["hard_mean"])
    assert curves["wall_seconds"] > 0


def test_stored_sentiment_curves_were_measured_on_the_shipped_model():
    """Fails when the world model was re-trained after the curves: then re-run
    `python -m nbutils.recipes.sentiment_curves` (about half an hour with one thread on a 2-core CPU)."""
    from nbutils.recipes.sentiment_curves import load_curves, weights_sha256

    assert load_curves()["checkpoint"]["weights_sha256"] == weights_sha256()
