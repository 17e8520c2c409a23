"""Data preparation, splits and reporting of
tools/experiments/reproduce_fashion_mnist.py."""
import gzip
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from tool_runs import load_tool

DEFAULT_SCOPE = 'mmpretrain'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = 'experiments/reproduce_fashion_mnist.py'


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
    script = load_tool(SCRIPT)
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
    script = load_tool(SCRIPT)
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


def _runs(values, ratio=None):
    runs = {
        split: [{
            'accuracy/top1': v
        } for v in values]
        for split in ('val', 'test')
    }
    runs['grad_ratio'] = [
        None if ratio is None else dict(first=10 * ratio, mean=ratio)
        for _ in values
    ]
    return runs


def test_report_compares_with_ce_and_feature_mixup(tmp_path):
    script = load_tool(SCRIPT)
    report = dict(
        probe_top1=dict(pixels=80.0, centred_pixels=82.0, pretrain0=88.0),
        pairs=[(0, 0), (0, 1), (1, 0), (1, 1)],
        fractions={
            '1%':
            dict(
                ce=_runs([70, 71, 72, 73]),
                **{
                    'feature mixup': _runs([71, 71, 73, 74]),
                    'coretune eta 0.1': _runs([70, 72, 75, 77], 0.05),
                    'coretune eta 1': _runs([69, 70, 71, 72], 0.5),
                })
        })
    script.write_report(report, str(tmp_path))
    text = (tmp_path / 'fashion_mnist.md').read_text()
    assert 'centred_pixels: 82.00' in text
    # eta chosen on validation: 0.1 (mean 73.5 against 70.5)
    assert 'eta chosen on validation: coretune eta 0.1' in text
    assert 'gradient ratio on the features: 0.050' in text
    # every variant that logged the ratio, the mean then the first step
    assert '| coretune eta 0.1 | 0.050 | 0.500 |' in text
    assert '| coretune eta 1 | 0.500 | 5.000 |' in text
    assert '| ce |' not in text.split('gradient ratio on the features (')[1]
    assert '### 1% labels, test split, against ce' in text
    assert '| coretune eta 0.1 minus ce, pre-training 1 | +3.50 +/- 0.50 |' \
        in text
    # over pre-trainings: between (1.50, 1 dof) beats within (0.35)
    assert ('| coretune eta 0.1 minus ce, over pre-trainings | +2.00 +/- '
            '1.50 [-17.06, +21.06] |') in text
    assert '### 1% labels, test split, against feature mixup' in text
    # pre-training 0: (-1, +1) -> 0 +/- 1; pre-training 1: (+2, +3)
    assert ('coretune eta 0.1 minus feature mixup, pre-training 0 | +0.00 '
            '+/- 1.00') in text
    assert 'ce minus feature mixup' not in text
    assert '### 1% labels, val split, against coretune eta 0.1' in text
    assert (tmp_path / 'fashion_mnist_1pct.png').is_file()
    assert script.choose_eta(report['fractions']['1%']) == 'coretune eta 0.1'
    assert script.choose_eta(dict(ce=_runs([1]))) is None
    # the chosen eta is the default: its comparisons are not repeated
    assert text.count('split, against coretune eta 0.1') == 2


def test_report_compares_with_the_default_eta_when_another_is_chosen(tmp_path):
    script = load_tool(SCRIPT)
    report = dict(
        probe_top1=dict(pixels=80.0),
        pairs=[(0, 0), (0, 1), (1, 0), (1, 1)],
        fractions={
            '10%':
            dict(
                ce=_runs([70, 71, 72, 73]),
                **{
                    'coretune eta 0.1': _runs([70, 71, 72, 74], 0.05),
                    'coretune eta 1': _runs([71, 72, 74, 75], 0.5),
                    'per-positive normalisation': _runs([71, 71, 73, 75]),
                })
        })
    script.write_report(report, str(tmp_path))
    text = (tmp_path / 'fashion_mnist.md').read_text()
    assert 'eta chosen on validation: coretune eta 1' in text
    assert script.DEFAULT_ETA_VARIANT == 'coretune eta 0.1'
    for split in ('val', 'test'):
        assert f'### 10% labels, {split} split, against coretune eta 1' in text
        assert (f'### 10% labels, {split} split, against coretune eta 0.1'
                in text)
    # pre-training 0: (+1, 0) -> +0.50 +/- 0.50; pre-training 1: (+1, +1)
    assert ('| per-positive normalisation minus coretune eta 0.1, '
            'pre-training 0 | +0.50 +/- 0.50 |') in text


