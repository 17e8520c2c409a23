"""Soft cross-entropy, prior correction and class frequencies.

Each against its definition written out.
"""
import math

import pytest
import torch

from coretune_mm.core import (class_frequencies, prior_correction,
                              smooth_classifier_logits, smooth_classifier_loss,
                              soft_cross_entropy)


def test_soft_cross_entropy_is_the_mean_of_minus_y_log_p():
    torch.manual_seed(0)
    logits = torch.randn(5, 3)
    targets = torch.softmax(torch.randn(5, 3), dim=1)
    expected = 0.0
    for row, target in zip(logits.tolist(), targets.tolist()):
        norm = math.log(sum(math.exp(v) for v in row))
        expected -= sum(t * (v - norm) for t, v in zip(target, row))
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(
        expected / 5, rel=1e-5)


def test_soft_cross_entropy_of_one_hot_rows_is_cross_entropy():
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    one_hot = torch.eye(4)[labels]
    assert torch.allclose(
        soft_cross_entropy(logits, one_hot),
        torch.nn.functional.cross_entropy(logits, labels))


def test_soft_cross_entropy_of_no_rows_is_an_attached_zero():
    logits = torch.randn(0, 3, requires_grad=True)
    loss = soft_cross_entropy(logits, torch.zeros(0, 3))
    assert loss.item() == 0.0 and loss.requires_grad


def test_prior_correction_removes_the_bias_gradient_at_the_prior():
    """At a classifier predicting ``prior``, the corrected soft CE of rows
    whose class mix is q has no gradient on the bias."""
    prior = torch.tensor([0.7, 0.2, 0.1])
    targets = torch.tensor([[0.1, 0.5, 0.4], [0.0, 0.5, 0.5]])
    bias = prior.log().clone().requires_grad_(True)
    logits = bias.expand(2, 3) + prior_correction(targets, prior)
    soft_cross_entropy(logits, targets).backward()
    assert torch.allclose(bias.grad, torch.zeros(3), atol=1e-6)
    uncorrected = prior.log().clone().requires_grad_(True)
    soft_cross_entropy(uncorrected.expand(2, 3), targets).backward()
    assert uncorrected.grad.abs().max() > 0.1


def test_prior_correction_is_log_q_minus_log_prior():
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    prior = torch.tensor([0.5, 0.5])
    expected = torch.tensor([math.log(0.25 / 0.5), math.log(0.75 / 0.5)])
    assert torch.allclose(prior_correction(targets, prior), expected)


def test_class_frequencies_count_all_but_the_ignored():
    labels = torch.tensor([[0, 0, 1], [255, 2, 2]])
    freq = class_frequencies(labels, 4, ignore_index=255)
    assert torch.allclose(freq, torch.tensor([0.4, 0.2, 0.4, 0.0]))
    assert torch.equal(
        class_frequencies(torch.full((3, ), 255), 2), torch.zeros(2))


def test_smooth_classifier_logits_offset_the_generated_rows_only():
    """Row by row: originals unchanged; a generated row's logit of class c
    plus log(mean generated target c) - log(prior c)."""
    torch.manual_seed(0)
    logits = torch.randn(7, 3)
    targets = torch.softmax(torch.randn(7, 3) * 3, dim=1)
    num = 3
    generated = targets[num:].tolist()
    mix = [sum(row[c] for row in generated) / len(generated) for c in range(3)]
    for prior in (None, torch.tensor([0.5, 0.3, 0.2])):
        if prior is None:
            base = [
                sum(row[c] for row in targets[:num].tolist()) / num
                for c in range(3)
            ]
        else:
            base = prior.tolist()
        out = smooth_classifier_logits(logits, targets, num, prior=prior)
        assert out.dtype == torch.float32
        for i in range(7):
            for c in range(3):
                shift = 0.0 if i < num else math.log(mix[c]) - math.log(
                    base[c])
                assert out[i, c].item() == pytest.approx(
                    logits[i, c].item() + shift, abs=1e-5)
    assert smooth_classifier_logits(
        logits, targets, num, correct=False) is logits
    # nothing generated: nothing to offset
    assert torch.equal(
        smooth_classifier_logits(logits[:num], targets[:num], num),
        logits[:num])
    # the pixel heads: generated rows only, a prior is needed
    only = smooth_classifier_logits(
        logits[num:], targets[num:], 0, prior=torch.full((3, ), 1 / 3))
    assert only.shape == (4, 3)
    with pytest.raises(ValueError, match='prior'):
        smooth_classifier_logits(logits[num:], targets[num:], 0)


def test_smooth_classifier_loss_is_the_loss_of_the_offset_logits():
    """Soft-label CE written out row by row on the offset logits (the pixel
    heads' case), and a head's own loss function in its place."""
    torch.manual_seed(1)
    logits = torch.randn(5, 3)
    targets = torch.softmax(torch.randn(5, 3) * 2, dim=1)
    prior = torch.tensor([0.6, 0.3, 0.1])
    mix = targets.mean(dim=0).tolist()
    total = 0.0
    for i in range(5):
        shifted = [
            logits[i, c].item() + math.log(mix[c]) - math.log(prior[c])
            for c in range(3)
        ]
        norm = math.log(sum(math.exp(v) for v in shifted))
        total -= sum(targets[i, c].item() * (shifted[c] - norm)
                     for c in range(3))
    got = smooth_classifier_loss(logits, targets, 0, prior=prior)
    assert got.item() == pytest.approx(total / 5, rel=1e-5)
    plain = smooth_classifier_loss(
        logits, targets, 0, prior=prior, correct=False)
    assert plain.item() == pytest.approx(
        soft_cross_entropy(logits, targets).item())
    seen = []
    smooth_classifier_loss(
        logits, targets, 2, loss_fn=lambda x, y: seen.append((x, y)) or 0)
    assert torch.equal(seen[0][0],
                       smooth_classifier_logits(logits, targets, 2))
    assert seen[0][1] is targets
