"""Probes against references: the optimality condition of the convex objective, an independent gradient-descent
solver, a planted linear feature (found) and random labels (not found), and the control task's construction."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nbutils.probes import (
    control_labels, fit_linear_probe, fit_mlp_probe, majority_accuracy, probe_with_controls,
)


def planted(n: int = 600, c: int = 16, k: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, c, generator=g, dtype=torch.float64) * 3 + 1
    W = torch.randn(c, k, generator=g, dtype=torch.float64)
    return X, (X @ W).argmax(dim=1), g


def test_linear_probe_reaches_the_minimum_of_its_objective():
    X, y, _ = planted(n=300, c=6, k=3)
    l2 = 1e-2
    probe = fit_linear_probe(X, y, l2=l2, max_iter=200)
    Z = (X - probe.mean) / probe.std
    # an independent solver: plain gradient descent on the same objective, from zero, for a long time
    W = torch.zeros(3, 6, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.SGD([W, b], lr=0.5)
    for _ in range(4000):
        optimiser.zero_grad()
        (F.cross_entropy(Z @ W.T + b, y) + 0.5 * l2 * W.pow(2).sum()).backward()
        optimiser.step()
    torch.testing.assert_close(probe.net.weight, W.detach(), atol=2e-3, rtol=0)
    # and the gradient of the objective is zero there
    weight = probe.net.weight.clone().requires_grad_(True)
    bias = probe.net.bias.clone().requires_grad_(True)
    (F.cross_entropy(Z @ weight.T + bias, y) + 0.5 * l2 * weight.pow(2).sum()).backward()
    assert weight.grad.abs().max() < 1e-5 and bias.grad.abs().max() < 1e-5


def test_a_probe_finds_a_planted_feature_and_not_a_random_one():
    X, y, g = planted()
    probe = fit_linear_probe(X[:400], y[:400])
    assert probe.accuracy(X[400:], y[400:]) > 0.9
    random_labels = torch.randint(0, 4, (600,), generator=g)
    chance = fit_linear_probe(X[:400], random_labels[:400])
    assert chance.train_accuracy > chance.accuracy(X[400:], random_labels[400:])  # it fits noise a little
    assert chance.accuracy(X[400:], random_labels[400:]) < 0.4                   # but cannot predict it


def test_mlp_probe_reads_a_nonlinear_feature_the_linear_one_cannot():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(800, 2, generator=g, dtype=torch.float64)
    y = ((X[:, 0] * X[:, 1]) > 0).long()  # XOR of the signs: no line separates it
    linear = fit_linear_probe(X[:600], y[:600])
    mlp = fit_mlp_probe(X[:600], y[:600], hidden=32, steps=400, seed=0)
    assert linear.accuracy(X[600:], y[600:]) < 0.7
    assert mlp.accuracy(X[600:], y[600:]) > 0.9
    again = fit_mlp_probe(X[:600], y[:600], hidden=32, steps=400, seed=0)
    assert torch.equal(again.predict(X), mlp.predict(X))  # seeded


def test_control_task_and_majority():
    types = ["roof", "yard", "roof", "box", "yard", "roof"]
    mapping = control_labels(types, [0, 1, 1, 2], seed=3)
    assert set(mapping) == {"roof", "yard", "box"} and set(mapping.values()) <= {0, 1, 2}
    assert mapping == control_labels(list(reversed(types)), [0, 1, 1, 2], seed=3)  # a map of types, seeded
    assert majority_accuracy([1, 1, 0], [1, 0, 1, 1]) == 0.75


def test_probe_with_controls_separates_a_fact_from_word_identity():
    # the label is a planted linear feature; the word type is unrelated to it, so the control task can only
    # be learned by memorising types, which the features do not encode: selectivity is high
    X, y, g = planted(n=800)
    types = torch.randint(0, 50, (800,), generator=g).tolist()
    report = probe_with_controls(X[:600], y[:600], X[600:], y[600:], types[:600], types[600:])
    assert report.test > 0.9 and report.control_test < 0.5 and report.selectivity > 0.4
    assert report.n_train == 600 and report.n_test == 200 and 0 < report.majority < 0.6
    # when the features *are* the word identity (one-hot), the control task is learned too: low selectivity
    onehot = F.one_hot(torch.tensor(types), 50).double()
    mapping = control_labels(types, y.tolist(), seed=0)
    by_type = torch.tensor([mapping[t] for t in types])
    report = probe_with_controls(onehot[:600], by_type[:600], onehot[600:], by_type[600:], types[:600], types[600:])
    assert report.control_test > 0.8


@pytest.mark.parametrize("X, y, match", [
    (torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), "shape"),
    (torch.zeros(3, 2), torch.zeros(3), "integer"),
    (torch.zeros(3, 2), torch.tensor([0, -1, 1]), "integer"),
])
def test_bad_input_is_refused(X, y, match):
    with pytest.raises(ValueError, match=match):
        fit_linear_probe(X, y)


def test_world_probe_rows_carry_the_truth():
    from nbutils.evaluate import encode_story
    from nbutils.pretrain import course_tokenizer
    from nbutils.probes import location_classes, location_label, world_probe_rows
    from nbutils.world import generate_corpus

    tokenizer = course_tokenizer()
    stories = generate_corpus(5, n_stories=20, val_fraction=0.0).stories
    rows = world_probe_rows(stories, tokenizer, context_length=256)
    classes = location_classes()
    assert len(classes) == len(set(classes)) and classes[-2:] == ("with girl", "with boy")
    tasks = {r.task for r in rows}
    assert {"end:pet", "question", "answer"} <= tasks
    for r in rows[:400]:
        story = stories[r.story]
        ids = encode_story(story, tokenizer).ids
        assert r.position < 256
        if r.task.startswith("end:") and r.task != "end:holder":
            where = story.states[r.sentence].where[r.slot]          # the label is the world's truth
            assert classes[r.label] == (where.phrase if not isinstance(where, str) else f"with {where}")
            assert location_label(where) == r.label
            assert tokenizer.decode([ids[r.position]]).strip().endswith((".", '"', "!", "?"))   # a sentence's end
        if r.task == "question":
            assert tokenizer.decode([ids[r.position]]).strip().startswith("?")
    with pytest.raises(ValueError, match="not a location"):
        location_label("nowhere")


def test_choose_l2_prefers_the_penalty_that_generalises():
    from nbutils.probes import choose_l2

    X, y, _ = planted(n=400, c=8, k=3)
    groups = list(range(400))
    best, scores = choose_l2(X, y, groups, grid=(1e-3, 1e-1, 1e3))
    assert best != 1e3 and scores[1e3][1] < scores[best][1]      # an enormous penalty cannot fit
    assert all(0 <= a <= 1 and 0 <= b <= 1 for a, b in scores.values())
    with pytest.raises(ValueError, match="one group"):
        choose_l2(X, y, [0, 1], grid=(1e-2,))
