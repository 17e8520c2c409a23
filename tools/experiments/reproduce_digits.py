"""A small real-data reproduction: CE-tuning vs Core-tuning on the digits.

1. MoCo-v2 pre-training (MMPretrain's implementation) of a ResNet-18 on the
   digits images that scikit-learn ships, labels unused;
2. classification: fine-tuning from that checkpoint with the CE and the
   Core-tuning demo configs on 10 % and 100 % of the training labels,
   several seeds, top-1 on the held-out split;
3. the ablations of Core-tuning on the 10 % setting;
4. segmentation evidence: DeepLab-V3 with the same ResNet-18 on generated
   VOC-format digit scenes, CE and each pixel Core-tuning variant of
   ``SEG_VARIANTS`` with the same seeds (5 by default; one CE run per seed,
   shared by all variants), evaluated on 200 validation scenes (to choose
   on) and 1000 held-out test scenes (to report on); paired differences
   (variant minus CE, mean +/- standard error) of mIoU, FWIoU, MPA, aAcc
   and background IoU, written to ``OUT_DIR/seg_evidence.{md,json,png}``;
5. classification: mean +/- std of every metric, the feature-space ratio
   that ``FeatureSpaceHook`` logs at test time, tables, JSON and plots,
   written to ``OUT_DIR/reproduction*``.

OUT_DIR (``--out-dir``) defaults to ``work_dirs/repro/report``; copying
figures into ``docs/`` is a deliberate, separate step.

One part at a time (``--tasks cls`` or ``--tasks seg``)::

    .venv/bin/python tools/experiments/reproduce_digits.py --tasks seg --jobs 2

Finished runs are kept (``test.json`` / ``val.json`` in each work dir) and
skipped when the script runs again.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import statistics
import sys
from typing import Dict, List, Optional, Sequence

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from paired import paired_plot, paired_table
from runner import REPO, evaluate, run, run_parallel, train_once

DATA = 'data/repro/digits'
SEG_DATA = 'data/repro/digit_scenes/VOC2012'
# 32 px digits (the pre-training scale), thick masks, at most 2 per scene on
# the demo's 48 px canvas; 200 validation scenes to choose on, 1000 test
# scenes to report on
SEG_SCENES = dict(
    num_train=1000,
    num_val=200,
    num_test=1000,
    canvas=48,
    digit_size=32,
    max_digits=2,
    mask_threshold=0.3,
    seed=0)
SEG_SPLITS = dict(
    val='ImageSets/Segmentation/val.txt',
    test='ImageSets/Segmentation/test.txt')
PRETRAIN_CONFIG = 'configs/reproduce/mocov2_resnet18_digits.py'
CLS_CONFIGS = dict(
    ce='configs/demo/resnet18_ce_digits-folder.py',
    coretune='configs/demo/resnet18_coretune_digits-folder.py')
SEG_CONFIGS = dict(
    ce='configs/reproduce/deeplabv3_r18_ce_digits-voc.py',
    coretune='configs/reproduce/deeplabv3_r18_coretune_digits-voc.py')
ABLATIONS = {
    'coretune w/o focal weight': ['model.head.contrast_loss.gamma=0.0'],
    'coretune w/o hard positives': ['model.head.mixup.hard_positives=False'],
    'coretune w/o hard negatives': ['model.head.mixup.hard_negatives=False'],
    'coretune w/o smooth classifier': ['model.head.smooth_classifier=False'],
}
CLS_METRICS = ['accuracy/top1', 'feature_ratio']
SEG_METRICS = ['mIoU', 'FWIoU', 'MPA', 'aAcc', 'IoU.background']
# Each variant spells out every option it depends on, so that the table does
# not change meaning when a default does. 'ce' is the shared baseline.
_CORE = 'model.decode_head.'
SEG_VARIANTS = {
    'ce': ('ce', []),
    'contrast only': ('coretune', [_CORE + 'mix_loss=False']),
    'smooth classifier, prior-corrected':
    ('coretune', [_CORE + 'mix_loss=True', _CORE + 'prior_correction=True']),
    'smooth classifier, prior-corrected, detached': ('coretune', [
        _CORE + 'mix_loss=True', _CORE + 'prior_correction=True',
        _CORE + 'mix_detach=True'
    ]),
    'smooth classifier, uncorrected (first design)':
    ('coretune', [_CORE + 'mix_loss=True', _CORE + 'prior_correction=False']),
}
Results = Dict[str, List[Dict[str, float]]]


def label_subset(src: str, dst: str, every: int) -> str:
    """Every ``every``-th training image of each class; the same val split."""
    for split in ('train', 'val'):
        for cls in sorted(os.listdir(osp.join(src, split))):
            files = sorted(os.listdir(osp.join(src, split, cls)))
            if split == 'train':
                files = files[::every]
            os.makedirs(osp.join(dst, split, cls), exist_ok=True)
            for name in files:
                target = osp.join(dst, split, cls, name)
                if not osp.exists(target):
                    shutil.copy(osp.join(src, split, cls, name), target)
    return dst


def pretrain(work_dir: str, epochs: int) -> str:
    checkpoint = osp.join(work_dir, f'epoch_{epochs}.pth')
    if not osp.isfile(checkpoint):
        run('tools/train.py', PRETRAIN_CONFIG, '--work-dir', work_dir,
            '--cfg-options', f'train_cfg.max_epochs={epochs}',
            f'param_scheduler.0.T_max={epochs}',
            f'param_scheduler.0.end={epochs}',
            f'default_hooks.checkpoint.interval={epochs}')
    return checkpoint


def write_config(config: str, checkpoint: str, path: str,
                 options: Sequence[str]) -> None:
    """``config`` with its backbone starting from the MMPretrain MoCo-v2
    checkpoint (backbone under ``backbone.``) and ``options`` (``key=value``,
    as ``--cfg-options`` reads them) applied, written with MMEngine."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained',
        checkpoint=osp.join(REPO, checkpoint),
        prefix='backbone.')
    cfg.merge_from_dict({
        key: DictAction._parse_iterable(value)
        for key, value in (option.split('=', 1) for option in options)
    })
    cfg.dump(path)


