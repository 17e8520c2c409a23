"""Fashion-MNIST evidence: CE, feature mixup and Core-tuning, paired.

1. Data: the four idx files of Debian's ``dataset-fashion-mnist`` (60,000
   training and 10,000 test images), un-gzipped into ``data/fashion_mnist``
   where MMPretrain's ``FashionMNIST`` reads them.
2. Pre-training: MoCo-v2 (MMPretrain's implementation) of a ResNet-18 with
   the CIFAR stem on all 60,000 training images, labels unused
   (``configs/fashion_mnist/mocov2_*.py``: Shuffle-BN by split batch norm,
   EMA 0.99, warm-up, views augmented in batches), once per pre-training
   seed; cached in ``~/.cache/coretune_mm/fashion_mnist`` (resumed from its
   last epoch when interrupted) and reused. Each checkpoint's quality is a
   weighted 20-NN probe of the frozen backbone: 10,000 training images as
   the memory and 5,000 other training images as the queries (never the
   test set), next to the same probe on the raw and the centred pixels.
3. Fine-tuning: ``configs/fashion_mnist/resnet18_{ce,coretune}_*.py`` on a
   class-balanced labelled subset (1 % = 600 images; 10 %) with a disjoint
   class-balanced validation split of 5,000 training images (to choose on);
   the 10,000 test images are reported on. Replicate r draws its subset and
   validation split with seed r and fine-tunes with seed r, the same for
   every variant, from every pre-training. At 10 % only CE, feature mixup,
   the eta sweep and the per-positive normalisation run. A fine-tune saves
   a checkpoint every ``CHECKPOINT_EVERY`` epochs, so an interrupted one
   resumes exactly.
4. Segmentation on held-out scenes (``--tasks seg``): DeepLab-V3 over the
   same backbone on 64 x 64 scenes of Fashion-MNIST items; training scenes
   from the training images, validation and test scenes from two disjoint
   halves of the test images, so no evaluated scene reuses an image that
   training or pre-training saw. CE and the pixel variants of
   ``SEG_VARIANTS``, replicate r with scene seed r and fine-tuning seed r.
5. Report: paired differences (same pre-training and replicate) against CE
   and against plain feature mixup, on validation and test, per
   pre-training and over pre-trainings (standard error: the larger of the
   between- and within-pre-training estimates, with a 95 % t interval), in
   ``--out-dir`` (``fashion_mnist{,_scenes}.{md,json,png}``; copying them to
   ``docs/`` is a deliberate step). Core-tuning's eta and the pixel variant
   are chosen on validation.

The design (pre-training seeds, replicates, variants) is fixed below and
printed with the expected wall time before anything runs; every run is
cached per (fraction, pre-training, replicate, variant) and skipped when
the script runs again, so the design completes over several invocations.
``--ledger`` (a path from the caller's directory) also records each
finished run in a file kept with the evidence, keyed by the fingerprint of
its pre-trained weights, so that a new machine runs only what is not
recorded for the same weights. ``--weights-dir`` keeps each pre-training's
backbone (a few MB) in a folder kept with the evidence as well, so that a
new machine fine-tunes from those weights instead of pre-training again.

Full design (80-100 minutes per pre-training; per fine-tune with 2 jobs,
about 3 minutes at 1 %, 12 at 10 % and 4 for a segmenter)::

    .venv/bin/python tools/experiments/reproduce_fashion_mnist.py --jobs 2

``--quick`` (one short pre-training, 2 replicates, 1 %, CE and Core-tuning,
no segmentation, under 45 minutes)::

    .venv/bin/python tools/experiments/reproduce_fashion_mnist.py --quick \
        --jobs 2
"""
import argparse
import gzip
import hashlib
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from knn import knn_accuracy
from paired import paired_plot, paired_table
from runner import (CONFIG_LOCK, REPO, Ledger, evaluate, run, run_parallel,
                    train_once)

SOURCE = '/usr/share/datasets/fashion-mnist'
DATA = 'data/fashion_mnist'
FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
CACHE = osp.join(
    os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')),
    'coretune_mm', 'fashion_mnist')
PRETRAIN_CONFIG = (
    'configs/fashion_mnist/'
    'mocov2_resnet18-cifar-w16_8xb32-shufflebn_fashion-mnist.py')
CONFIGS = dict(
    ce='configs/fashion_mnist/resnet18_ce_fashion-mnist.py',
    coretune='configs/fashion_mnist/resnet18_coretune_fashion-mnist.py')
FRACTIONS = {'1%': 60, '10%': 600}  # labelled images per class
VAL_PER_CLASS = 500
# the k-NN probe of a pre-training: memory and queries from the training
# images (a fixed split of its own), never from the test images
PROBE_MEMORY_PER_CLASS, PROBE_QUERIES_PER_CLASS, PROBE_SEED = 1000, 500, 1000
# The design, fixed before any result: every variant on every
# (pre-training, replicate); replicate r draws the labelled subset and the
# validation split with seed r and fine-tunes with seed r.
PRETRAIN_SEEDS = (0, 1)
REPLICATES = (0, 1, 2, 3, 4)
# what each variant changes in its config's head
_FEATURE_MIXUP = dict(
    contrast_loss=None,
    prior_correction=False,
    mixup=dict(partner='random', hn_lambda_min=0.0, hard_positives=False))