@pytest.mark.parametrize('variant', [
    v
    for v in load_tool(SCRIPT).VARIANTS if v not in ('ce', 'coretune eta 0.1')
])
def test_each_variant_builds_a_head_that_differs(variant):
    """A variant's options are keys the head takes (an unknown key in a Core-
    tuning option dict is refused at build) and change its config."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    script = load_tool(SCRIPT)
    method, head = script.VARIANTS[variant]
    cfg = Config.fromfile(osp.join(REPO, script.CONFIGS[method]))
    default = cfg.model.head.to_dict()
    cfg.merge_from_dict(dict(model=dict(head=head)))
    assert cfg.model.head.to_dict() != default
    MODELS.build(cfg.model.head)


def test_plan_prints_the_design_and_runs_nothing(fake_source, tmp_path,
                                                 monkeypatch, capsys):
    script = load_tool(SCRIPT)
    source, _ = fake_source
    monkeypatch.setattr(script, 'DATA', str(tmp_path / 'data'))
    work_dir = tmp_path / 'runs'
    common = [
        '--plan', '--source', source, '--cache',
        str(tmp_path / 'cache'), '--work-dir',
        str(work_dir), '--jobs', '2'
    ]
    script.main(common + ['--fractions', '1%', '--tasks', 'cls'])
    out = capsys.readouterr().out
    # 2 pre-trainings x 45 epochs + 2 x 5 x 9 fine-tunes on 2 jobs
    assert 'left: 2 pre-trainings, 90 fine-tunes' in out
    minutes = (2 * 45 * script.PRETRAIN_MINUTES_PER_EPOCH +
               90 * script.FINETUNE_MINUTES['1%'] / 2)
    assert f'about {minutes:.0f} minutes' in out
    # 10 %: the baselines, the eta sweep and the per-positive normalisation
    script.main(common + ['--fractions', '10%', '--tasks', 'cls'])
    assert 'left: 2 pre-trainings, 60 fine-tunes' in capsys.readouterr().out
    # segmentation: 2 x 5 x 6 runs
    script.main(common + ['--tasks', 'seg'])
    out = capsys.readouterr().out
    assert 'left: 2 pre-trainings, 60 fine-tunes' in out
    minutes = (2 * 45 * script.PRETRAIN_MINUTES_PER_EPOCH +
               60 * script.SEG_MINUTES / 2)
    assert f'about {minutes:.0f} minutes' in out
    assert not work_dir.exists()


def test_probe_split_and_pixel_probe(fake_source, tmp_path, monkeypatch):
    """The probe's memory and queries are disjoint training images; the pixel
    probe is the k-NN of the (centred) flattened images."""
    knn_accuracy = load_tool('experiments/knn.py').knn_accuracy
    script = load_tool(SCRIPT)
    source, arrays = fake_source
    root = script.prepare_data(source, str(tmp_path / 'data'))
    monkeypatch.setattr(script, 'PROBE_MEMORY_PER_CLASS', 2)
    monkeypatch.setattr(script, 'PROBE_QUERIES_PER_CLASS', 1)
    labels = arrays['train-labels-idx1-ubyte']
    memory, queries = script.probe_split(labels)
    assert not set(memory) & set(queries)
    assert np.bincount(labels[memory]).tolist() == [2] * 10
    images = torch.tensor(
        arrays['train-images-idx3-ubyte'], dtype=torch.float32).flatten(1)
    targets = torch.tensor(labels)
    for centred in (False, True):
        feats = images - images[memory].mean(0) if centred else images
        expected = knn_accuracy(feats[memory], targets[memory], feats[queries],
                                targets[queries])
        assert script.knn_probe(None, root, centred) == expected


@pytest.fixture
def stubbed_design(tmp_path, monkeypatch):
    """The tool with tiny fractions and stand-ins for the probe and the pre-
    training (``/pretrain<seed>.pth``, its weights' fingerprint ``weights of
    <path>``): what runs is decided as for real, nothing trains."""
    script = load_tool(SCRIPT)
    monkeypatch.setattr(script, 'DATA', str(tmp_path / 'data'))
    monkeypatch.setattr(script, 'FRACTIONS', {'1%': 1, '10%': 2})
    monkeypatch.setattr(script, 'VAL_PER_CLASS', 1)
    monkeypatch.setattr(script, 'knn_probe', lambda *args, **kw: 50.0)
    monkeypatch.setattr(script, 'pretrain',
                        lambda seed, *args: f'/pretrain{seed}.pth')
    monkeypatch.setattr(script, 'weights_fingerprint',
                        lambda checkpoint: f'weights of {checkpoint}')
    return script


def test_each_fraction_fine_tunes_its_own_design(fake_source, stubbed_design,
                                                 tmp_path, monkeypatch):
    """What runs and what is reported at a fraction is that fraction's design
    (at 10 %: the subset in FRACTION_VARIANTS), not every variant."""
    script = stubbed_design
    source, _ = fake_source
    trained = []

    def finetune(variant, checkpoint, work_dir, *args):
        trained.append((variant, checkpoint))
        return dict(val={'accuracy/top1': 1.0}, test={'accuracy/top1': 1.0})

    monkeypatch.setattr(script, 'finetune', finetune)
    reports = []
    monkeypatch.setattr(script, 'write_report',
                        lambda report, out_dir: reports.append(report))
    script.main([
        '--source', source, '--cache',
        str(tmp_path / 'cache'), '--work-dir',
        str(tmp_path / 'runs'), '--out-dir',
        str(tmp_path / 'out'), '--tasks', 'cls', '--fractions', '10%',
        '--pretrain-seeds', '0', '--replicates', '0', '1', '--jobs', '1'
    ])
    design = script.FRACTION_VARIANTS['10%']
    assert len(design) < len(script.VARIANTS)
    assert sorted(trained) == sorted(
        (v, '/pretrain0.pth') for v in design for _ in range(2))
    assert list(reports[0]['fractions']['10%']) == [
        v for v in script.VARIANTS if v in design
    ]


@pytest.mark.slow
def test_tiny_pretraining_probe_and_finetune(fake_source, tmp_path,
                                             monkeypatch):
    """The pre-training recipe through tools/train.py (a few images, a tiny
    queue), resumed exactly when interrupted and remade with the same weights,
    its k-NN probe, its backbone kept apart (``--weights-dir``), and fine-
    tunes from the kept backbone: plain feature mixup evaluated on both splits
    and a segmenter."""
    script = load_tool(SCRIPT)
    source, arrays = fake_source
    root = script.prepare_data(source, str(tmp_path / 'data'))
    monkeypatch.setattr(script, 'DATA', root)
    monkeypatch.setattr(script, 'PROBE_MEMORY_PER_CLASS', 2)
    monkeypatch.setattr(script, 'PROBE_QUERIES_PER_CLASS', 1)
    tiny = [
        'train_dataloader.batch_size=8', 'model.queue_len=16',
        'model.backbone.norm_cfg.num_splits=2',
        'default_hooks.logger.interval=1'
    ]
    cache = str(tmp_path / 'cache')
    # stopped after its first epoch, then resumed to the end
    first = script.pretrain(0, cache, 2, tiny + ['train_cfg.max_epochs=1'])
    assert not osp.isfile(first)
    assert osp.isfile(osp.join(osp.dirname(first), 'epoch_1.pth'))
    checkpoint = script.pretrain(0, cache, 2, tiny)
    assert checkpoint == first and osp.isfile(checkpoint)
    # the ledger's premise: the same command remakes the same weights (here
    # in one go, so the resume above was exact as well)
    again = script.pretrain(0, str(tmp_path / 'again'), 2, tiny)
    assert script.weights_fingerprint(again) == script.weights_fingerprint(
        checkpoint)
    # the probe's features are the checkpoint's backbone's
    features = script.backbone_features(checkpoint,
                                        arrays['train-images-idx3-ubyte'][:3])
    assert features.shape == (3, 128) and torch.isfinite(features).all()
    assert script.backbone_features(
        first.replace('epoch_2', 'epoch_1'),
        arrays['train-images-idx3-ubyte'][:3]).ne(features).any()
    # the fine-tunes below start from the backbone kept apart (--weights-dir)
    kept = str(tmp_path / 'kept' / 'seed0.pth')
    assert script.keep_weights(checkpoint,
                               kept) == script.weights_fingerprint(checkpoint)
    assert script.backbone_features(
        kept, arrays['train-images-idx3-ubyte'][:3]).equal(features)
    labels = arrays['train-labels-idx1-ubyte']
    train_idx, val_idx = script.balanced_split(labels, 2, 1, seed=3)
    work_dir = str(tmp_path / 'mixup')
    results = script.finetune(
        'feature mixup', kept, work_dir, train_idx, val_idx, 3, 1, epochs=1)
    assert set(results) >= {'val', 'test'}
    assert 'grad_ratio' not in results  # no contrastive term to compare
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(work_dir, 'finetune_config.py'))
    assert cfg.model.head.contrast_loss is None
    assert cfg.model.head.mixup.partner == 'random'
    assert cfg.train_dataloader.dataset.indices == train_idx
    assert cfg.randomness.seed == 3

    # segmentation on held-out scenes from the same checkpoint
    monkeypatch.setattr(
        script, 'SEG_SCENES',
        dict(script.SEG_SCENES, counts=dict(train=8, val=4, test=4)))
    voc = script.make_scenes(str(tmp_path / 'scenes'), root, 0)
    seg_dir = str(tmp_path / 'seg')
    seg = script.finetune_seg(
        'contrast only, warm-up', kept, seg_dir, voc, 0, 1, iters=2)
    assert {'mIoU', 'FWIoU', 'MPA'} <= set(seg['test'])
    cfg = Config.fromfile(osp.join(seg_dir, 'test_config.py'))
    assert cfg.test_dataloader.dataset.ann_file.endswith('test.txt')
    assert cfg.custom_hooks[-1].type == 'ContrastWarmupHook'
    assert cfg.model.decode_head.mix_loss is False


def test_scenes_hold_out_their_source_images(fake_source, tmp_path,
                                             monkeypatch):
    """Validation and test scenes come from two disjoint halves of the test
    images, training scenes from the training images: make the halves' pixel
    values tell them apart and read them back."""
    script = load_tool(SCRIPT)
    source, arrays = fake_source
    root = script.prepare_data(source, str(tmp_path / 'data'))
    halves = np.array_split(
        np.random.default_rng(script.PROBE_SEED).permutation(20), 2)
    labels = script.read_idx(osp.join(root, script.FILES[3])).copy()
    # class 0 only in the first half, class 1 only in the second
    labels[halves[0]], labels[halves[1]] = 0, 1
    with open(osp.join(root, script.FILES[3]), 'wb') as f:
        f.write(idx_bytes(labels))
    train_labels = np.full(40, 9)
    with open(osp.join(root, script.FILES[1]), 'wb') as f:
        f.write(idx_bytes(train_labels))
    monkeypatch.setattr(
        script, 'SEG_SCENES',
        dict(script.SEG_SCENES, counts=dict(train=6, val=6, test=6)))
    voc = script.make_scenes(str(tmp_path / 'scenes'), root, 1)
    from PIL import Image
    seen = {}
    for split in ('train', 'val', 'test'):
        names = open(
            osp.join(voc, 'ImageSets', 'Segmentation',
                     f'{split}.txt')).read().split()
        seen[split] = set().union(*(set(
            np.unique(
                np.asarray(
                    Image.open(osp.join(voc, 'SegmentationClass',
                                        f'{n}.png')))).tolist())
                                    for n in names))
    assert seen['train'] - {0, 255} == {10}
    assert seen['val'] - {0, 255} == {1}
    assert seen['test'] - {0, 255} == {2}


def test_parallel_fine_tunes_write_their_configs(tmp_path):
    """`--jobs 2` writes configs from two threads; MMEngine's parser is not
    thread-safe (pkg_resources), so unguarded most of these fail."""
    script = load_tool(SCRIPT)

    def write(task):
        variant, rep = task
        script.write_configs(
            str(tmp_path / f'{rep}' / script.slug(variant)), variant,
            '/nowhere.pth', [0, 1], [2, 3], rep, None)
        return rep

    tasks = [(v, r) for r in range(3) for v in ('ce', 'coretune eta 1')]
    expected = {task: task[1] for task in tasks}
    assert script.run_parallel(tasks, write, jobs=2) == expected
    for variant, rep in tasks:
        folder = tmp_path / f'{rep}' / script.slug(variant)
        assert (folder / 'finetune_config.py').is_file()
        assert (folder / 'val_config.py').is_file()


def test_long_fine_tunes_save_before_their_end(tmp_path):
    """A 10 % fine-tune takes about 20 minutes: it must leave a checkpoint to
    resume from well before its last epoch, and keep the one before it while
    the next is written."""
    from mmengine.config import Config
    script = load_tool(SCRIPT)
    for epochs in (None, 12):
        config, _ = script.write_configs(
            str(tmp_path / str(epochs)), 'ce', '/nowhere.pth', [0, 1], [2, 3],
            0, epochs)
        cfg = Config.fromfile(config)
        hook = cfg.default_hooks.checkpoint
        assert hook.interval < cfg.train_cfg.max_epochs
        assert hook.max_keep_ckpts == 2


def test_grad_ratios_count_a_resumed_step_once(tmp_path):
    """A run resumed from epoch 5 logs again the steps after that checkpoint
    that the interrupted attempt had already logged; each counts once, the
    later log wins, and the order is the steps' order."""
    script = load_tool(SCRIPT)

    def log(folder, entries):
        path = tmp_path / folder / 'vis_data'
        path.mkdir(parents=True)
        with open(path / 'scalars.json', 'w') as f:
            for step, ratio in entries:
                f.write(json.dumps(dict(step=step, core_grad_ratio=ratio)))
                f.write('\n')
                f.write(json.dumps(dict(step=step, accuracy=1.0)) + '\n')

    log('20260101_000000', [(10, 1.0), (20, 2.0), (30, 3.0)])
    log('20260101_010000', [(20, 5.0), (30, 7.0), (40, 4.0)])
    assert script.grad_ratios(str(tmp_path)) == [1.0, 5.0, 7.0, 4.0]


