"""Data preparation, splits and reporting of
tools/reproduce_fashion_mnist.py."""
import gzip
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch

DEFAULT_SCOPE = 'mmpretrain'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_script():
    spec = importlib.util.spec_from_file_location(
        'reproduce_fashion_mnist',
        osp.join(REPO, 'tools', 'reproduce_fashion_mnist.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx format: 0, 0, dtype code 0x08 (uint8), ndim, sizes, data."""
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fake_source(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        'train-images-idx3-ubyte': rng.integers(0, 255, (40, 28, 28)),
        'train-labels-idx1-ubyte': np.arange(40) % 10,
        't10k-images-idx3-ubyte': rng.integers(0, 255, (20, 28, 28)),
        't10k-labels-idx1-ubyte': np.arange(20) % 10,
    }
    source = tmp_path / 'source'
    source.mkdir()
    for name, array in arrays.items():
        with gzip.open(source / f'{name}.gz', 'wb') as f:
            f.write(idx_bytes(array))
    return str(source), arrays


def test_prepare_data_and_read_idx(fake_source, tmp_path):
    script = load_script()
    source, arrays = fake_source
    root = script.prepare_data(source, str(tmp_path / 'data'))
    for name, array in arrays.items():
        assert np.array_equal(script.read_idx(osp.join(root, name)), array)
    # MMPretrain's own FashionMNIST reads the prepared folder
    from mmpretrain.datasets import FashionMNIST
    train = FashionMNIST(data_root=root, download=False, test_mode=False)
    test = FashionMNIST(data_root=root, download=False, test_mode=True)
    assert len(train) == 40 and len(test) == 20
    assert train[3]['gt_label'] == 3
    with pytest.raises(FileNotFoundError, match='dataset-fashion-mnist'):
        script.prepare_data(str(tmp_path / 'nowhere'), str(tmp_path / 'x'))


def test_balanced_split_is_disjoint_and_balanced():
    script = load_script()
    labels = np.repeat(np.arange(10), 30)
    np.random.default_rng(1).shuffle(labels)
    train, val = script.balanced_split(labels, 4, 7)
    assert not set(train) & set(val)
    assert np.bincount(labels[train]).tolist() == [4] * 10
    assert np.bincount(labels[val]).tolist() == [7] * 10
    assert script.balanced_split(labels, 4, 7) == (train, val)  # fixed
    with pytest.raises(ValueError, match='class'):
        script.balanced_split(labels, 20, 20)


def test_gray_to_rgb_transform():
    from mmpretrain.registry import TRANSFORMS

    import coretune_mm  # noqa: F401
    transform = TRANSFORMS.build(dict(type='GrayToRGB'))
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = transform(dict(img=img))['img']
    assert out.shape == (3, 4, 3) and all(
        np.array_equal(out[..., c], img) for c in range(3))
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert transform(dict(img=rgb))['img'].shape == (3, 4, 3)
    with pytest.raises(ValueError, match='GrayToRGB'):
        transform(dict(img=np.zeros((3, 4, 2), np.uint8)))
    assert torch.is_tensor(torch.from_numpy(out))


def test_report_compares_within_each_pre_training(tmp_path, monkeypatch):
    script = load_script()
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1)]

    def runs(values):
        return {
            split: [{
                'accuracy/top1': v
            } for v in values]
            for split in ('val', 'test')
        }

    report = dict(
        probe_top1={
            0: 70.0,
            1: 71.0
        },
        pairs=pairs,
        fractions={
            '1%':
            dict(ce=runs([70, 71, 72, 73]), coretune=runs([70, 72, 75, 77]))
        })
    monkeypatch.chdir(tmp_path)
    script.write_report(report, None)
    text = (tmp_path / 'docs' / 'fashion_mnist.md').read_text()
    assert 'coretune minus ce, pre-training 1 | +3.50 +/- 0.50' in text
    assert 'coretune minus ce, over pre-trainings | +2.00 +/- 1.50' in text
    assert 'against the default' not in text  # nothing but CE to compare
    assert (tmp_path / 'docs' / 'fashion_mnist_1pct.png').is_file()
    # a variant is also compared with the shipped Core-tuning, seed by seed
    report['fractions']['1%']['no focal weight'] = runs([71, 71, 76, 75])
    script.write_report(report, None)
    text = (tmp_path / 'docs' / 'fashion_mnist.md').read_text()
    assert '### 1% labels, test split, against the default' in text
    # pre-training 0: (+1, -1) -> 0 +/- 1; pre-training 1: (+1, -2)
    assert ('no focal weight minus coretune, pre-training 0 | +0.00 +/- 1.00'
            in text)
    assert ('no focal weight minus coretune, over pre-trainings | '
            '-0.25 +/- 0.25' in text)
    assert 'ce minus coretune' not in text


@pytest.mark.parametrize('variant', [
    "reference's pairing", 'no focal weight', 'no hard positives',
    'no smooth classifier', 'smooth classifier alone'
])
def test_each_variant_builds_a_head_that_differs(variant):
    """A variant's options are keys the head takes (an unknown key in a
    Core-tuning option dict is refused at build) and change its config."""
    from mmengine.config import Config, DictAction
    from mmpretrain.registry import MODELS
    script = load_script()
    method, options = script.VARIANTS[variant]
    cfg = Config.fromfile(osp.join(REPO, script.CONFIGS[method]))
    default = cfg.model.head.to_dict()
    cfg.merge_from_dict({
        key: DictAction._parse_iterable(value)
        for key, value in (option.split('=', 1) for option in options)
    })
    assert cfg.model.head.to_dict() != default
    MODELS.build(cfg.model.head)