VARIANTS = {
    'ce': ('ce', {}),
    # plain feature mixup: random partners, lambda ~ Beta(1, 1) unclipped,
    # the labels mixed alike, no hard positives, no contrast
    'feature mixup': ('coretune', _FEATURE_MIXUP),
    'coretune eta 0.1': ('coretune', dict(contrast_weight=0.1)),
    'coretune eta 1': ('coretune', dict(contrast_weight=1.0)),
    'coretune eta 10': ('coretune', dict(contrast_weight=10.0)),
    # the same generated samples and soft labels, no contrastive term
    'smooth classifier alone': ('coretune', dict(contrast_loss=None)),
    'no smooth classifier': ('coretune', dict(smooth_classifier=False)),
    "reference's pairing":
    ('coretune',
     dict(
         mixup=dict(partner='random', hp_lambda_min=0.0),
         contrast_loss=dict(pair_label='exact'))),
    # SupCon's normalisation (each anchor's sum over its |P(i)| positives,
    # not over all 3B rows): a larger contrast, weighted towards anchors with
    # few positives. Added to the 1 % design after its first 80 runs; not a
    # candidate for the chosen eta.
    'per-positive normalisation':
    ('coretune',
     dict(contrast_weight=0.1, contrast_loss=dict(normalize='positives'))),
}
ETA_VARIANTS = [v for v in VARIANTS if v.startswith('coretune eta')]
# the shipped configs' eta: the report also compares with it when validation
# chose another one
DEFAULT_ETA_VARIANT = 'coretune eta 0.1'
# 10 % of the labels (a fine-tune costs ten times more): the baselines, the
# eta sweep, and the per-positive normalisation (added after the 1 % runs
# showed it above CE on both splits, to test that where it was not chosen)
FRACTION_VARIANTS = {
    '10%':
    ['ce', 'feature mixup'] + ETA_VARIANTS + ['per-positive normalisation']
}
QUICK = dict(
    tasks=['cls'],
    pretrain_seeds=[0],
    replicates=[0, 1],
    fractions=['1%'],
    variants=['ce', 'coretune eta 0.1'],
    pretrain_epochs=3)
# wall time on 2 cores (2 jobs of one thread for the fine-tunes), for the
# estimate printed before a run
PRETRAIN_MINUTES_PER_EPOCH = 2.3
FINETUNE_MINUTES = {'1%': 2.7, '10%': 12.0}  # measured
# a fine-tune saves every few epochs (and at its last) so that an
# interrupted run resumes (exactly) instead of starting over; two files are
# kept because MMEngine deletes the oldest before writing the next, and
# `last_checkpoint` must never name a file that is gone
CHECKPOINT_EVERY, CHECKPOINTS_KEPT = 5, 2
METRICS = ['accuracy/top1']
# in a run's folder: the fingerprint of the pre-trained weights it started from
WEIGHTS_FILE = 'pretrained_weights.txt'

# Segmentation on held-out scenes: training scenes from the training images,
# validation and test scenes from two disjoint halves of the test images
# (fixed halves); replicate r writes its scenes with seed r and fine-tunes
# with seed r.
SEG_DATA = 'data/fashion_mnist_scenes'
SEG_SCENES = dict(
    counts=dict(train=1000, val=500, test=1000),
    canvas=64,
    max_objects=2,
    mask_threshold=0.1,
    grey=True)
SEG_CONFIGS = dict(
    ce='configs/fashion_mnist/deeplabv3_r18-cifar-w16_ce_fashion-mnist-'
    'scenes.py',
    coretune='configs/fashion_mnist/deeplabv3_r18-cifar-w16_coretune_'
    'fashion-mnist-scenes.py')
_WARMUP = [dict(type='ContrastWarmupHook', warmup_iters=200)]
# (config, what changes in the decode head, hooks added)
SEG_VARIANTS = {
    'ce': ('ce', {}, []),
    'contrast only': ('coretune', dict(mix_loss=False), []),
    'contrast only, eta 1':
    ('coretune', dict(mix_loss=False, contrast_weight=1.0), []),
    'contrast only, warm-up': ('coretune', dict(mix_loss=False), _WARMUP),
    'smooth classifier, prior-corrected':
    ('coretune', dict(mix_loss=True, prior_correction=True), []),
    'smooth classifier, prior-corrected, detached':
    ('coretune', dict(mix_loss=True, prior_correction=True,
                      mix_detach=True), []),
}
SEG_METRICS = ['mIoU', 'FWIoU', 'MPA', 'aAcc']
SEG_MINUTES = 4.0


def prepare_data(source: str, root: str) -> str:
    """Un-gzip the idx files of ``source`` into ``root`` (once)."""
    for name in FILES:
        target = osp.join(root, name)
        if osp.isfile(target):
            continue
        packed = osp.join(source, name + '.gz')
        if not osp.isfile(packed):
            raise FileNotFoundError(
                f'--source: {packed} not found; install Debian\'s '
                '`dataset-fashion-mnist` (apt-get install '
                'dataset-fashion-mnist) or point --source at a folder with '
                'the four gzipped idx files')
        os.makedirs(root, exist_ok=True)
        with gzip.open(packed, 'rb') as src, open(target + '.tmp',
                                                  'wb') as dst:
            shutil.copyfileobj(src, dst)
        os.replace(target + '.tmp', target)
    return root


def read_idx(path: str) -> np.ndarray:
    """An idx file (the MNIST format) as a uint8 array."""
    with open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    shape = [
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)
    ]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def balanced_split(labels: np.ndarray,
                   per_class: int,
                   val_per_class: int,
                   seed: int = 0) -> Tuple[List[int], List[int]]:
    """Disjoint class-balanced index lists: a labelled subset and a
    validation split, ``per_class`` and ``val_per_class`` of each class."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        if len(members) < per_class + val_per_class:
            raise ValueError(f'class {cls}: {len(members)} images, fewer '
                             f'than {per_class} + {val_per_class}')
        train += members[:per_class].tolist()
        val += members[per_class:per_class + val_per_class].tolist()
    return sorted(train), sorted(val)


def pretrain_name(epochs: int, seed: int) -> str:
    """The name of a pre-training's cache folder and of its kept backbone
    (without ``.pth``): the config's name, the epochs and the seed."""
    name = osp.splitext(osp.basename(PRETRAIN_CONFIG))[0]
    return f'{name}_e{epochs}_seed{seed}'