def test_weights_fingerprint_is_of_the_backbone_weights_only(tmp_path):
    """The same backbone tensors give the same fingerprint whatever else the
    file holds or the order of its keys; a changed value, name or dtype changes
    it."""
    script = load_tool(SCRIPT)
    gen = torch.Generator().manual_seed(0)
    backbone = {
        'backbone.conv.weight': torch.randn(4, 3, 3, 3, generator=gen),
        'backbone.bn.running_mean': torch.randn(4, generator=gen),
    }

    def save(name, state, **extra):
        path = str(tmp_path / name)
        torch.save(dict(state_dict=state, **extra), path)
        return script.weights_fingerprint(path)

    reference = save('a.pth', backbone, meta=dict(time='12:00'))
    assert len(reference) == 16
    assert save(
        'b.pth',
        dict(
            reversed(list(backbone.items())),
            **{'neck.fc.weight': torch.ones(2)}),
        meta=dict(time='13:00'),
        optimizer=dict(lr=0.1)) == reference
    changed = dict(backbone)
    changed['backbone.bn.running_mean'] = backbone[
        'backbone.bn.running_mean'].clone()
    changed['backbone.bn.running_mean'][0] += 1e-6
    renamed = {k.replace('conv', 'conv1'): v for k, v in backbone.items()}
    doubled = {k: v.double() for k, v in backbone.items()}
    others = {
        save(f'{i}.pth', s)
        for i, s in enumerate([changed, renamed, doubled])
    }
    assert reference not in others and len(others) == 3
    with pytest.raises(ValueError, match='no backbone'):
        save('neck.pth', {'neck.fc.weight': torch.ones(2)})


