import pytest
import torch

from coretune_mm.core import sample_pixels


def make_maps(seed=0, n=2, h=16, w=16, num_classes=4):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(num_classes, (n, h, w), generator=g)
    labels[:, :4] = 255
    predictions = torch.where(
        torch.rand(n, h, w, generator=g) < 0.3,
        torch.randint(num_classes, (n, h, w), generator=g), labels)
    return labels, predictions


@pytest.mark.parametrize('budget', [7, 64, 10000])
def test_budget_and_ignore(budget):
    labels, predictions = make_maps()
    idx = sample_pixels(labels, predictions, max_samples=budget)
    assert idx.numel() <= budget
    assert idx.unique().numel() == idx.numel()
    assert (labels.flatten()[idx] != 255).all()
    if budget == 10000:  # a budget above the pixel count takes every pixel
        assert idx.numel() == (labels != 255).sum()


def rule(hard, easy, quota):
    """Hard pixels first up to half the quota, each pool filling the other."""
    take_hard = min(hard, max(quota - quota // 2, quota - easy))
    return take_hard, min(easy, quota - take_hard)


def pools(labels, predictions, min_pixels):
    """Per kept (image, class): its numbers of hard and easy pixels."""
    pairs = {}
    for b in range(labels.size(0)):
        for c in labels[b].unique().tolist():
            if c == 255:
                continue
            mask = labels[b] == c
            if mask.sum() >= min_pixels:
                hard = int((mask & (predictions[b] != c)).sum())
                pairs[(b, c)] = (hard, int(mask.sum()) - hard)
    return pairs


def counts_of(idx, labels, predictions):
    got = {}
    flat_labels, flat_pred = labels.flatten(), predictions.flatten()
    for i in idx.tolist():
        key = (i // labels[0].numel(), int(flat_labels[i]))
        hard, easy = got.get(key, (0, 0))
        is_hard = bool(flat_pred[i] != flat_labels[i])
        got[key] = (hard + is_hard, easy + (not is_hard))
    return got


@pytest.mark.parametrize('budget', [80, 83])
def test_class_balance_and_hard_pixels_first(budget):
    labels, predictions = make_maps(seed=1)
    labels[0, 4:6] = 3  # a small class in image 0
    labels[1, 4:] = torch.where(labels[1, 4:] == 3, 2, labels[1, 4:])
    idx = sample_pixels(labels, predictions, max_samples=budget, min_pixels=4)
    pairs = pools(labels, predictions, 4)
    share, remainder = divmod(budget, len(pairs))
    got = counts_of(idx, labels, predictions)
    extra = 0
    for key, (hard, easy) in pairs.items():
        # each pair gets the equal share, or one more pixel of the remainder
        assert got.get(key, (0, 0)) in (rule(hard, easy, share),
                                        rule(hard, easy, share + 1)), key
        extra += got.get(key) != rule(hard, easy, share)
    assert extra <= remainder
    assert set(got) <= set(pairs)


def test_budget_below_the_number_of_pairs():
    # 2 images x 20 classes, budget 32: 32 pairs get one pixel each
    labels = torch.arange(20).repeat_interleave(4).view(1, 8, 10)
    labels = labels.repeat(2, 1, 1)
    idx = sample_pixels(labels, labels, max_samples=32)
    assert idx.numel() == 32
    got = counts_of(idx, labels, labels)
    assert len(got) == 32 and all(sum(v) == 1 for v in got.values())


def test_hard_pool_fills_from_easy_and_vice_versa():
    labels = torch.zeros(1, 4, 8, dtype=torch.long)
    predictions = labels.clone()
    predictions[0, 0, :2] = 1  # only 2 hard pixels
    idx = sample_pixels(labels, predictions, max_samples=10)
    assert idx.numel() == 10
    assert (predictions.flatten()[idx] != 0).sum() == 2


def test_degenerate_maps():
    labels = torch.full((2, 4, 4), 255)
    assert sample_pixels(labels, labels).numel() == 0
    one = torch.full((1, 4, 4), 255)
    one[0, 1, 1] = 2
    assert sample_pixels(one, one).numel() == 0  # below min_pixels
    assert sample_pixels(one, one, min_pixels=1).tolist() == [5]


def test_seeded_determinism_and_errors():
    labels, predictions = make_maps(seed=2)

    def draw(seed):
        return sample_pixels(
            labels,
            predictions,
            max_samples=50,
            generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))
    with pytest.raises(ValueError, match='max_samples'):
        sample_pixels(labels, predictions, max_samples=0)
    with pytest.raises(ValueError, match='predictions'):
        sample_pixels(labels, predictions[:1])


def test_labels_at_is_nearest_and_rows_line_up():
    from coretune_mm.core import labels_at, pixel_rows
    torch.manual_seed(0)
    label = torch.randint(0, 5, (2, 1, 12, 8))
    small = labels_at(label, (3, 2))
    assert small.shape == (2, 3, 2) and small.dtype == torch.long
    for n in range(2):
        for i in range(3):
            for j in range(2):  # floor(i * H / h), PyTorch's 'nearest'
                assert small[n, i, j] == label[n, 0, i * 4, j * 4]
    assert torch.equal(labels_at(label[:, 0], (3, 2)), small)
    features = torch.randn(2, 7, 3, 2)
    rows = pixel_rows(features)
    flat = small.flatten()
    positions = [(n, i, j) for n in range(2) for i in range(3)
                 for j in range(2)]
    for k, (n, i, j) in enumerate(positions):
        assert torch.equal(rows[k], features[n, :, i, j])
        assert flat[k] == small[n, i, j]
