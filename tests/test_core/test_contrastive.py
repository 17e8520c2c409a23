import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from coretune_mm.core import focal_supcon_loss, positive_pair_mask


def slow_focal_supcon(z, same, temperature, gamma, normalize):
    """Per-anchor, per-pair loop in float64, straight from the formula."""
    z = z.double()
    n = len(z)
    total, anchors = 0.0, 0
    for i in range(n):
        denominator = sum(
            math.exp(float(z[i] @ z[k]) / temperature) for k in range(n)
            if k != i)
        positives = [j for j in range(n) if j != i and same(i, j)]
        if not positives:
            continue
        loss_i = 0.0
        for j in positives:
            p = math.exp(float(z[i] @ z[j]) / temperature) / denominator
            loss_i -= (1 - p)**gamma * math.log(p)
        loss_i /= n if normalize == 'all' else len(positives)
        total += loss_i
        anchors += 1
    return total / max(anchors, 1)


def random_soft_labels(num, num_classes, generator):
    hard = torch.randint(num_classes, (num, ), generator=generator)
    soft = F.one_hot(hard, num_classes).double()
    # a third of the rows become mixtures, some of them duplicated
    lam = torch.rand(num, 1, generator=generator, dtype=torch.float64)
    other = F.one_hot(
        torch.randint(num_classes, (num, ), generator=generator),
        num_classes).double()
    mixed = lam * soft + (1 - lam) * other
    rows = torch.arange(num) % 3 == 0
    soft[rows] = mixed[rows]
    soft[1] = soft[0]
    return soft.float()


@pytest.mark.parametrize('normalize', ['all', 'positives'])
@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize('pair_label', ['dominant', 'exact'])
def test_matches_slow_loop(normalize, gamma, pair_label):
    g = torch.Generator().manual_seed(1)
    z = F.normalize(torch.randn(18, 8, generator=g), dim=1)
    soft = random_soft_labels(18, 4, g)
    if pair_label == 'dominant':
        classes = soft.argmax(1)

        def same(i, j):
            return classes[i] == classes[j]
    else:

        def same(i, j):
            return bool(torch.equal(soft[i], soft[j]))

    expected = slow_focal_supcon(z, same, 0.5, gamma, normalize)
    got = focal_supcon_loss(
        z,
        soft,
        temperature=0.5,
        gamma=gamma,
        normalize=normalize,
        pair_label=pair_label)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_class_index_labels_match_one_hot():
    z = F.normalize(torch.randn(12, 5), dim=1)
    labels = torch.randint(3, (12, ))
    assert torch.allclose(
        focal_supcon_loss(z, labels),
        focal_supcon_loss(z,
                          F.one_hot(labels, 3).float()))


def test_gamma0_positives_equals_supcon_of_pytorch_metric_learning():
    from pytorch_metric_learning.losses import SupConLoss
    z = F.normalize(torch.randn(32, 16), dim=1)
    labels = torch.randint(5, (32, ))
    labels[-1] = 99  # an anchor without positives
    expected = SupConLoss(temperature=0.07)(z, labels)
    got = focal_supcon_loss(
        z, labels, temperature=0.07, gamma=0.0, normalize='positives')
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_exact_mode_with_1000_classes():
    g = torch.Generator().manual_seed(2)
    soft = random_soft_labels(40, 1000, g)
    soft[5] = soft[3]
    mask = positive_pair_mask(soft, 'exact')
    expected = torch.tensor([[bool(torch.equal(a, b)) for b in soft]
                             for a in soft])
    assert torch.equal(mask, expected)
    assert mask[3, 5] and mask[0, 1]
    z = F.normalize(torch.randn(40, 8, generator=g), dim=1)
    loss = focal_supcon_loss(z, soft, pair_label='exact')
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.parametrize(
    'labels',
    [
        torch.arange(6),  # no positives at all
        torch.zeros(6, dtype=torch.long),  # a single class
        torch.tensor([0]),  # a single sample
    ])
