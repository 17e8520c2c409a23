import pytest
import torch
import torch.nn.functional as F

from coretune_mm.core import (CoreTuning, class_frequencies, focal_supcon_loss,
                              hard_pair_mixup, prior_correction,
                              soft_cross_entropy)


def make(**kwargs):
    return CoreTuning(
        6, focal_supcon_loss, projector=dict(out_channels=4), **kwargs)


def batch(num=10, classes=3):
    features = torch.randn(num, 6, requires_grad=True)
    labels = F.one_hot(torch.arange(num) % classes, classes).float()
    return features, labels


def test_step_equals_the_composition():
    core = make(contrast_weight=0.2)
    features, labels = batch()
    state = core.get_stream_state()
    out = core(features, labels)
    core.set_stream_state(state)
    shared, _ = core.generators(features.device)
    mixed, targets = hard_pair_mixup(features, labels, generator=shared)
    assert out.num_original == 10
    assert torch.equal(out.samples, mixed) and torch.equal(
        out.targets, targets)
    expected = 0.2 * focal_supcon_loss(core.projector(mixed), targets)
    assert torch.allclose(out.loss_contrast, expected)


def test_own_stream_follows_the_seed_and_spares_the_global_one():
    torch.manual_seed(7)
    first = make().generators(torch.device('cpu'))
    after = torch.rand(3)
    torch.manual_seed(7)
    second = make().generators(torch.device('cpu'))
    assert torch.equal(torch.rand(3), after)  # no draw from the global RNG
    for a, b in zip(first, second):
        assert torch.equal(
            torch.rand(5, generator=a), torch.rand(5, generator=b))
    torch.manual_seed(8)
    other = make().generators(torch.device('cpu'))
    assert not torch.equal(
        torch.rand(5, generator=other[0]), torch.rand(5, generator=first[0]))
    # shared and local generators differ
    shared, local = make().generators(torch.device('cpu'))
    assert not torch.equal(
        torch.rand(5, generator=shared), torch.rand(5, generator=local))


def test_fewer_than_two_rows_give_a_zero_that_reaches_the_projector():
    core = make()
    features, labels = batch(num=1)
    out = core(features, labels)
    assert out.loss_contrast.item() == 0 and out.samples.size(0) == 1
    out.loss_contrast.backward()
    assert all(p.grad is not None for p in core.parameters())
    assert torch.isfinite(features.grad).all()


@pytest.mark.parametrize('kwargs, name', [
    (dict(mixup=dict(alpah=1.0)), 'mixup'),
    (dict(mixup=dict(alpha=0.0)), 'alpha'),
    (dict(projector=dict(outchannels=3)), 'projector'),
    (dict(contrast_weight=-0.1), 'contrast_weight'),
    (dict(mix_weight=-1.0), 'mix_weight'),
    (dict(mix_weight='1'), 'mix_weight'),
    (dict(gather_across_ranks=1), 'gather_across_ranks'),
])
def test_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CoreTuning(6, focal_supcon_loss, **kwargs)


def test_prior_correction_cancels_the_bias_gradient():
    # a classifier predicting `prior` trained on rows of another class mix
    prior = torch.tensor([0.85, 0.1, 0.05])
    rows = F.one_hot(torch.tensor([1, 2, 2, 0, 1, 1]), 3).float() * 0.7 + \
        torch.tensor([0.3, 0.0, 0.0])
    bias = prior.log().clone().requires_grad_()
    logits = bias.expand(len(rows), 3)
    soft_cross_entropy(logits + prior_correction(rows, prior), rows).backward()
    assert bias.grad.abs().max() < 1e-6
    bias.grad = None
    soft_cross_entropy(logits, rows).backward()  # without: pushed away
    assert bias.grad[0] > 0.1
    # the offset is log q - log prior with q the rows' mean
    assert torch.allclose(
        prior_correction(rows, prior),
        rows.mean(0).log() - prior.log())


def test_class_frequencies_against_a_count():
    labels = torch.tensor([[0, 0, 1], [255, 2, 0]])
    assert torch.allclose(
        class_frequencies(labels, 4),
        torch.tensor([3, 1, 1, 0]) / 5)
    assert class_frequencies(torch.full((3, ), 255), 2).sum() == 0