def test_ledger_runs_are_reused_for_the_same_weights_only(
        fake_source, stubbed_design, tmp_path, monkeypatch, capsys):
    """A run recorded from the same pre-trained weights is not run again (also
    not counted as left by --plan) and its metrics reach the report; one
    recorded from other weights, or under another definition of its variant,
    runs; every finished run is recorded; a relative --ledger is the caller's
    path."""
    script = stubbed_design
    runner = load_tool('experiments/runner.py')
    source, _ = fake_source
    reports = []
    monkeypatch.setattr(script, 'write_report',
                        lambda report, out_dir: reports.append(report))
    trained = []

    def finetune(variant, checkpoint, work_dir, *args):
        trained.append(variant)
        return dict(val={'accuracy/top1': 2.0}, test={'accuracy/top1': 3.0})

    monkeypatch.setattr(script, 'finetune', finetune)
    path = tmp_path / 'runs.jsonl'

    def main(*extra):
        monkeypatch.chdir(tmp_path)  # main() moves to the repository
        script.main(args + list(extra))

    args = [
        '--source', source, '--cache',
        str(tmp_path / 'cache'), '--work-dir',
        str(tmp_path / 'runs'), '--tasks', 'cls', '--fractions', '1%',
        '--pretrain-seeds', '0', '--replicates', '0', '--variants', 'ce',
        'feature mixup', 'coretune eta 0.1', 'coretune eta 1', '--ledger',
        'runs.jsonl', '--jobs', '1'
    ]
    lengths = script.schedule_lengths(script.parse_args(args))
    assert lengths['cls'] == dict(ce=40, coretune=40)

    def key(variant):
        return script.run_key('1%', 0, 0, variant, lengths)

    ledger = runner.Ledger(str(path))
    weights = 'weights of /pretrain0.pth'
    recorded = dict(val={'accuracy/top1': 1.0}, test={'accuracy/top1': 1.0})
    ledger.add(key('ce'), weights, recorded)
    ledger.add(key('feature mixup'), 'other weights', recorded)
    ledger.add(
        dict(key('coretune eta 1'), definition='0' * 8), weights, recorded)
    main('--plan')
    # feature mixup counts as done until the weights are known
    assert 'left: 1 pre-trainings, 2 fine-tunes' in capsys.readouterr().out
    main()
    assert sorted(trained) == [
        'coretune eta 0.1', 'coretune eta 1', 'feature mixup'
    ]
    assert reports[0]['fractions']['1%']['ce']['test'] == [recorded['test']]
    after = runner.Ledger(str(path))
    for variant in ('feature mixup', 'coretune eta 0.1', 'coretune eta 1'):
        assert after.get(key(variant), weights)['test']['accuracy/top1'] == 3.0
    assert after.get(key('ce'), weights) == recorded
    trained.clear()
    main()  # everything recorded now
    assert trained == []


