"""Convert a contrastive (CSL) ResNet checkpoint to what our configs load.

Recognises MoCo v1/v2 (``module.encoder_q.``), MoCo v3
(``module.base_encoder.``), InfoMin / PyContrast (``model`` ->
``module.encoder.``), SwAV / DeepCluster (``module.``), SimCLR converted to
torchvision and torchvision itself (no prefix), and MMPretrain's
self-supervised releases (``backbone.``). Projection heads, queues and
momentum encoders are dropped. The depth (18, 34, 50, 101, 152) is read
from the blocks and written to the output's ``meta``; every tensor of a
ResNet of that depth must be present, and a backbone tensor that no such
ResNet has is an error. The shipped configs build a ResNet-50: for another
depth, set ``model.backbone.depth`` too.

Example::

    python tools/convert_checkpoint.py swav_800ep_pretrain.pth.tar swav.pth
    python tools/train.py configs/deeplabv3_r50_coretune_voc.py \
        --cfg-options model.backbone.init_cfg.checkpoint=swav.pth
"""
import argparse
import os.path as osp

import torch

from coretune_mm.checkpoint import convert_csl_checkpoint, read_checkpoint


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--prefix',
        default='module.encoder_q.',
        help='prefix of the output keys (the configs load '
        '"module.encoder_q."); "" for a bare backbone')
    parser.add_argument(
        '--depth',
        type=int,
        choices=[18, 34, 50, 101, 152],
        help='refuse a checkpoint of another ResNet depth (default: accept '
        'the depth the checkpoint has)')
    args = parser.parse_args(argv)
    if osp.realpath(args.dst) == osp.realpath(args.src):
        raise SystemExit(f'dst: {args.dst} is the source checkpoint; write '
                         'the conversion to another file')
    try:  # a pre-trained file from elsewhere: tensors only
        checkpoint = read_checkpoint(args.src, 'src')
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err)) from None
    try:
        state, layout, depth, dropped = convert_csl_checkpoint(
            checkpoint, out_prefix=args.prefix, depth=args.depth)
    except ValueError as err:
        raise SystemExit(f'{args.src}: {err}') from None
    torch.save(
        dict(state_dict=state, meta=dict(layout=layout, depth=depth)),
        args.dst)
    print(f'{args.src}: layout {layout}, ResNet-{depth}; kept {len(state)} '
          f'backbone tensors, dropped {len(dropped)}' +
          (f' (e.g. {", ".join(dropped[:6])})' if dropped else ''))
    print(f'wrote {args.dst}')
    if depth != 50:
        print(f'the shipped configs build a ResNet-50: add --cfg-options '
              f'model.backbone.depth={depth}')


if __name__ == '__main__':
    main()