def test_step_reports_what_it_did():
    """Classes, mixing weights, positives per anchor and the focal weight,
    recomputed here from the step's outputs by the definitions."""
    from coretune_mm.models.losses import FocalSupConLoss
    core = CoreTuning(6, FocalSupConLoss(), projector=dict(out_channels=4))
    features, labels = batch(num=8, classes=3)
    state = core.get_stream_state()
    out = core(features, labels)
    stats = out.stats
    assert stats['classes'] == 3
    # the weights the mixup drew, from the same stream
    core.set_stream_state(state)
    _, _, plan = hard_pair_mixup(
        features,
        labels,
        generator=core.generators(features.device)[0],
        return_plan=True)
    drawn = plan.lambdas()
    assert stats['lambda_hn'] == pytest.approx(drawn['hn'].mean().item())
    assert stats['lambda_hp'] == pytest.approx(drawn['hp'].mean().item())
    assert 0.8 <= stats['lambda_hn'] <= 1 and 0.5 < stats['lambda_hp'] <= 1
    dominant = out.targets.argmax(dim=1).tolist()
    num = len(dominant)
    positives = [
        sum(dominant[j] == dominant[i] for j in range(num) if j != i)
        for i in range(num)
    ]
    assert stats['positives'] == pytest.approx(sum(positives) / num)
    z = core.projector(out.samples).detach()
    weights = []
    for i in range(num):
        others = [j for j in range(num) if j != i]
        denominator = sum(torch.exp(z[i] @ z[k] / 0.07) for k in others)
        for j in others:
            if dominant[j] == dominant[i]:
                p = torch.exp(z[i] @ z[j] / 0.07) / denominator
                weights.append(1 - p.item())
    assert stats['focal_weight'] == pytest.approx(
        sum(weights) / len(weights), rel=1e-4)


def test_stream_state_restores_from_a_state_that_is_not_a_cpu_byte_tensor():
    """A checkpoint mapped onto an accelerator brings the saved state back as a
    device tensor; any tensor holding the bytes must restore it (here an int16
    copy stands in for the device tensor, which ``Generator.set_state`` refuses
    just the same)."""
    core = make()
    saved = core.get_stream_state()
    expected = torch.randint(2**30, (4, ), generator=core.stream)
    foreign = saved.to(torch.int16)
    with pytest.raises((TypeError, RuntimeError)):
        torch.Generator().set_state(foreign)
    core.set_stream_state(foreign)
    assert torch.equal(
        torch.randint(2**30, (4, ), generator=core.stream), expected)


def test_projector_initialisation_does_not_depend_on_where_it_lives():
    """MMEngine moves the model to the GPU before ``init_weights``; the
    projector must get the CPU draws of its own stream there too (float64
    weights stand in for weights on another device: drawing in place would
    give other values)."""
    torch.manual_seed(5)
    here = make()
    here.reset_parameters()
    torch.manual_seed(5)
    there = make().double()
    there.reset_parameters()
    for a, b in zip(here.projector.parameters(), there.projector.parameters()):
        assert b.dtype == torch.float64
        assert torch.equal(a.double(), b)


def test_a_contrastive_loss_without_statistics_still_works():
    """Any ``(embeddings, soft labels) -> scalar`` is a contrastive loss; one
    that takes ``return_stats`` also reports its diagnostics."""
    features, labels = batch(num=8, classes=3)
    plain = CoreTuning(6, lambda z, y: (z * 0).sum() + 1.0)
    out = plain(features, labels)
    assert out.loss_contrast.item() == pytest.approx(0.1)
    assert set(out.stats) == {'classes', 'lambda_hn', 'lambda_hp'}
    reporting = CoreTuning(6, focal_supcon_loss)
    assert {'positives',
            'focal_weight'} <= set(reporting(features, labels).stats)


def test_mixup_defaults_have_one_home():
    """check_mixup_args fills in hard_pair_mixup's own defaults."""
    import inspect

    from coretune_mm.core import check_mixup_args
    from coretune_mm.core.mixup import MIXUP_OPTIONS
    defaults = inspect.signature(hard_pair_mixup).parameters
    full = check_mixup_args(hp_lambda_min=0.0)
    assert full == {
        name: 0.0 if name == 'hp_lambda_min' else defaults[name].default
        for name in MIXUP_OPTIONS
    }
    with pytest.raises(TypeError, match="'alpah'"):
        check_mixup_args(alpah=1.0)