def test_run_keys_name_the_variant_definition_and_schedule(monkeypatch):
    script = load_tool(SCRIPT)
    lengths = dict(cls=dict(ce=40, coretune=30), seg=dict(ce=800, coretune=9))
    ce = script.run_key('10%', 1, 2, 'ce', lengths)
    core = script.run_key('10%', 1, 2, 'coretune eta 0.1', lengths)
    assert (ce['length'], core['length']) == (40, 30)
    assert ce['definition'] != core['definition']
    assert script.run_key('seg', 0, 0, 'contrast only', lengths)['length'] == 9
    eta1 = script.run_key('10%', 1, 2, 'coretune eta 1', lengths)
    monkeypatch.setitem(script.VARIANTS, 'coretune eta 1',
                        ('coretune', dict(contrast_weight=2.0)))
    assert script.run_key('10%', 1, 2, 'coretune eta 1',
                          lengths)['definition'] != eta1['definition']
    assert script.run_key('10%', 1, 2, 'coretune eta 0.1', lengths) == core


def test_a_run_folder_of_other_weights_is_cleared(tmp_path):
    """claim_run keeps a folder of these weights (marking it) and clears one
    of other weights: another fingerprint or, without one, a config naming
    another checkpoint or older than the checkpoint."""
    script = load_tool(SCRIPT)
    checkpoint = tmp_path / 'epoch_45.pth'
    checkpoint.write_text('weights')

    def folder(name, marker=None, named=str(checkpoint), age=0):
        work_dir = tmp_path / name
        work_dir.mkdir()
        config = work_dir / 'finetune_config.py'
        config.write_text('model = dict(backbone=dict(init_cfg=dict('
                          f'checkpoint={named!r})))\n')
        stamp = checkpoint.stat().st_mtime + age
        os.utime(config, (stamp, stamp))
        if marker:
            (work_dir / script.WEIGHTS_FILE).write_text(marker + '\n')
        script.claim_run(str(work_dir), str(config), str(checkpoint), 'w0')
        return work_dir

    for kept in (folder('same', marker='w0'), folder('adopted', age=5)):
        assert (kept / script.WEIGHTS_FILE).read_text() == 'w0\n'
    for cleared in (folder('other', marker='w1'),
                    folder('shorter', named=str(tmp_path / 'epoch_3.pth')),
                    folder('older', age=-5)):
        assert not cleared.exists()
    script.claim_run(str(tmp_path / 'absent'), 'x', str(checkpoint), 'w0')
    assert not (tmp_path / 'absent').exists()


