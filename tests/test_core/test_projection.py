"""ProjectionHead: Linear -> ReLU -> Linear, then unit norm."""
import pytest
import torch
import torch.nn.functional as F

from coretune_mm.core import ProjectionHead


def test_maps_to_unit_vectors_through_two_linear_layers():
    torch.manual_seed(0)
    head = ProjectionHead(6, hidden_channels=5, out_channels=3)
    x = torch.randn(4, 6)
    first, second = head.layers[0], head.layers[2]
    # the definition, written out
    hidden = (x @ first.weight.t() + first.bias).clamp_min(0)
    out = hidden @ second.weight.t() + second.bias
    expected = out / out.norm(dim=1, keepdim=True)
    assert torch.allclose(head(x), expected, atol=1e-6)
    assert torch.allclose(head(x).norm(dim=1), torch.ones(4))


def test_hidden_width_defaults_to_the_input_width():
    head = ProjectionHead(7, out_channels=2)
    assert head.layers[0].weight.shape == (7, 7)
    assert head.layers[2].weight.shape == (2, 7)


def test_gradients_reach_the_input():
    x = torch.randn(3, 4, requires_grad=True)
    ProjectionHead(4, out_channels=2)(x)[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('kwargs, name', [
    (dict(in_channels=0), 'in_channels'),
    (dict(in_channels=4, hidden_channels=0), 'hidden_channels'),
    (dict(in_channels=4, out_channels=True), 'out_channels'),
    (dict(in_channels=4, out_channels=2.0), 'out_channels'),
])
def test_bad_widths(kwargs, name):
    with pytest.raises(ValueError, match=f'{name} must be a positive int'):
        ProjectionHead(**kwargs)


@pytest.mark.parametrize('check, kwargs, message', [
    ('check_bools', dict(flag=1), 'flag must be a bool'),
    ('check_non_negative', dict(weight=-1e-3), 'weight must be >= 0'),
    ('check_non_negative', dict(weight=float('nan')), 'weight must be >= 0'),
    ('check_non_negative', dict(weight=True), 'weight must be >= 0'),
    ('check_non_negative', dict(weight='1'), 'weight must be >= 0'),
])
def test_shared_checks_name_the_option(check, kwargs, message):
    import coretune_mm.core as core
    with pytest.raises(ValueError, match=message):
        getattr(core, check)(**kwargs)
    core.check_bools(flag=True)
    import numpy as np
    core.check_non_negative(weight=0, other=2.5, third=np.float32(0.1))


@pytest.mark.parametrize('value, minimum, message', [
    (0, 1, 'n must be a positive int, got 0'),
    (True, 0, 'n must be an int >= 0, got True'),
    (2.0, 0, 'n must be an int >= 0, got 2.0'),
])
def test_int_check_names_the_option(value, minimum, message):
    from coretune_mm.core import check_int
    with pytest.raises(ValueError, match=message):
        check_int('n', value, minimum)
    check_int('n', minimum, minimum)


@pytest.mark.parametrize('kinds', [
    dict(),
    dict(hard_positives=False),
    dict(hard_negatives=False),
])
def test_projector_on_the_originals_with_the_plan_equals_it_on_the_samples(
        kinds):
    """The first layer is affine and the mixing weights sum to 1, so it can
    run on the originals and be mixed after: same embeddings, same
    gradients for the features and every weight."""
    from coretune_mm.core import ProjectionHead, hard_pair_mixup
    torch.manual_seed(0)
    features = torch.randn(12, 16, requires_grad=True)
    labels = F.one_hot(torch.arange(12) % 4, 4).float()
    samples, _, plan = hard_pair_mixup(
        features,
        labels,
        generator=torch.Generator().manual_seed(1),
        return_plan=True,
        **kinds)
    head = ProjectionHead(16, 32, 8)
    direct = head(samples)
    shortcut = head(features, plan=plan)
    assert shortcut.shape == direct.shape == (samples.size(0), 8)
    assert torch.allclose(shortcut, direct, atol=1e-6)
    weights = torch.randn_like(direct)
    grads = []
    for out in (direct, shortcut):
        params = [features] + list(head.parameters())
        grads.append(
            torch.autograd.grad(
                (out * weights).sum(), params, retain_graph=True))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5)


def test_mixup_plan_describes_each_generated_row():
    """Row by row: (1 - lam) x[first] + lam x[second], first None being the
    anchor; the plan's weights are the ones logged."""
    from coretune_mm.core import apply_mixup_plan, hard_pair_mixup
    torch.manual_seed(0)
    features = torch.randn(6, 3)
    labels = F.one_hot(torch.tensor([0, 0, 1, 1, 2, 2]), 3).float()
    samples, targets, plan = hard_pair_mixup(
        features,
        labels,
        generator=torch.Generator().manual_seed(2),
        return_plan=True)
    assert set(plan.lambdas()) == {'hn', 'hp'}
    row = 6
    for first, second, lam in (plan.hn, plan.hp):
        for i in range(6):
            a = i if first is None else int(first[i])
            w = float(lam[i])
            for x, out in ((features, samples), (labels, targets)):
                expected = [
                    (1 - w) * x[a, c].item() + w * x[int(second[i]), c].item()
                    for c in range(3)
                ]
                assert out[row].tolist() == pytest.approx(expected, abs=1e-6)
            row += 1
    assert torch.equal(apply_mixup_plan(features, plan), samples)
