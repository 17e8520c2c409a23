"""The generated demo datasets."""
import numpy as np
import pytest
from PIL import Image

from coretune_mm.datasets.demo_data import (load_digit_images,
                                            make_digits_folder,
                                            make_digits_voc, write_voc_scenes)


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


def _pool(classes, num=6, size=10, value=200):
    """Object images of the given classes: a filled square each."""
    images = np.zeros((num, size, size), np.uint8)
    images[:, 2:-2, 2:-2] = value
    return images, np.array([classes[i % len(classes)] for i in range(num)])


def test_scenes_draw_each_split_from_its_own_pool(tmp_path):
    # pools with disjoint classes: a split's labels show where its objects
    # came from
    pools = dict(train=_pool([0, 1]), val=_pool([2]), test=_pool([3, 4]))
    counts = dict(train=8, val=4, test=5)
    root = write_voc_scenes(
        str(tmp_path / 'voc'),
        pools,
        counts,
        canvas=24,
        max_objects=2,
        grey=True)
    seen = {}
    for split, count in counts.items():
        names = open(
            f'{root}/ImageSets/Segmentation/{split}.txt').read().split()
        assert len(names) == count
        seen[split] = set()
        for name in names:
            label = np.asarray(
                Image.open(f'{root}/SegmentationClass/'
                           f'{name}.png'))
            seen[split] |= set(np.unique(label).tolist())
            image = np.asarray(Image.open(f'{root}/JPEGImages/{name}.jpg'))
            assert image.shape == (24, 24, 3)
            # grey: the channels agree up to JPEG's chroma rounding
            assert np.abs(image.astype(int) -
                          image.mean(2, keepdims=True)).max() <= 3
    assert seen['train'] - {0, 255} <= {1, 2}
    assert seen['val'] - {0, 255} == {3}
    assert seen['test'] - {0, 255} <= {4, 5}
    with pytest.raises(ValueError, match="no object images for split 'val'"):
        write_voc_scenes(
            str(tmp_path / 'x'), dict(train=pools['train']),
            dict(train=1, val=1))
    with pytest.raises(ValueError, match='do not fit'):
        write_voc_scenes(str(tmp_path / 'x'), pools, dict(train=1), canvas=8)