def test_kept_weights_are_the_backbone_and_never_overwritten(tmp_path):
    """keep_weights writes the backbone tensors of a pre-training unchanged
    (same fingerprint, nothing else), keeps a file of the same weights and
    refuses to replace one of other weights."""
    script = load_tool(SCRIPT)
    gen = torch.Generator().manual_seed(0)
    state = {
        'backbone.conv.weight': torch.randn(4, 3, 3, 3, generator=gen),
        'backbone.bn.num_batches_tracked': torch.tensor(7),
        'neck.fc.weight': torch.randn(2, 4, generator=gen),
    }
    source = tmp_path / 'run' / 'epoch_45.pth'
    source.parent.mkdir()
    torch.save(dict(state_dict=state, optimizer=dict(lr=0.1)), source)
    kept = str(tmp_path / 'kept' / 'seed0.pth')
    fingerprint = script.keep_weights(str(source), kept)
    assert fingerprint == script.weights_fingerprint(str(source))
    written = torch.load(kept, weights_only=True)
    assert set(written) == {'state_dict', 'meta'}
    assert written['meta']['fingerprint'] == fingerprint
    assert set(written['state_dict']) == {
        'backbone.conv.weight', 'backbone.bn.num_batches_tracked'
    }
    for key, value in written['state_dict'].items():
        assert value.dtype == state[key].dtype and value.equal(state[key])
    assert script.keep_weights(str(source), kept) == fingerprint
    state['backbone.conv.weight'] = state['backbone.conv.weight'] + 1
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), other)
    before = open(kept, 'rb').read()
    with pytest.raises(FileExistsError, match='--weights-dir'):
        script.keep_weights(str(other), kept)
    assert open(kept, 'rb').read() == before
    assert os.listdir(osp.dirname(kept)) == ['seed0.pth']  # no partial file


