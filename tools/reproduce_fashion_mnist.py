"""Fashion-MNIST evidence: CE-tuning vs Core-tuning with paired seeds.

1. Data: the four idx files of Debian's ``dataset-fashion-mnist`` (60,000
   training and 10,000 test images), un-gzipped into ``data/fashion_mnist``
   where MMPretrain's ``FashionMNIST`` reads them.
2. Pre-training: MoCo-v2 (MMPretrain's implementation) of a ResNet-18 at
   32 px on the training images, labels unused, once per pre-training seed;
   cached in ``~/.cache/coretune_mm/fashion_mnist`` and reused. Its quality
   is reported by a weighted 20-NN probe of the frozen backbone (10,000
   training images as the memory, the 10,000 test images as queries).
3. Fine-tuning: ``configs/fashion_mnist/resnet18_{ce,coretune}_*.py`` on a
   class-balanced labelled subset (1 % = 600 images; 10 %) with a disjoint
   class-balanced validation split of 5,000 training images (to choose on);
   the 10,000 test images are reported on. The subset and the validation
   split are fixed (split seed 0); the fine-tuning seed varies, the same for
   CE and every variant, and each pre-training gets every seed.
4. Report: paired differences (variant minus CE, same pre-training and
   seed), mean +/- standard error, on validation and test, per pre-training
   and, with several, over pre-trainings (the standard error then counts
   checkpoints, not seeds), in ``docs/fashion_mnist.{md,json,png}``.

``--quick`` (one pre-training, 3 seeds, 1 %, CE and Core-tuning)::

    .venv/bin/python tools/reproduce_fashion_mnist.py --quick --jobs 2

Finished runs are kept (``val.json`` / ``test.json`` in each work dir) and
skipped when the script runs again.
"""
import argparse
import gzip
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SOURCE = '/usr/share/datasets/fashion-mnist'
DATA = 'data/fashion_mnist'
FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
CACHE = osp.join(
    os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')),
    'coretune_mm', 'fashion_mnist')
PRETRAIN_CONFIG = 'configs/fashion_mnist/mocov2_resnet18_fashion-mnist.py'
CONFIGS = dict(
    ce='configs/fashion_mnist/resnet18_ce_fashion-mnist.py',
    coretune='configs/fashion_mnist/resnet18_coretune_fashion-mnist.py')
FRACTIONS = {'1%': 60, '10%': 600}  # labelled images per class
VAL_PER_CLASS = 500
_HEAD = 'model.head.'
# Each variant spells out what it changes from the Core-tuning config.
VARIANTS = {
    'ce': ('ce', []),
    'coretune': ('coretune', []),
    "reference's pairing": ('coretune', [
        _HEAD + 'mixup.partner=random', _HEAD + 'mixup.hp_lambda_min=0.0',
        _HEAD + 'contrast_loss.pair_label=exact'
    ]),
    'random partners': ('coretune', [_HEAD + 'mixup.partner=random']),
    'hard positives unclipped':
    ('coretune', [_HEAD + 'mixup.hp_lambda_min=0.0']),
    'exact pair labels':
    ('coretune', [_HEAD + 'contrast_loss.pair_label=exact']),
    'no focal weight': ('coretune', [_HEAD + 'contrast_loss.gamma=0.0']),
    'no hard positives': ('coretune', [_HEAD + 'mixup.hard_positives=False']),
    'no hard negatives': ('coretune', [_HEAD + 'mixup.hard_negatives=False']),
    'no smooth classifier': ('coretune', [_HEAD + 'smooth_classifier=False']),
    # the smooth classifier alone: the same mixed samples and soft labels,
    # the contrastive gradient scaled by 1e-6 (eta = 0 would be plain CE)
    'smooth classifier alone': ('coretune', [_HEAD + 'contrast_weight=1e-6']),
}
METRICS = ['accuracy/top1']


def run(*cmd: str, threads: Optional[int] = None) -> None:
    print('+', ' '.join(cmd), flush=True)
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    subprocess.run([sys.executable, *cmd],
                   check=True,
                   cwd=REPO,
                   env=env,
                   stdout=subprocess.DEVNULL)


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