def pretrain(seed: int,
             cache: str,
             epochs: Optional[int] = None,
             cfg_options: Sequence[str] = ()) -> str:
    """The MoCo-v2 checkpoint of ``seed``: trained once, cached, resumed from
    its last saved epoch after an interruption.

    Args:
        seed (int): Pre-training seed.
        cache (str): Folder of the cached pre-trainings.
        epochs (int, optional): Epochs; defaults to the config's.
        cfg_options (Sequence[str]): Further ``--cfg-options`` (the tests'
            tiny runs).

    Returns:
        str: the path of the last epoch's checkpoint.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, PRETRAIN_CONFIG))
    epochs = epochs or cfg.train_cfg.max_epochs
    work_dir = osp.join(cache, pretrain_name(epochs, seed))
    checkpoint = osp.join(work_dir, f'epoch_{epochs}.pth')
    if osp.isfile(checkpoint):
        return checkpoint
    options = [
        f'randomness.seed={seed}',
        f'train_dataloader.dataset.data_root={osp.join(REPO, DATA)}',
        f'train_cfg.max_epochs={epochs}', f'param_scheduler.1.T_max='
        f'{epochs - 1}', f'param_scheduler.1.end={epochs}', *cfg_options
    ]
    resume = ['--resume'] if osp.isfile(osp.join(work_dir,
                                                 'last_checkpoint')) else []
    run('tools/train.py', PRETRAIN_CONFIG, '--work-dir', work_dir, *resume,
        '--cfg-options', *options)
    return checkpoint


def backbone_state(checkpoint: str) -> dict:
    """The ``backbone.`` tensors of a checkpoint, without that prefix: what
    fine-tuning loads from a pre-training."""
    from coretune_mm.checkpoint import read_checkpoint, state_dict_of
    state = state_dict_of(
        read_checkpoint(checkpoint, 'checkpoint'), checkpoint, 'checkpoint')
    return {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }


def weights_fingerprint(checkpoint: str) -> str:
    """What fine-tuning takes from a pre-training, as 16 hex digits: the
    SHA-256 of the backbone's tensors (names, dtypes, shapes and bytes, in name
    order).

    Unlike the file's hash, it ignores what MMEngine writes beside the weights
    (times, paths, the optimiser), so a pre-training that reproduces its
    weights reproduces it.

    Returns:
        str: The fingerprint.

    Raises:
        ValueError: the checkpoint holds no ``backbone.`` tensors.
    """
    state = backbone_state(checkpoint)
    if not state:
        raise ValueError(f'checkpoint {checkpoint!r} holds no backbone.* '
                         'tensors to fingerprint')
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f'{name} {tensor.dtype} {list(tensor.shape)}'.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def keep_weights(checkpoint: str, path: str) -> str:
    """Write the backbone of the pre-training ``checkpoint`` to ``path``: a
    checkpoint of its own (``state_dict`` of the ``backbone.`` tensors,
    unchanged, and a ``meta`` naming their fingerprint), a few MB that can be
    kept with the evidence so that a new machine fine-tunes from the same
    weights instead of pre-training again.

    Written once: a file already at ``path`` is kept if it holds the same
    weights and is an error otherwise (nothing is overwritten).

    Returns:
        str: The fingerprint of the weights (:func:`weights_fingerprint`),
        the same for ``checkpoint`` and ``path``.

    Raises:
        FileExistsError: ``path`` holds other weights.
    """
    import torch
    fingerprint = weights_fingerprint(checkpoint)
    if osp.isfile(path):
        if weights_fingerprint(path) != fingerprint:
            raise FileExistsError(
                f'--weights-dir: {path!r} holds other pre-trained weights '
                f'than {checkpoint!r} (fingerprint {fingerprint}); move it '
                'away to keep these')
        return fingerprint
    state = {f'backbone.{k}': v for k, v in backbone_state(checkpoint).items()}
    folder = osp.dirname(path) or '.'
    os.makedirs(folder, exist_ok=True)
    # written under a name of its own, then linked to ``path``, which fails
    # rather than replace a file another run put there meanwhile
    handle, partial = tempfile.mkstemp(suffix='.partial', dir=folder)
    try:
        with os.fdopen(handle, 'wb') as f:
            torch.save(
                dict(
                    state_dict=state,
                    meta=dict(
                        fingerprint=fingerprint,
                        source=osp.basename(osp.dirname(checkpoint)) + '/' +
                        osp.basename(checkpoint))), f)
            f.flush()
            os.fsync(f.fileno())
        if weights_fingerprint(partial) != fingerprint:
            raise RuntimeError(f'{partial!r} does not read back as the '
                               f'weights of {checkpoint!r}')
        try:
            os.link(partial, path)
        except FileExistsError:
            return keep_weights(checkpoint, path)  # same weights, or raises
    finally:
        os.remove(partial)
    return fingerprint


def claim_run(work_dir: str, config: str, checkpoint: str,
              fingerprint: str) -> None:
    """Keep the run folder ``work_dir`` only if it belongs to these pre-trained
    weights; clear it otherwise, so that the run starts afresh instead of
    resuming, or reusing the metrics of, a run of other weights.

    A folder belongs to other weights when its ``WEIGHTS_FILE`` names another
    fingerprint or, without one, when its training ``config`` names another
    checkpoint file (e.g. a shorter pre-training's) or is older than the
    checkpoint (the weights were made again since). A folder kept is marked
    with ``fingerprint``.
    """
    if not osp.isdir(work_dir):
        return
    marker = osp.join(work_dir, WEIGHTS_FILE)
    if osp.isfile(marker):
        with open(marker) as f:
            mine = f.read().strip() == fingerprint
    elif osp.isfile(config):
        from mmengine.config import Config
        with CONFIG_LOCK:
            named = Config.fromfile(config).model.backbone.init_cfg.checkpoint
        mine = (
            named == checkpoint
            and osp.getmtime(config) >= osp.getmtime(checkpoint))
    else:
        mine = False
    if mine:
        mark_run(work_dir, fingerprint)
    else:
        shutil.rmtree(work_dir)


def mark_run(work_dir: str, fingerprint: str) -> None:
    """Name the pre-trained weights of the run in ``work_dir``."""
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, WEIGHTS_FILE), 'w') as f:
        f.write(fingerprint + '\n')


def definition_of(kind: str, variant: str) -> str:
    """8 hex digits of what defines a variant (its config and what it changes
    there), so that a changed definition is a new run for the ledger."""
    config, *changes = (SEG_VARIANTS if kind == 'seg' else VARIANTS)[variant]
    configs = SEG_CONFIGS if kind == 'seg' else CONFIGS
    text = json.dumps([configs[config], changes], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_key(kind: str, pre: int, rep: int, variant: str,
            lengths: Dict[str, Dict[str, int]]) -> dict:
    """A run's identity in the ledger: its place in the design (``kind``: a
    fraction or ``'seg'``), the variant's definition and the schedule's length
    (``lengths``: :func:`schedule_lengths`)."""
    method = (SEG_VARIANTS if kind == 'seg' else VARIANTS)[variant][0]
    return dict(
        task=kind,
        pretrain=pre,
        replicate=rep,
        variant=variant,
        definition=definition_of(kind, variant),
        length=lengths['seg' if kind == 'seg' else 'cls'][method])


def probe_split(labels: np.ndarray) -> Tuple[List[int], List[int]]:
    """The k-NN probe's memory and queries: disjoint, class-balanced training
    images (a split of their own, seed ``PROBE_SEED``)."""
    return balanced_split(labels, PROBE_MEMORY_PER_CLASS,
                          PROBE_QUERIES_PER_CLASS, PROBE_SEED)


def backbone_features(checkpoint: str,
                      images: np.ndarray,
                      batch: int = 500) -> 'torch.Tensor':  # noqa: F821
    """Globally pooled last-stage features of the frozen pre-trained backbone
    (the fine-tuning configs' backbone and normalisation) for (N, 28, 28) uint8
    images."""
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import coretune_mm  # noqa: F401
    cfg = Config.fromfile(osp.join(REPO, CONFIGS['ce']))
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg.pop('init_cfg', None)
    backbone = MODELS.build(backbone_cfg)
    backbone.load_state_dict(backbone_state(checkpoint))
    backbone.eval()
    preprocess = cfg.data_preprocessor
    mean = torch.tensor(preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocess.std).view(1, 3, 1, 1)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start:start + batch].copy()).float()
            x = x[:, None].expand(-1, 3, -1, -1)
            out.append(backbone((x - mean) / std)[-1].mean(dim=(2, 3)))
    return torch.cat(out)


def knn_probe(checkpoint: Optional[str],
              root: str,
              centred: bool = False) -> float:
    """Weighted 20-NN top-1 (%) on the probe split: of the frozen backbone of
    ``checkpoint``, or of the raw pixels when None (``centred``: minus the
    memory's mean image)."""
    import torch

    images = read_idx(osp.join(root, FILES[0]))
    labels = read_idx(osp.join(root, FILES[1]))
    memory, queries = probe_split(labels)
    chosen = memory + queries
    if checkpoint is None:
        features = torch.from_numpy(images[chosen].reshape(len(chosen),
                                                           -1)).float()
        if centred:
            features = features - features[:len(memory)].mean(dim=0)
    else:
        features = backbone_features(checkpoint, images[chosen])
    targets = torch.from_numpy(labels[chosen].astype(np.int64))
    num = len(memory)
    return knn_accuracy(features[:num], targets[:num], features[num:],
                        targets[num:])


def make_scenes(root: str, data: str, seed: int) -> str:
    """The held-out scene set of one replicate (written once): training scenes
    from the training images, validation and test scenes from two disjoint
    halves of the test images.

    Returns:
        str: the ``VOC2012`` folder.
    """
    from coretune_mm.datasets.demo_data import write_voc_scenes
    voc = osp.join(root, f'rep{seed}', 'VOC2012')
    done = osp.join(voc, 'ImageSets', 'Segmentation', 'test.txt')
    if osp.isfile(done):
        return voc
    train = (read_idx(osp.join(data,
                               FILES[0])), read_idx(osp.join(data, FILES[1])))
    test_images = read_idx(osp.join(data, FILES[2]))
    test_labels = read_idx(osp.join(data, FILES[3]))
    halves = np.array_split(
        np.random.default_rng(PROBE_SEED).permutation(len(test_labels)), 2)
    pools = dict(
        train=train,
        val=(test_images[halves[0]], test_labels[halves[0]]),
        test=(test_images[halves[1]], test_labels[halves[1]]))
    # the listing of the test split is written last: it marks a finished set
    return write_voc_scenes(voc, pools, seed=seed, **SEG_SCENES)


def slug(name: str) -> str:
    """A folder name for a variant."""
    return name.replace(' ', '_').replace("'", '').replace('.', 'p')


def write_configs(work_dir: str, variant: str, checkpoint: str,
                  train_idx: Sequence[int], val_idx: Sequence[int], seed: int,
                  epochs: Optional[int]) -> Tuple[str, str]:
    """The run's training config (its test split: the test images) and its
    validation config (the same with the validation split as test split),
    written with MMEngine's ``Config.dump``."""
    from mmengine.config import Config
    method, head = VARIANTS[variant]
    root = osp.join(REPO, DATA)
    overrides = dict(
        _base_=osp.join(REPO, CONFIGS[method]),
        model=dict(
            backbone=dict(init_cfg=dict(checkpoint=checkpoint)), head=head),
        train_dataloader=dict(
            dataset=dict(data_root=root, indices=list(train_idx))),
        val_dataloader=dict(
            dataset=dict(data_root=root, indices=list(val_idx))),
        test_dataloader=dict(dataset=dict(data_root=root)),
        randomness=dict(seed=seed),
        default_hooks=dict(
            checkpoint=dict(
                interval=CHECKPOINT_EVERY, max_keep_ckpts=CHECKPOINTS_KEPT)))
    if epochs:
        overrides.update(
            train_cfg=dict(max_epochs=epochs, val_interval=epochs),
            param_scheduler=dict(T_max=epochs))
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'finetune_config.py')
    val_config = osp.join(work_dir, 'val_config.py')
    with CONFIG_LOCK:
        Config(overrides).dump(config)
        val_cfg = Config.fromfile(config)
        val_cfg.test_dataloader = val_cfg.val_dataloader
        val_cfg.test_evaluator = val_cfg.val_evaluator
        val_cfg.dump(val_config)
    return config, val_config


def grad_ratios(work_dir: str) -> List[float]:
    """The ``core_grad_ratio`` values a run logged, in the order of their
    steps; a step logged again after a resume counts once (the later log)."""
    values = {}
    for folder in sorted(os.listdir(work_dir)):
        scalars = osp.join(work_dir, folder, 'vis_data', 'scalars.json')
        if not osp.isfile(scalars):
            continue
        with open(scalars) as f:
            for line in f:
                entry = json.loads(line)
                if 'core_grad_ratio' in entry:
                    values[entry['step']] = float(entry['core_grad_ratio'])
    return [values[step] for step in sorted(values)]


def finetune(variant: str,
             checkpoint: str,
             work_dir: str,
             train_idx: Sequence[int],
             val_idx: Sequence[int],
             seed: int,
             threads: Optional[int],
             epochs: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Train one variant once; evaluate on the validation split and the test
    images.

    Returns ``{'val': metrics, 'test': metrics}`` and, when
    logged, ``grad_ratio`` (first and mean of ``core_grad_ratio``).
    """
    config = osp.join(work_dir, 'finetune_config.py')
    val_config = osp.join(work_dir, 'val_config.py')
    train_once(
        work_dir, config, lambda: write_configs(
            work_dir, variant, checkpoint, train_idx, val_idx, seed, epochs),
        threads)
    results = evaluate(work_dir, dict(val=val_config, test=config), threads)
    ratios = grad_ratios(work_dir)
    if ratios:
        results['grad_ratio'] = dict(
            first=ratios[0], mean=float(np.mean(ratios)))
    return results


def finetune_seg(variant: str,
                 checkpoint: str,
                 work_dir: str,
                 voc: str,
                 seed: int,
                 threads: Optional[int],
                 iters: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Train one segmentation variant once on the scenes of ``voc`` (no
    validation during training); evaluate on its validation and test scenes.

    Returns ``{'val': metrics, 'test': metrics}``.
    """
    configs = {
        split: osp.join(work_dir, f'{split}_config.py')
        for split in ('train', 'val', 'test')
    }
    train_once(
        work_dir, configs['train'], lambda: write_seg_configs(
            configs, variant, checkpoint, voc, seed, iters), threads)
    return evaluate(work_dir, dict(val=configs['val'], test=configs['test']),
                    threads)


def write_seg_configs(configs: Dict[str, str], variant: str, checkpoint: str,
                      voc: str, seed: int, iters: Optional[int]) -> None:
    """Write one segmentation run's configs (``{split: path}``)."""
    from mmengine.config import Config
    method, head, hooks = SEG_VARIANTS[variant]
    base = Config.fromfile(osp.join(REPO, SEG_CONFIGS[method]))
    overrides = dict(
        _base_=osp.join(REPO, SEG_CONFIGS[method]),
        model=dict(
            backbone=dict(init_cfg=dict(checkpoint=checkpoint)),
            decode_head=head),
        train_dataloader=dict(dataset=dict(data_root=voc)),
        val_dataloader=dict(dataset=dict(data_root=voc)),
        test_dataloader=dict(dataset=dict(data_root=voc)),
        train_cfg=dict(val_interval=10**6),
        test_evaluator=dict(classwise=True),
        randomness=dict(seed=seed))
    if hooks:
        overrides['custom_hooks'] = list(base.custom_hooks) + hooks
    if iters:
        overrides['train_cfg'].update(max_iters=iters)
        overrides['param_scheduler'] = [
            dict(base.param_scheduler[0], end=iters)
        ]
        overrides['default_hooks'] = dict(checkpoint=dict(interval=iters))
    os.makedirs(osp.dirname(configs['train']), exist_ok=True)
    Config(overrides).dump(configs['train'])
    for split in ('val', 'test'):
        cfg = Config.fromfile(configs['train'])
        cfg.test_dataloader.dataset.ann_file = \
            f'ImageSets/Segmentation/{split}.txt'
        cfg.dump(configs[split])


def expected_minutes(pretrain_epochs: int, pretrainings_left: int,
                     runs_left: Dict[str, int], jobs: int) -> float:
    """Wall time left, from the per-epoch and per-run figures above
    (``runs_left``: ``{'1%' | '10%' | 'seg': runs}``)."""
    minutes = dict(FINETUNE_MINUTES, seg=SEG_MINUTES)
    runs = sum(minutes[kind] * left for kind, left in runs_left.items())
    return (pretrainings_left * pretrain_epochs * PRETRAIN_MINUTES_PER_EPOCH +
            runs / jobs)


def schedule_lengths(args: argparse.Namespace) -> Dict[str, Dict[str, int]]:
    """Each config's schedule as the runs use it (``--epochs`` and ``--seg-
    iters`` when given).

    Returns:
        dict: ``{'cls': {method: epochs}, 'seg': {method: iterations}}``.
    """
    from mmengine.config import Config

    def length(path: str, key: str, given: Optional[int]) -> int:
        if given:
            return given
        with CONFIG_LOCK:
            return Config.fromfile(osp.join(REPO, path)).train_cfg[key]

    return dict(
        cls={
            m: length(p, 'max_epochs', args.epochs)
            for m, p in CONFIGS.items()
        },
        seg={
            m: length(p, 'max_iters', args.seg_iters)
            for m, p in SEG_CONFIGS.items()
        })


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='one short pre-training, 2 replicates, 1 %%, CE and '
        'Core-tuning, no segmentation')
    parser.add_argument(
        '--tasks',
        nargs='+',
        choices=['cls', 'seg'],
        default=['cls', 'seg'],
        help='classification at the label fractions, segmentation on '
        'held-out scenes')
    parser.add_argument(
        '--replicates', type=int, nargs='+', default=list(REPLICATES))
    parser.add_argument(
        '--pretrain-seeds', type=int, nargs='+', default=list(PRETRAIN_SEEDS))
    parser.add_argument(
        '--pretrain-epochs',
        type=int,
        help="pre-training epochs (default: the config's)")
    parser.add_argument(
        '--fractions',
        nargs='+',
        choices=list(FRACTIONS),
        default=list(FRACTIONS))
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=list(VARIANTS),
        default=list(VARIANTS))
    parser.add_argument(
        '--seg-variants',
        nargs='+',
        choices=list(SEG_VARIANTS),
        default=list(SEG_VARIANTS))
    parser.add_argument('--source', default=SOURCE)
    parser.add_argument(
        '--cache',
        default=CACHE,
        help='where the pre-trained checkpoints are kept')
    parser.add_argument(
        '--work-dir',
        default=osp.join(CACHE, 'runs'),
        help='where the runs are kept (a cache, reused across sessions)')
    parser.add_argument(
        '--epochs',
        type=int,
        help="fine-tuning epochs (default: the config's)")
    parser.add_argument(
        '--seg-iters',
        type=int,
        help="segmentation iterations (default: the config's)")
    parser.add_argument(
        '--out-dir',
        default='work_dirs/fashion_mnist/report',
        help='where the report goes (copy it to docs/ deliberately)')
    parser.add_argument(
        '--ledger',
        help='a JSON-lines file of finished runs kept with the evidence '
        '(e.g. docs/evidence/fashion_mnist_runs.jsonl): each run is '
        'recorded when it finishes, and a recorded run of the same '
        'pre-trained weights is not run again, also on a new machine')
    parser.add_argument(
        '--weights-dir',
        help='a folder of pre-trained backbones kept with the evidence '
        '(e.g. docs/evidence/pretrained): a pre-training found there is '
        'not run again, one made is written there (a few MB each)')
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument(
        '--plan',
        action='store_true',
        help='print the design and the expected wall time, run nothing')
    args = parser.parse_args(argv)
    for option in ('ledger', 'weights_dir'):
        if getattr(args, option):
            setattr(args, option, osp.abspath(getattr(args, option)))
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.pretrain_epochs is None:
        from mmengine.config import Config
        args.pretrain_epochs = Config.fromfile(
            osp.join(REPO, PRETRAIN_CONFIG)).train_cfg.max_epochs
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    os.chdir(REPO)
    root = prepare_data(args.source, DATA)
    labels = read_idx(osp.join(root, FILES[1]))
    variants = ['ce'] + [v for v in args.variants if v != 'ce']
    seg_variants = ['ce'] + [v for v in args.seg_variants if v != 'ce']
    pairs = [(p, r) for p in args.pretrain_seeds for r in args.replicates]
    fractions = args.fractions if 'cls' in args.tasks else []

    def run_dir(kind: str, pre: int, rep: int, variant: str) -> str:
        return osp.join(args.work_dir, kind.replace('%', 'pct'),
                        f'pretrain{pre}', f'rep{rep}', slug(variant))

    # a pre-training's weights: those kept in --weights-dir, else the cache's
    kept = {
        seed:
        osp.join(args.weights_dir,
                 pretrain_name(args.pretrain_epochs, seed) + '.pth')
        for seed in args.pretrain_seeds if args.weights_dir
    }
    pretrained = {
        seed:
        kept[seed] if osp.isfile(kept.get(seed, '')) else osp.join(
            args.cache, pretrain_name(args.pretrain_epochs, seed),
            f'epoch_{args.pretrain_epochs}.pth')
        for seed in args.pretrain_seeds
    }
    to_pretrain = sum(not osp.isfile(path) for path in pretrained.values())

    def variants_of(fraction: str) -> List[str]:
        allowed = FRACTION_VARIANTS.get(fraction, variants)
        return [v for v in variants if v in allowed]

    kinds = {fraction: variants_of(fraction) for fraction in fractions}
    if 'seg' in args.tasks:
        kinds['seg'] = seg_variants
    ledger = Ledger(args.ledger)
    lengths = schedule_lengths(args)

    def key_of(kind: str, pre: int, rep: int, variant: str) -> dict:
        return run_key(kind, pre, rep, variant, lengths)

    # weights known already (cached pre-trainings): their records count as
    # done; a pre-training still to make counts its records of any weights
    known = {
        seed: weights_fingerprint(path)
        for seed, path in pretrained.items() if osp.isfile(path)
    }

    def done(kind: str, pre: int, rep: int, variant: str) -> bool:
        key = key_of(kind, pre, rep, variant)
        if pre in known:
            return ledger.get(key, known[pre]) is not None
        return ledger.recorded(key)

    left = {
        kind: sum(not done(kind, p, r, v) for p, r in pairs for v in names)
        for kind, names in kinds.items()
    }
    minutes = expected_minutes(args.pretrain_epochs, to_pretrain, left,
                               args.jobs)
    print(
        f'design: pre-trainings {args.pretrain_seeds} '
        f'({args.pretrain_epochs} epochs), replicates {args.replicates}, '
        f'tasks {list(kinds)}, variants {variants}, segmentation variants '
        f'{seg_variants}; left: '
        f'{to_pretrain} pre-trainings, '
        f'{sum(left.values())} fine-tunes; expected wall time about '
        f'{minutes:.0f} minutes',
        flush=True)
    if args.plan:
        return

    probes = dict(
        pixels=knn_probe(None, root),
        centred_pixels=knn_probe(None, root, centred=True))
    checkpoints, fingerprints = {}, {}
    for seed in args.pretrain_seeds:
        start = time.time()
        if pretrained[seed] == kept.get(seed):
            checkpoints[seed] = kept[seed]
        else:
            checkpoints[seed] = pretrain(seed, args.cache,
                                         args.pretrain_epochs)
        if seed not in known:
            print(
                f'pre-training {seed}: {(time.time() - start) / 60:.1f} '
                'minutes',
                flush=True)
        if seed in kept and checkpoints[seed] != kept[seed]:
            known[seed] = keep_weights(checkpoints[seed], kept[seed])
            checkpoints[seed] = kept[seed]
            print(f'pre-training {seed}: backbone kept in {kept[seed]}')
        probes[f'pretrain{seed}'] = knn_probe(checkpoints[seed], root)
        fingerprints[seed] = known.get(seed) or weights_fingerprint(
            checkpoints[seed])
    print(f'pre-trained weights (fingerprints): {fingerprints}', flush=True)
    print(
        '20-NN probe (top-1 %, training-image queries): ' +
        ', '.join(f'{k}: {v:.2f}' for k, v in probes.items()),
        flush=True)

    threads = max(1, (os.cpu_count() or 1) // args.jobs)

    def recorded_or_run(kind: str, pre: int, rep: int, variant: str,
                        config: str, fn: Callable[[str], dict]) -> dict:
        """The ledger's results of the run from these weights, or ``fn`` of the
        run's folder (claimed for these weights first; recorded once it
        returns).

        ``config``: the run's training config in its folder.
        """
        key = key_of(kind, pre, rep, variant)
        results = ledger.get(key, fingerprints[pre])
        if results is None:
            work_dir = run_dir(kind, pre, rep, variant)
            claim_run(work_dir, osp.join(work_dir, config), checkpoints[pre],
                      fingerprints[pre])
            results = fn(work_dir)
            mark_run(work_dir, fingerprints[pre])
            ledger.add(key, fingerprints[pre], results)
        return results

    report = dict(
        probe_top1=probes,
        weights=fingerprints,
        pairs=pairs,
        pretrain_epochs=args.pretrain_epochs,
        fractions={})
    for fraction in fractions:
        splits = {
            rep: balanced_split(labels, FRACTIONS[fraction], VAL_PER_CLASS,
                                rep)
            for rep in args.replicates
        }

        def one(task):
            variant, pre, rep = task
            train_idx, val_idx = splits[rep]

            def train(work_dir: str) -> dict:
                return finetune(variant, checkpoints[pre], work_dir, train_idx,
                                val_idx, rep, threads, args.epochs)

            metrics = recorded_or_run(fraction, pre, rep, variant,
                                      'finetune_config.py', train)
            print(
                f'{fraction}, {variant}, pre-training {pre}, replicate '
                f'{rep}: val top-1 {metrics["val"]["accuracy/top1"]:.2f}, '
                f'test top-1 {metrics["test"]["accuracy/top1"]:.2f}',
                flush=True)
            return metrics

        # the fraction's own design (at 10 %: a subset of the variants)
        results = run_parallel([(v, p, r) for p, r in pairs
                                for v in kinds[fraction]], one, args.jobs)
        report['fractions'][fraction] = {
            v: {
                key: [results[v, p, r].get(key) for p, r in pairs]
                for key in ('val', 'test', 'grad_ratio')
            }
            for v in kinds[fraction]
        }
    if fractions:
        write_report(report, args.out_dir)

    if 'seg' in args.tasks:
        scenes = {
            rep: make_scenes(SEG_DATA, root, rep)
            for rep in args.replicates
        }

        def one_seg(task):
            variant, pre, rep = task

            def train(work_dir: str) -> dict:
                return finetune_seg(variant, checkpoints[pre], work_dir,
                                    osp.join(REPO, scenes[rep]), rep, threads,
                                    args.seg_iters)

            metrics = recorded_or_run('seg', pre, rep, variant,
                                      'train_config.py', train)
            print(
                f'segmentation, {variant}, pre-training {pre}, replicate '
                f'{rep}: val mIoU {metrics["val"]["mIoU"]:.2f}, test mIoU '
                f'{metrics["test"]["mIoU"]:.2f}',
                flush=True)
            return metrics

        results = run_parallel([(v, p, r) for p, r in pairs
                                for v in seg_variants], one_seg, args.jobs)
        write_seg_report(
            dict(
                probe_top1=probes,
                weights=fingerprints,
                pairs=pairs,
                variants={
                    v: {
                        split: [results[v, p, r][split] for p, r in pairs]
                        for split in ('val', 'test')
                    }
                    for v in seg_variants
                }), args.out_dir)


def write_seg_report(report: dict, out_dir: str) -> None:
    """``fashion_mnist_scenes.{md,json,png}`` in ``out_dir``: every pixel
    variant against CE, same pre-training and replicate; the variant with the
    best mean validation mIoU is named as the one to choose."""
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'fashion_mnist_scenes.json'), 'w') as f:
        json.dump(report, f, indent=2)
    results = report['variants']
    groups = [pre for pre, _ in report['pairs']]
    core = [v for v in results if v != 'ce']
    lines = []
    if core:
        best = max(
            core,
            key=lambda v: np.mean([r['mIoU'] for r in results[v]['val']]))
        lines.append('Pixel variant chosen on validation (mean mIoU): '
                     f'{best}')
    for split in ('val', 'test'):
        lines.append(f'### Held-out scenes, {split} split, against CE\n\n' +
                     paired_table(results, 'ce', split, SEG_METRICS, groups,
                                  'pre-training'))
    paired_plot(results, 'ce', ['val', 'test'], SEG_METRICS,
                osp.join(out_dir, 'fashion_mnist_scenes.png'), groups,
                'pre-training')
    text = '\n\n'.join(lines)
    print(text)
    with open(osp.join(out_dir, 'fashion_mnist_scenes.md'), 'w') as f:
        f.write(text + '\n')


