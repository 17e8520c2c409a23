"""The generated demo datasets."""
import numpy as np
import pytest
from PIL import Image

from coretune_mm.datasets.demo_data import (load_digit_images,
                                            make_digits_folder,
                                            make_digits_voc)


def read_labels(root, split):
    names = (root / 'ImageSets/Segmentation' /
             f'{split}.txt').read_text().split()
    return names, [
        np.array(Image.open(root / 'SegmentationClass' / f'{n}.png'))
        for n in names
    ]


def test_voc_layout_labels_and_determinism(tmp_path):
    root = tmp_path / 'a'
    make_digits_voc(
        str(root), num_train=6, num_val=2, canvas=40, digit_size=16, seed=3)
    train, labels = read_labels(root, 'train')
    val, _ = read_labels(root, 'val')
    assert len(train) == 6 and len(val) == 2 and not set(train) & set(val)
    for name, label in zip(train, labels):
        assert label.shape == (40, 40)
        assert set(np.unique(label)) <= set(range(11)) | {255}
        assert (label > 0).any() and (label == 0).any()
        image = Image.open(root / 'JPEGImages' / f'{name}.jpg')
        assert image.size == (40, 40) and image.mode == 'RGB'
    again = tmp_path / 'b'
    make_digits_voc(
        str(again), num_train=6, num_val=2, canvas=40, digit_size=16, seed=3)
    for a, b in zip(labels, read_labels(again, 'train')[1]):
        np.testing.assert_array_equal(a, b)


def test_lower_mask_threshold_gives_thicker_masks(tmp_path):
    counts = []
    for threshold in (0.5, 0.2):
        root = tmp_path / str(threshold)
        make_digits_voc(
            str(root),
            num_train=4,
            num_val=1,
            canvas=40,
            digit_size=16,
            max_digits=1,
            mask_threshold=threshold)
        labels = read_labels(root, 'train')[1]
        # one digit per scene: every ignored pixel borders the digit's mask
        for label in labels:
            digit = np.pad((label > 0) & (label < 255), 1)
            near = np.zeros(label.shape, dtype=bool)
            for dy in range(3):
                for dx in range(3):
                    near |= digit[dy:dy + 40, dx:dx + 40]
            assert near[label == 255].all() and (label == 255).any()
        counts.append(sum(((lb > 0) & (lb < 255)).sum() for lb in labels))
    assert counts[1] > counts[0]


@pytest.mark.parametrize('kwargs, match', [
    (dict(digit_size=50, canvas=40), 'digit_size'),
    (dict(mask_threshold=1.0), 'mask_threshold'),
    (dict(mask_threshold=-0.1), 'mask_threshold'),
])
def test_voc_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_digits_voc(str(tmp_path), **kwargs)


def test_folder_split(tmp_path):
    make_digits_folder(str(tmp_path), size=16, val_every=5, limit=60)
    train = list(tmp_path.glob('train/*/*.png'))
    val = list(tmp_path.glob('val/*/*.png'))
    _, labels = load_digit_images(16)
    labels = labels[:60]
    # slow rule: an image is in val when it is the 2nd, 7th, ... of its digit
    expected = {
        index
        for index in range(60)
        if (labels[:index] == labels[index]).sum() % 5 == 1
    }
    assert {int(path.stem) for path in val} == expected
    assert len(train) + len(val) == 60
    for path in train + val:
        assert labels[int(path.stem)] == int(path.parent.name)
    # every digit with two images or more is in both splits
    digits = {str(d) for d in set(labels.tolist())}
    assert {p.name for p in (tmp_path / 'train').iterdir()} == digits
    assert {p.name
            for p in (tmp_path / 'val').iterdir()} == {
                str(d)
                for d in set(labels.tolist()) if (labels == d).sum() >= 2
            }


def test_folder_written_with_another_split_is_refused(tmp_path):
    make_digits_folder(str(tmp_path), size=16, val_every=5, limit=80)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*.png'))
    with pytest.raises(ValueError, match='other split'):
        make_digits_folder(str(tmp_path), size=16, val_every=3, limit=80)
    # nothing was moved, removed or added
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*.png'))
    assert after == before
