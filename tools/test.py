"""Evaluate a checkpoint with an MMPretrain or MMSegmentation config.

Example::

    python tools/test.py configs/deeplabv3_r50_coretune_voc.py work.pth
"""
import argparse
import copy
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import coretune_mm  # noqa: F401  (registers modules, checkpoint loading)
from coretune_mm.checkpoint import check_checkpoint_file
from coretune_mm.engine import cpu_distributed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument(
        '--out',
        help='write the predictions (pickle, as MMPretrain\'s and '
        'MMEngine\'s DumpResults) or, with --out-item metrics, the metrics '
        '(JSON) to this file')
    parser.add_argument(
        '--out-item',
        choices=['pred', 'metrics'],
        default='pred',
        help='what --out holds (MMPretrain\'s option). Defaults to pred')
    parser.add_argument(
        '--show-dir',
        help='draw the predictions and save the images in this folder, as '
        'the host libraries\' --show-dir')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation with the config\'s tta_pipeline and '
        'tta_model, as the host libraries\' --tta (classification without '
        'them: flip, scores averaged, as MMPretrain)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def show_predictions(cfg: Config, folder: str) -> None:
    """Turn the host's visualization hook on for every test image, saving into
    ``folder``."""
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise ValueError('--show-dir: the config has no '
                         'default_hooks.visualization to draw with')
    hooks.visualization.interval = 1  # every image (MMSeg's: every 50th)
    if cfg.get('default_scope') == 'mmseg':
        hooks.visualization.draw = True
        cfg.visualizer.save_dir = folder
    else:
        hooks.visualization.enable = True
        hooks.visualization.out_dir = folder


def test_time_augmentation(cfg: Config) -> None:
    """Wrap the model in ``tta_model`` and test on ``tta_pipeline``."""
    if cfg.get('default_scope') == 'mmpretrain':
        if not cfg.get('tta_model'):
            cfg.tta_model = dict(type='AverageClsScoreTTA')
        if not cfg.get('tta_pipeline'):
            pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
            pipeline[-1] = dict(
                type='TestTimeAug',
                transforms=[[
                    dict(type='RandomFlip', prob=1.),
                    dict(type='RandomFlip', prob=0.)
                ], [pipeline[-1]]])
            cfg.tta_pipeline = pipeline
    missing = [
        key for key in ('tta_model', 'tta_pipeline') if not cfg.get(key)
    ]
    if missing:
        raise ValueError(f'--tta: the config has no {" or ".join(missing)} '
                         "(MMSegmentation's default_runtime and dataset "
                         'configs define them)')
    cfg.model = dict(cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def main(argv=None) -> dict:
    args = parse_args(argv)
    check_checkpoint_file(args.checkpoint, 'checkpoint')
    if args.out and osp.realpath(args.out) in (osp.realpath(
            args.checkpoint), osp.realpath(args.config)):
        raise ValueError(f'--out: {args.out} is the checkpoint or the '
                         'config; write the results to another file')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.tta and args.show_dir and cfg.get('default_scope') != 'mmseg':
        raise ValueError('--show-dir with --tta: MMPretrain\'s '
                         'VisualizationHook draws one view per image, not '
                         'the augmented batch; run them separately')
    if args.show_dir:
        show_predictions(cfg, args.show_dir)
    if args.tta:
        test_time_augmentation(cfg)
    if args.out and args.out_item == 'pred':
        evaluators = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [
            *evaluators,
            dict(type='DumpResults', out_file_path=args.out)
        ]
    with cpu_distributed(cfg):
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        with open(args.out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
