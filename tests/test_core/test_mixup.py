import pytest
import torch
import torch.nn.functional as F

from coretune_mm.core import hard_pair_mixup, mine_hard_pairs, to_soft_labels


def slow_mine(features, labels):
    """Loop over anchors; cosine similarity of each pair, no masks."""
    n = len(features)
    sim = lambda i, j: F.cosine_similarity(  # noqa: E731
        features[i], features[j], dim=0).item()
    pos, neg = [], []
    for i in range(n):
        positives = [j for j in range(n) if j != i and labels[j] == labels[i]]
        negatives = [j for j in range(n) if labels[j] != labels[i]]
        pos.append(min(positives, key=lambda j: sim(i, j)) if positives else i)
        neg.append(max(negatives, key=lambda j: sim(i, j)) if negatives else i)
    return torch.tensor(pos), torch.tensor(neg)


def test_mining_matches_slow_loop():
    g = torch.Generator().manual_seed(3)
    features = torch.randn(30, 6, generator=g)
    labels = torch.randint(4, (30, ), generator=g)
    labels[-1] = 17  # a singleton class
    pos, neg = mine_hard_pairs(features, labels)
    expected_pos, expected_neg = slow_mine(features, labels)
    assert torch.equal(pos, expected_pos)
    assert torch.equal(neg, expected_neg)
    assert pos[-1] == 29


def test_mining_with_all_positive_similarities_positive():
    # Class 0 samples all have positive similarity to each other. Multiplying
    # similarities by a 0/1 mask and taking the argmin (the reference) picks a
    # masked-out zero, i.e. a non-positive.
    features = torch.tensor([[1.0, 0.0], [0.9, 0.3], [0.6, 0.8], [0.0, 1.0],
                             [-1.0, 0.2]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    pos, neg = mine_hard_pairs(features, labels)
    assert pos.tolist()[:3] == [2, 2, 0]
    assert neg.tolist()[:3] == [3, 3, 3]
    normed = F.normalize(features, dim=1)
    sim = normed @ normed.t()
    same = (labels[:, None] == labels[None]).float()
    same.fill_diagonal_(0)
    reference_pos = (sim * same).argmin(dim=1)
    assert reference_pos[0] not in (1, 2)  # the reference's mistake


def test_mining_single_class_and_singletons():
    features = torch.randn(5, 3)
    pos, neg = mine_hard_pairs(features, torch.zeros(5, dtype=torch.long))
    assert torch.equal(neg, torch.arange(5))
    assert (pos != torch.arange(5)).all()
    pos, neg = mine_hard_pairs(features, torch.arange(5))
    assert torch.equal(pos, torch.arange(5))
    assert (neg != torch.arange(5)).all()


def make_batch(num=12, num_classes=4, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(num, dim, generator=g)
    labels = torch.arange(num) % num_classes
    return features, labels, to_soft_labels(labels, num_classes)


@pytest.mark.parametrize('hard_negatives, hard_positives, rows',
                         [(True, True, 3), (True, False, 2), (False, True, 2),
                          (False, False, 1)])
def test_mixup_shapes(hard_negatives, hard_positives, rows):
    features, _, soft = make_batch()
    out, out_labels = hard_pair_mixup(
        features,
        soft,
        hard_negatives=hard_negatives,
        hard_positives=hard_positives)
    assert out.shape == (rows * 12, 8)
    assert out_labels.shape == (rows * 12, 4)
    assert torch.equal(out[:12], features)
    assert torch.allclose(out_labels.sum(dim=1), torch.ones(rows * 12))


@pytest.mark.parametrize('partner', ['other_class', 'random'])
def test_semi_hard_negatives_are_clipped_convex_mixes(partner):
    n, num_classes = 12, 4
    labels = torch.arange(n) % num_classes
    # One-hot features: a mix (1 - lam) e_i + lam e_j shows j and lam.
    features = torch.eye(n)
    out, out_labels = hard_pair_mixup(
        features,
        to_soft_labels(labels, num_classes),
        hard_positives=False,
        partner=partner,
        alpha=0.5)
    negatives, negative_labels = out[n:], out_labels[n:]
    for i in range(n):
        others = [j for j in range(n) if j != i and negatives[i, j] > 0]
        if not others:  # a random permutation may map i to itself
            assert partner == 'random'
            assert torch.allclose(negatives[i], features[i])
            continue
        (j, ) = others
        lam = negatives[i, j]
        assert 0.8 <= lam <= 1.0
        assert torch.allclose(negatives[i],
                              (1 - lam) * features[i] + lam * features[j])
        assert torch.allclose(negative_labels[i],
                              (1 - lam) * F.one_hot(labels[i], num_classes) +
                              lam * F.one_hot(labels[j], num_classes))
        if partner == 'other_class':
            assert labels[j] != labels[i]


def test_hard_positives_mix_mined_pairs():
    features, labels, soft = make_batch(seed=4)
    n = len(features)
    out, out_labels = hard_pair_mixup(features, soft, hard_negatives=False)
    pos, neg = mine_hard_pairs(features, labels)
    for i in range(n):
        lam = out_labels[n + i, labels[pos[i]]]
        assert 0.5 <= lam <= 1.0
        assert torch.allclose(
            out[n + i],
            lam * features[pos[i]] + (1 - lam) * features[neg[i]],
            atol=1e-5)
        # a true hard positive: it stays in the anchor's class, ties included
        assert out_labels[n + i].argmax() == labels[i]
    assert (out_labels[n:].max(dim=1).values < 0.5 + 1e-6).any(), \
        'expected some weights clipped to 0.5'


def test_other_class_partner_falls_back_in_single_class_batch():
    features = torch.randn(6, 4)
    soft = to_soft_labels(torch.zeros(6, dtype=torch.long), 3)
    out, out_labels = hard_pair_mixup(features, soft)
    assert torch.isfinite(out).all()
    assert out.shape == (18, 4)
    one, _ = hard_pair_mixup(features[:1], soft[:1])
    assert torch.allclose(one, features[:1].repeat(3, 1))


def test_gradients_reach_every_original_feature():
    features, _, soft = make_batch()
    features.requires_grad_()
    out, _ = hard_pair_mixup(features, soft)
    # only the generated rows: gradients must come through the mixing
    (out[12:] * torch.randn_like(out[12:])).sum().backward()
    assert (features.grad.abs().sum(dim=1) > 0).all()


def test_seeded_determinism():
    features, _, soft = make_batch()

    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        return hard_pair_mixup(features, soft, alpha=0.3, generator=g)[0]

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


@pytest.mark.parametrize('kwargs, name', [
    (dict(alpha=0.0), 'alpha'),
    (dict(hn_lambda_min=1.5), 'hn_lambda_min'),
    (dict(hp_lambda_min=-0.1), 'hp_lambda_min'),
    (dict(partner='nearest'), 'partner'),
])
def test_invalid_arguments(kwargs, name):
    features, _, soft = make_batch()
    with pytest.raises(ValueError, match=name):
        hard_pair_mixup(features, soft, **kwargs)


def test_label_errors():
    features, _, soft = make_batch()
    with pytest.raises(ValueError, match='soft_labels'):
        hard_pair_mixup(features, soft[:5])
    with pytest.raises(ValueError, match=r'\[0, 4\)'):
        to_soft_labels(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match=r'\[0, 4\)'):
        to_soft_labels(torch.tensor([-1, 2]), 4)
    with pytest.raises(ValueError, match='labels'):
        mine_hard_pairs(features, torch.zeros(3, dtype=torch.long))