def finetune(config: str,
             checkpoint: str,
             work_dir: str,
             options: Sequence[str],
             threads: Optional[int] = None) -> Dict[str, float]:
    """Train ``config`` from ``checkpoint``, test the last checkpoint and
    return the test metrics, ``FeatureSpaceHook``'s ``feature_*`` included
    (cached in ``work_dir/test.json``)."""
    path = osp.join(work_dir, 'finetune_config.py')
    train_once(work_dir, path,
               lambda: write_config(config, checkpoint, path, options),
               threads)
    return evaluate(work_dir, dict(test=path), threads)['test']


def finetune_seg(config: str,
                 checkpoint: str,
                 work_dir: str,
                 options: Sequence[str],
                 threads: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Train a segmentation config once (no validation during training), then
    evaluate the last checkpoint on each split of ``SEG_SPLITS``.

    Returns ``{split: metrics}``, cached in ``work_dir/<split>.json``.
    """
    paths = {
        split: osp.join(work_dir, f'{split}_config.py')
        for split in ['train', *SEG_SPLITS]
    }

    def write():
        write_config(config, checkpoint, paths['train'],
                     list(options) + ['train_cfg.val_interval=100000'])
        for split, ann_file in SEG_SPLITS.items():
            write_config(
                config, checkpoint, paths[split],
                list(options) + [
                    f'test_dataloader.dataset.ann_file={ann_file}',
                    'test_evaluator.classwise=True'
                ])

    train_once(work_dir, paths['train'], write, threads)
    return evaluate(work_dir, {split: paths[split]
                               for split in SEG_SPLITS}, threads)


def seg_evidence(checkpoint: str, work_dir: str, variants: Sequence[str],
                 seeds: Sequence[int], jobs: int) -> dict:
    """Every variant (and CE) for every seed.

    Returns:
        dict: ``{variant: {split: [metrics per seed]}}``.
    """
    names = ['ce'] + [v for v in variants if v != 'ce']
    tasks = [(name, seed) for seed in seeds for name in names]
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def one(task):
        name, seed = task
        method, extra = SEG_VARIANTS[name]
        metrics = finetune_seg(
            SEG_CONFIGS[method], checkpoint,
            osp.join(work_dir, 'seg', slug(name), f'seed{seed}'),
            [f'randomness.seed={seed}'] + list(extra), threads)
        print(
            f'{name}, seed {seed}: test mIoU {metrics["test"]["mIoU"]:.2f}',
            flush=True)
        return metrics

    done = run_parallel(tasks, one, jobs)
    return {
        name: {
            split: [done[name, seed][split] for seed in seeds]
            for split in SEG_SPLITS
        }
        for name in names
    }


def cls_options(data_root: str, seed: int, epochs: int) -> List[str]:
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={epochs}', f'param_scheduler.T_max={epochs}',
        f'default_hooks.checkpoint.interval={epochs}',
        'default_hooks.checkpoint.save_best=None'
    ]


def slug(name: str) -> str:
    return name.replace(' ', '_').replace(',', '').replace('/', '')


def table(results: Results, metrics: Sequence[str]) -> str:
    """Markdown: mean +/- std (population) of each metric, and the first
    metric per seed."""
    head = ['run'] + [m.split('/')[-1] for m in metrics
                      ] + [f'{metrics[0].split("/")[-1]} per seed']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for name, runs in results.items():
        cells = [name]
        for metric in metrics:
            values = [r[metric] for r in runs if metric in r]
            digits = 3 if metric == 'feature_ratio' else 2
            cells.append(
                f'{statistics.mean(values):.{digits}f} +/- '
                f'{statistics.pstdev(values):.{digits}f}' if values else '-')
        cells.append(', '.join(f'{r[metrics[0]]:.2f}' for r in runs))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(cls: Results, path: str) -> None:
    """Classification: top-1 mean +/- std of every run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=100)
    names = list(cls)
    values = [[r['accuracy/top1'] for r in cls[n]] for n in names]
    means = [statistics.mean(v) for v in values]
    ax.barh(
        range(len(names)),
        means,
        xerr=[statistics.pstdev(v) for v in values],
        color=[
            'tab:blue' if n.startswith('ce') else 'tab:orange' for n in names
        ])
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(means) - 10, 100)
    ax.set_xlabel('top-1 (%), held-out digits, mean +/- std')
    ax.set_title('classification (ResNet-18, MoCo-v2)', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def feature_figure(work_dirs: Dict[str, str], path: str) -> None:
    """The test-set scatters of ``FeatureSpaceHook`` side by side."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    images = {}
    for name, work_dir in work_dirs.items():
        found = sorted(
            glob.glob(osp.join(work_dir, 'feature_space', 'test_iter_*.png')))
        if found:
            images[name] = plt.imread(found[-1])
    if not images:
        return
    fig, axes = plt.subplots(
        1, len(images), figsize=(5 * len(images), 5), dpi=100, squeeze=False)
    for ax, (name, image) in zip(axes[0], images.items()):
        ax.imshow(image)
        ax.set_title(name)
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--ablation-seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--pretrain-epochs', type=int, default=20)
    parser.add_argument(
        '--tasks', nargs='+', choices=['cls', 'seg'], default=['cls', 'seg'])
    parser.add_argument('--work-dir', default='work_dirs/repro')
    parser.add_argument(
        '--seg-seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--seg-variants',
        nargs='+',
        choices=list(SEG_VARIANTS),
        default=list(SEG_VARIANTS))
    parser.add_argument(
        '--out-dir',
        default='work_dirs/repro/report',
        help='where the tables, JSON and figures go')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='fine-tunings run side by side (the cores are shared)')
    args = parser.parse_args()
    os.chdir(REPO)

    make_digits_folder(DATA)
    checkpoint = pretrain(
        osp.join(args.work_dir, 'mocov2'), args.pretrain_epochs)

    cls: Results = {}
    if 'cls' in args.tasks:
        fractions = {
            '100%': (DATA, 4),
            '10%': (label_subset(DATA, 'data/repro/digits10', 10), 30),
        }
        runs = [(f'{m}, {f} labels', CLS_CONFIGS[m], f, (), args.seeds)
                for f in fractions for m in ('ce', 'coretune')]
        runs += [(f'{a}, 10% labels', CLS_CONFIGS['coretune'], '10%', extra,
                  args.ablation_seeds) for a, extra in ABLATIONS.items()]
        for name, config, fraction, extra, seeds in runs:
            data_root, epochs = fractions[fraction]
            cls[name] = []
            for seed in seeds:
                metrics = finetune(
                    config, checkpoint,
                    osp.join(args.work_dir, slug(name), f'seed{seed}'),
                    cls_options(data_root, seed, epochs) + list(extra))
                print(
                    f'{name}, seed {seed}: top-1 '
                    f'{metrics["accuracy/top1"]:.2f}',
                    flush=True)
                cls[name].append(metrics)

    os.makedirs(args.out_dir, exist_ok=True)
    seg_report = osp.join(args.out_dir, 'seg_evidence')
    if 'seg' in args.tasks:
        make_digits_voc(SEG_DATA, **SEG_SCENES)
        seg = seg_evidence(checkpoint, args.work_dir, args.seg_variants,
                           args.seg_seeds, args.jobs)
        with open(seg_report + '.json', 'w') as f:
            json.dump(seg, f, indent=2)
        metrics = SEG_METRICS
        text = '\n\n'.join(f'### {split} scenes\n\n' +
                           paired_table(seg, 'ce', split, metrics)
                           for split in SEG_SPLITS)
        print(text)
        with open(seg_report + '.md', 'w') as f:
            f.write(text + '\n')
        paired_plot(seg, 'ce', list(SEG_SPLITS), metrics, seg_report + '.png')
    if 'cls' not in args.tasks:
        return

    plot(cls, osp.join(args.out_dir, 'reproduction.png'))
    if cls:
        feature_figure(
            {
                f'{m}, 10% labels, seed {args.seeds[0]}':
                osp.join(args.work_dir, slug(f'{m}, 10% labels'),
                         f'seed{args.seeds[0]}')
                for m in CLS_CONFIGS
            }, osp.join(args.out_dir, 'reproduction_features.png'))
    with open(osp.join(args.out_dir, 'reproduction.json'), 'w') as f:
        json.dump(dict(classification=cls), f, indent=2)
    tables = []
    if cls:
        tables.append(table(cls, CLS_METRICS))
    text = '\n\n'.join(tables)
    print(text)
    with open(osp.join(args.out_dir, 'reproduction_table.md'), 'w') as f:
        f.write(text + '\n')


if __name__ == '__main__':
    main()
