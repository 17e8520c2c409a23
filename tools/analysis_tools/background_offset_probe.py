"""Would shifting one class's logit at inference recover a segmenter?

Runs a checkpoint once over the test split of its config and, for each
offset added to the logit of one class (background by default), reports
aAcc, mIoU, FWIoU, MPA and that class's IoU. If the best offset brings a
model to another's level, the two differ by a class-prior shift; if not,
their features or classifier separate the classes differently.

Example::

    python tools/analysis_tools/background_offset_probe.py CONFIG CHECKPOINT \\
        --offsets -2 -1 -0.5 0 0.5 1 --out probe.json
"""
import argparse
import json
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import coretune_mm  # noqa: F401  (registers modules, checkpoint loading)
from coretune_mm.evaluation.metrics import (confusion_matrix,
                                            metrics_from_confusion)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='segmentation config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--offsets',
        type=float,
        nargs='+',
        default=[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0],
        help='values added to the class logit')
    parser.add_argument(
        '--class-index',
        type=int,
        default=0,
        help='the class whose logit is shifted (default: 0, background)')
    parser.add_argument('--work-dir', default='work_dirs/offset_probe')
    parser.add_argument('--out', help='write the table as JSON')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def probe(model,
          loader,
          offsets,
          class_index: int,
          ignore_index: int = 255) -> list:
    """One pass; a confusion matrix per offset; their metrics."""
    matrices = None
    model.eval()
    with torch.no_grad():
        for batch in loader:
            for sample in model.test_step(batch):
                logits = sample.seg_logits.data
                num_classes = logits.size(0)
                if not 0 <= class_index < num_classes:
                    raise ValueError(f'--class-index must lie in [0, '
                                     f'{num_classes}), got {class_index}')
                if matrices is None:
                    matrices = [
                        np.zeros((num_classes, num_classes)) for _ in offsets
                    ]
                gt = sample.gt_sem_seg.data.squeeze(0)
                for matrix, offset in zip(matrices, offsets):
                    shifted = logits.clone()
                    shifted[class_index] += offset
                    matrix += confusion_matrix(
                        shifted.argmax(0), gt, num_classes,
                        ignore_index).numpy()
    if matrices is None:
        raise ValueError('the test split is empty')
    rows = []
    for offset, matrix in zip(offsets, matrices):
        metrics = metrics_from_confusion(matrix)
        rows.append(
            dict(
                offset=offset,
                **{
                    k: round(float(metrics[k]), 2)
                    for k in ('aAcc', 'mIoU', 'FWIoU', 'MPA')
                },
                class_iou=round(float(metrics['IoU'][class_index]), 2)))
    return rows


def main(argv=None) -> list:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint: no such file {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir
    cfg.load_from = None
    cfg.custom_hooks = []  # observers of evaluation are not needed here
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(args.checkpoint, map_location='cpu')
    loader = runner.build_dataloader(cfg.test_dataloader)
    ignore_index = getattr(runner.model.decode_head, 'ignore_index', 255)
    rows = probe(runner.model, loader, args.offsets, args.class_index,
                 ignore_index)
    print('| offset | aAcc | mIoU | FWIoU | MPA | class IoU |')
    print('| --- | --- | --- | --- | --- | --- |')
    for row in rows:
        print('| ' + ' | '.join(str(v) for v in row.values()) + ' |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == '__main__':
    main()