def pretrain(seed: int, epochs: int, subset: int, cache: str) -> str:
    work_dir = osp.join(cache, f'mocov2_e{epochs}_n{subset}_seed{seed}')
    checkpoint = osp.join(work_dir, f'epoch_{epochs}.pth')
    if not osp.isfile(checkpoint):
        run('tools/train.py', PRETRAIN_CONFIG, '--work-dir', work_dir,
            '--cfg-options', f'randomness.seed={seed}',
            f'train_dataloader.dataset.data_root={osp.join(REPO, DATA)}',
            f'train_dataloader.dataset.indices={subset}',
            f'train_cfg.max_epochs={epochs}',
            f'param_scheduler.0.T_max={epochs}',
            f'param_scheduler.0.end={epochs}',
            f'default_hooks.checkpoint.interval={epochs}')
    return checkpoint


def knn_probe(checkpoint: str, root: str, memory: int = 10000) -> float:
    """Weighted 20-NN top-1 (%) of the frozen pre-trained backbone."""
    import torch
    import torch.nn.functional as F
    from mmpretrain.registry import MODELS

    import coretune_mm  # noqa: F401
    from coretune_mm.evaluation import knn_accuracy
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    backbone = MODELS.build(dict(type='ResNet', depth=18))
    backbone.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    })
    backbone.eval()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)

    def features(images: np.ndarray) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 500):
                x = torch.from_numpy(images[start:start + 500].copy())
                x = x.float()[:, None].expand(-1, 3, -1, -1)
                x = F.interpolate(
                    x, size=32, mode='bilinear', align_corners=False)
                out.append(backbone((x - mean) / std)[-1].mean(dim=(2, 3)))
        return torch.cat(out)

    train_images = read_idx(osp.join(root, FILES[0]))[:memory]
    train_labels = read_idx(osp.join(root, FILES[1]))[:memory]
    test_images = read_idx(osp.join(root, FILES[2]))
    test_labels = read_idx(osp.join(root, FILES[3]))
    return knn_accuracy(
        features(train_images), torch.from_numpy(train_labels.copy()),
        features(test_images), torch.from_numpy(test_labels.copy()))