def test_degenerate_batches_are_finite(labels):
    z = F.normalize(torch.randn(len(labels), 4), dim=1).requires_grad_()
    loss = focal_supcon_loss(z, labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(z.grad).all()
    if len(labels) == 1 or labels.unique().numel() == len(labels):
        assert loss.item() == 0.0


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_inputs_give_float32_close_to_float32(dtype):
    z = F.normalize(torch.randn(24, 16), dim=1)
    labels = torch.randint(4, (24, ))
    reference = focal_supcon_loss(z, labels)
    got = focal_supcon_loss(z.to(dtype), labels)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(reference.item(), rel=2e-2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under_autocast = focal_supcon_loss(z, labels)
    assert under_autocast.dtype == torch.float32
    assert under_autocast.item() == pytest.approx(reference.item(), rel=1e-6)


@pytest.mark.parametrize('kwargs, name', [
    (dict(temperature=0.0), 'temperature'),
    (dict(gamma=-1.0), 'gamma'),
    (dict(normalize='mean'), 'normalize'),
    (dict(pair_label='soft'), 'pair_label'),
])
def test_invalid_arguments(kwargs, name):
    z = F.normalize(torch.randn(4, 3), dim=1)
    with pytest.raises(ValueError, match=name):
        focal_supcon_loss(z, torch.tensor([0, 0, 1, 1]), **kwargs)


def test_length_mismatch():
    with pytest.raises(ValueError, match='labels'):
        focal_supcon_loss(torch.randn(4, 3), torch.tensor([0, 1, 1]))


@pytest.mark.parametrize('normalize', ['all', 'positives'])
@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.5])
def test_analytic_gradient_matches_finite_differences(normalize, gamma,
                                                      monkeypatch):
    """The loss's hand-written backward against torch's numerical gradient in
    float64, with blocks of one and of several anchors, the gradient kept from
    the forward pass (made symmetric in tiles that do or do not divide N) or
    recomputed."""
    import coretune_mm.core.contrastive as contrastive
    g = torch.Generator().manual_seed(2)
    z = torch.randn(9, 5, generator=g, dtype=torch.float64)
    classes = torch.tensor([0, 0, 1, 1, 1, 2, 3, 0, 2])
    # blocks of 1 row, 3 rows, all rows; the gradient recomputed, or kept
    # and made symmetric in tiles of 2, 4 or 256 rows
    blocks = (9, 30, 2**22)
    kept = ((0, 256), (2**24, 2), (2**24, 4), (2**24, 256))
    for elements, (stored, tile) in itertools.product(blocks, kept):
        monkeypatch.setattr(contrastive, '_CHUNK_ELEMENTS', elements)
        monkeypatch.setattr(contrastive, '_STORE_ELEMENTS', stored)
        monkeypatch.setattr(contrastive, '_TILE', tile)

        def loss(x):
            return contrastive._FocalSupCon.apply(x, classes, 0.5, gamma,
                                                  normalize)[0]

        assert torch.autograd.gradcheck(
            loss, (z.clone().requires_grad_(), ), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize('num', [1, 5, 8, 13])
@pytest.mark.parametrize('tile', [1, 4, 256])
def test_add_transpose_in_place(num, tile, monkeypatch):
    """``matrix += matrix^T`` tile by tile equals the sum with the transposed
    copy, also where the tiles do not divide N."""
    import coretune_mm.core.contrastive as contrastive
    monkeypatch.setattr(contrastive, '_TILE', tile)
    for tiled in (None, False):  # the CPU's tiles; the copy used elsewhere
        matrix = torch.randn(
            num, num, generator=torch.Generator().manual_seed(9))
        expected = matrix + matrix.t().clone()
        assert contrastive._add_transpose_(matrix, tiled) is matrix
        torch.testing.assert_close(matrix, expected, rtol=0, atol=0)


def test_gradient_matches_autograd_of_the_slow_formula():
    """The same gradient as autograd through a per-anchor loop."""
    g = torch.Generator().manual_seed(3)
    z = F.normalize(torch.randn(14, 6, generator=g), dim=1)
    labels = torch.randint(3, (14, ), generator=g)
    ours = z.clone().requires_grad_()
    focal_supcon_loss(ours, labels, temperature=0.2).backward()
    ref = z.clone().double().requires_grad_()
    logits = ref @ ref.t() / 0.2
    total, anchors = 0, 0
    for i in range(14):
        others = torch.arange(14) != i
        log_prob = logits[i] - torch.logsumexp(logits[i][others], dim=0)
        positive = (labels == labels[i]) & others
        if positive.any():
            p = log_prob[positive]
            total = total - ((1 - p.exp()) * p).sum() / 14
            anchors += 1
    (total / anchors).backward()
    torch.testing.assert_close(
        ours.grad, ref.grad.float(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('num, kept', [(300, True), (301, False)])
def test_memory_kept_for_backward(num, kept, monkeypatch):
    """Up to ``_STORE_ELEMENTS`` pairs one (N, N) gradient is kept for the
    backward pass; above it nothing of size (N, N), and the gradient is the
    same either way."""
    import coretune_mm.core.contrastive as contrastive
    monkeypatch.setattr(contrastive, '_STORE_ELEMENTS', 300 * 300)
    saved = []

    def pack(tensor):
        saved.append(tensor.numel())
        return tensor

    g = torch.Generator().manual_seed(4)
    z = F.normalize(torch.randn(num, 8, generator=g), dim=1)
    labels = torch.arange(num) % 4
    ours = z.clone().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = focal_supcon_loss(ours, labels)
    big = [n for n in saved if n >= num * num / 10]
    assert big == ([num * num] if kept else [])
    loss.backward()
    monkeypatch.setattr(contrastive, '_STORE_ELEMENTS', 0 if kept else 2**24)
    other = z.clone().requires_grad_()
    focal_supcon_loss(other, labels).backward()
    torch.testing.assert_close(ours.grad, other.grad, rtol=1e-5, atol=1e-7)


def test_nothing_is_kept_without_gradient():
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        focal_supcon_loss(torch.randn(50, 8), torch.arange(50) % 3)
    assert saved == []


@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.5])
def test_stats_are_the_mean_focal_weight_and_positives(gamma):
    """``focal_weight`` is the mean of (1 - p)^gamma over the positive pairs
    (1 when gamma = 0), ``positives`` the mean positives per anchor; several
    blocks of anchors."""
    import coretune_mm.core.contrastive as contrastive
    g = torch.Generator().manual_seed(5)
    z = F.normalize(torch.randn(20, 6, generator=g), dim=1)
    labels = torch.randint(3, (20, ), generator=g)
    weights, positives = [], 0
    for i in range(20):
        others = [k for k in range(20) if k != i]
        denominator = sum(math.exp(float(z[i] @ z[k]) / 0.3) for k in others)
        for j in others:
            if labels[j] == labels[i]:
                p = math.exp(float(z[i] @ z[j]) / 0.3) / denominator
                weights.append((1 - p)**gamma)
                positives += 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contrastive, '_CHUNK_ELEMENTS', 7 * 20)
        _, stats = focal_supcon_loss(
            z, labels, temperature=0.3, gamma=gamma, return_stats=True)
    assert stats['focal_weight'].item() == pytest.approx(
        sum(weights) / len(weights), rel=1e-5)
    assert stats['positives'].item() == pytest.approx(positives / 20)


@pytest.mark.parametrize('gamma', [0.5, 2.5])
def test_a_positive_with_p_equal_to_one_has_a_finite_gradient(gamma):
    """Two identical embeddings far from the rest at a low temperature: p
    rounds to 1, where (1 - p)^(gamma - 1) alone is infinite for gamma < 1;
    the gradient takes its limit (finite)."""
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]],
                     dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 2])
    for dtype in (torch.float32, torch.float64):
        x = z.to(dtype).requires_grad_()
        loss = focal_supcon_loss(x, labels, temperature=0.01, gamma=gamma)
        loss.backward()
        assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0)
        assert torch.isfinite(x.grad).all()
