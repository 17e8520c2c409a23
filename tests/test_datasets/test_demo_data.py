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
    make_digits_folder(str(tmp_path), size=16, val_every=5, limit=50)
    train = list(tmp_path.glob('train/*/*.png'))
    val = list(tmp_path.glob('val/*/*.png'))
    assert len(train) == 40 and len(val) == 10
    _, labels = load_digit_images(16)
    for path in val:
        assert int(path.stem) % 5 == 0
        assert labels[int(path.stem)] == int(path.parent.name)