def test_kept_weights_spare_a_new_machine_the_pre_training(
        fake_source, stubbed_design, tmp_path, monkeypatch, capsys):
    """With --weights-dir, a pre-training made is kept there and fine-tuned
    from; on a new machine (an empty cache) the kept weights are used and
    nothing is pre-trained again, also by --plan's count."""
    script = stubbed_design
    source, _ = fake_source
    pretrained, kept, tuned = [], [], []

    def pretrain(seed, *args):
        pretrained.append(seed)
        return f'/pretrain{seed}.pth'

    def keep_weights(checkpoint, path):
        kept.append(checkpoint)
        os.makedirs(osp.dirname(path), exist_ok=True)
        open(path, 'w').close()

    def finetune(variant, checkpoint, *args):
        tuned.append(checkpoint)
        return dict(val={'accuracy/top1': 1.0}, test={'accuracy/top1': 1.0})

    monkeypatch.setattr(script, 'pretrain', pretrain)
    monkeypatch.setattr(script, 'keep_weights', keep_weights)
    monkeypatch.setattr(script, 'finetune', finetune)
    monkeypatch.setattr(script, 'write_report', lambda *args: None)

    def main(machine, *extra):
        monkeypatch.chdir(tmp_path)  # main() moves to the repository
        script.main([
            '--source', source, '--cache',
            str(tmp_path / machine / 'cache'), '--work-dir',
            str(tmp_path / machine / 'runs'), '--tasks', 'cls', '--fractions',
            '1%', '--pretrain-seeds', '0', '--replicates', '0', '--variants',
            'ce', '--jobs', '1', '--weights-dir', 'kept', *extra
        ])

    name = osp.splitext(osp.basename(script.PRETRAIN_CONFIG))[0]
    path = str(tmp_path / 'kept' / f'{name}_e45_seed0.pth')
    main('first', '--plan')
    assert 'left: 1 pre-trainings' in capsys.readouterr().out
    main('first')
    assert (pretrained, kept, tuned) == ([0], ['/pretrain0.pth'], [path])
    main('second', '--plan')
    assert 'left: 0 pre-trainings' in capsys.readouterr().out
    main('second')
    assert (pretrained, kept, tuned) == ([0], ['/pretrain0.pth'], [path] * 2)