def finetune(variant: str,
             checkpoint: str,
             work_dir: str,
             train_idx: Sequence[int],
             val_idx: Sequence[int],
             seed: int,
             threads: Optional[int],
             epochs: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Train one variant once; evaluate on the validation split and the
    test images. Returns ``{'val': metrics, 'test': metrics}``."""
    method, options = VARIANTS[variant]
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'finetune_config.py')
    val_config = osp.join(work_dir, 'val_config.py')
    root = osp.join(REPO, DATA)
    with open(config, 'w') as f:
        f.write(f"_base_ = '{osp.join(REPO, CONFIGS[method])}'\n"
                f"model = dict(backbone=dict(init_cfg=dict(checkpoint="
                f"'{checkpoint}')))\n"
                f"train_dataloader = dict(dataset=dict(data_root='{root}', "
                f'indices={list(train_idx)}))\n'
                f"val_dataloader = dict(dataset=dict(data_root='{root}', "
                f'indices={list(val_idx)}))\n'
                f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    with open(val_config, 'w') as f:
        f.write("_base_ = './finetune_config.py'\n"
                'test_dataloader = {{_base_.val_dataloader}}\n'
                'test_evaluator = {{_base_.val_evaluator}}\n')
    options = [f'randomness.seed={seed}'] + list(options)
    if epochs:
        options += [
            f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs}',
            f'param_scheduler.T_max={epochs}',
            f'default_hooks.checkpoint.interval={epochs}'
        ]
    last_file = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last_file):
        run('tools/train.py',
            config,
            '--work-dir',
            work_dir,
            '--cfg-options',
            *options,
            threads=threads)
    with open(last_file) as f:
        last = f.read().strip()
    results = {}
    for split, split_config in (('val', val_config), ('test', config)):
        out = osp.join(work_dir, f'{split}.json')
        if not osp.isfile(out):
            run('tools/test.py',
                split_config,
                last,
                '--work-dir',
                work_dir,
                '--out-item',
                'metrics',
                '--out',
                out,
                '--cfg-options',
                *options,
                threads=threads)
        with open(out) as f:
            results[split] = json.load(f)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='one pre-training, 3 seeds, 1 %%, CE and '
        'Core-tuning')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--pretrain-seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--pretrain-epochs', type=int, default=10)
    parser.add_argument(
        '--pretrain-subset',
        type=int,
        default=20000,
        help='first N training images used by MoCo-v2')
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
    parser.add_argument('--source', default=SOURCE)
    parser.add_argument(
        '--cache',
        default=CACHE,
        help='where the pre-trained checkpoints are kept')
    parser.add_argument('--work-dir', default='work_dirs/fashion_mnist')
    parser.add_argument(
        '--epochs',
        type=int,
        help="fine-tuning epochs (default: the config's)")
    parser.add_argument('--jobs', type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.pretrain_seeds = args.seeds[:3], \
            args.pretrain_seeds[:1]
        args.fractions, args.variants = ['1%'], ['ce', 'coretune']
    os.chdir(REPO)
    root = prepare_data(args.source, DATA)
    labels = read_idx(osp.join(root, FILES[1]))

    checkpoints, probes = {}, {}
    for seed in args.pretrain_seeds:
        checkpoints[seed] = pretrain(seed, args.pretrain_epochs,
                                     args.pretrain_subset, args.cache)
        probes[seed] = knn_probe(checkpoints[seed], root)
        print(
            f'pre-training seed {seed}: 20-NN top-1 {probes[seed]:.2f}',
            flush=True)

    variants = ['ce'] + [v for v in args.variants if v != 'ce']
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    pairs = [(p, s) for p in args.pretrain_seeds for s in args.seeds]
    # (pre-training seed, fine-tuning seed) of each entry of the lists below
    report = dict(probe_top1=probes, pairs=pairs, fractions={})
    for fraction in args.fractions:
        train_idx, val_idx = balanced_split(labels, FRACTIONS[fraction],
                                            VAL_PER_CLASS)
        tasks = [(v, p, s) for p, s in pairs for v in variants]

        def one(task):
            variant, pre, seed = task
            work_dir = osp.join(args.work_dir,
                                fraction.rstrip('%') + 'pct', f'pretrain{pre}',
                                variant.replace(' ', '_').replace("'", ''),
                                f'seed{seed}')
            return task, finetune(variant, checkpoints[pre], work_dir,
                                  train_idx, val_idx, seed, threads,
                                  args.epochs)

        done = {}
        with ThreadPoolExecutor(args.jobs) as pool:
            for (variant, pre, seed), metrics in pool.map(one, tasks):
                print(
                    f'{fraction}, {variant}, pre-training {pre}, seed '
                    f'{seed}: test top-1 '
                    f'{metrics["test"]["accuracy/top1"]:.2f}',
                    flush=True)
                done[variant, pre, seed] = metrics
        report['fractions'][fraction] = {
            v: {
                split: [done[v, p, s][split] for p, s in pairs]
                for split in ('val', 'test')
            }
            for v in variants
        }
    write_report(report, args)


def write_report(report: dict, args) -> None:
    from coretune_mm.evaluation import paired_plot, paired_table
    os.makedirs('docs', exist_ok=True)
    with open('docs/fashion_mnist.json', 'w') as f:
        json.dump(report, f, indent=2)
    lines = [
        'k-NN probe of the pre-trained backbones (20-NN top-1, %): ' +
        ', '.join(f'seed {s}: {a:.2f}'
                  for s, a in report['probe_top1'].items())
    ]
    # seeds fine-tuned from one checkpoint are compared within it, and the
    # summary counts checkpoints
    groups = [pre for pre, _ in report['pairs']]
    for fraction, results in report['fractions'].items():
        for split in ('val', 'test'):
            lines.append(f'### {fraction} labels, {split} split\n\n' +
                         paired_table(results, 'ce', split, METRICS, groups,
                                      'pre-training'))
        # the ablations and the departures from the reference decide the
        # defaults: each against the shipped Core-tuning, same seeds
        against = {
            name: runs
            for name, runs in results.items() if name != 'ce'
        }
        if 'coretune' in against and len(against) > 1:
            for split in ('val', 'test'):
                lines.append(
                    f'### {fraction} labels, {split} split, against the '
                    'default\n\n' +
                    paired_table(against, 'coretune', split, METRICS, groups,
                                 'pre-training'))
        paired_plot(results, 'ce', ['val', 'test'], METRICS,
                    f'docs/fashion_mnist_{fraction.rstrip("%")}pct.png',
                    groups, 'pre-training')
    text = '\n\n'.join(lines)
    print(text)
    with open('docs/fashion_mnist.md', 'w') as f:
        f.write(text + '\n')


if __name__ == '__main__':
    main()