def choose_eta(results: dict) -> Optional[str]:
    """The Core-tuning variant with the best mean validation top-1 among those
    that differ only in eta (None when none ran)."""
    candidates = [v for v in ETA_VARIANTS if v in results]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda v: np.mean([r['accuracy/top1'] for r in results[v]['val']]))


def grad_ratio_rows(results: dict) -> List[str]:
    """A markdown row per variant that logged ``core_grad_ratio``."""
    rows = []
    for name, runs in results.items():
        ratios = [r for r in runs.get('grad_ratio', []) if r]
        if ratios:
            rows.append(f'| {name} | '
                        f'{np.mean([r["mean"] for r in ratios]):.3f} | '
                        f'{np.mean([r["first"] for r in ratios]):.3f} |')
    return rows


def write_report(report: dict, out_dir: str) -> None:
    """``fashion_mnist.{md,json}`` and a plot per fraction in ``out_dir``:

    every variant against CE and against feature mixup, and the ablations
    against the chosen Core-tuning and against the default eta's, same pre-
    training and replicate.
    """
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'fashion_mnist.json'), 'w') as f:
        json.dump(report, f, indent=2)
    probes = report['probe_top1']
    lines = [
        '20-NN probe (top-1 %; 10,000 training images as memory, 5,000 '
        'other training images as queries): ' +
        ', '.join(f'{k}: {v:.2f}' for k, v in probes.items())
    ]
    # replicates fine-tuned from one checkpoint are compared within it
    groups = [pre for pre, _ in report['pairs']]
    for fraction, results in report['fractions'].items():
        results = {
            name: {
                s: runs[s]
                for s in ('val', 'test')
            }
            for name, runs in results.items()
        }
        chosen = choose_eta(report['fractions'][fraction])
        if chosen:
            lines.append(f'### {fraction} labels: eta chosen on validation: '
                         f'{chosen}')
            ratios = [
                r['mean'] for r in report['fractions'][fraction][chosen].get(
                    'grad_ratio', []) if r
            ]
            if ratios:
                lines.append('mean contrastive / classification gradient '
                             f'ratio on the features: {np.mean(ratios):.3f}')
        ratio_rows = grad_ratio_rows(report['fractions'][fraction])
        if ratio_rows:
            lines.append(
                f'### {fraction} labels: contrastive / classification '
                'gradient ratio on the features (`core_grad_ratio`; the '
                'mean over runs of each run\'s mean, and of its first '
                'logged step)\n\n| variant | mean | first step |\n'
                '| --- | --- | --- |\n' + '\n'.join(ratio_rows))
        baselines = [
            b for b in dict.fromkeys(('ce', 'feature mixup', chosen,
                                      DEFAULT_ETA_VARIANT)) if b
        ]
        for baseline in baselines:
            if baseline not in results or len(results) < 2:
                continue
            against = {
                name: runs
                for name, runs in results.items()
                if name != 'ce' or baseline == 'ce'
            }
            if len(against) < 2:
                continue
            for split in ('val', 'test'):
                lines.append(f'### {fraction} labels, {split} split, against '
                             f'{baseline}\n\n' +
                             paired_table(against, baseline, split, METRICS,
                                          groups, 'pre-training'))
        paired_plot(
            results, 'ce', ['val', 'test'], METRICS,
            osp.join(out_dir, f'fashion_mnist_{fraction.rstrip("%")}pct.png'),
            groups, 'pre-training')
    text = '\n\n'.join(lines)
    print(text)
    with open(osp.join(out_dir, 'fashion_mnist.md'), 'w') as f:
        f.write(text + '\n')


if __name__ == '__main__':
    main()
