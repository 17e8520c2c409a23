"""Convert a contrastive (CSL) checkpoint to what our configs load.

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

ViTs: MoCo v3's release (``module.base_encoder.`` with timm names) and
DINO's (bare, or a full checkpoint's ``teacher``) become MMPretrain's
``VisionTransformer`` names under ``backbone.`` (what the ViT configs
load); the width, depth, MLP width, patch and image size are read from the
tensors, every tensor is checked by name and shape, and the tool prints the
backbone config (the number of heads, which the weights do not show, is the
release's).

Example::

    python tools/model_converters/convert_checkpoint.py \
        swav_800ep_pretrain.pth.tar swav.pth
    python tools/model_converters/convert_checkpoint.py vit-s-300ep.pth.tar \
        checkpoints/mocov3_vit-small-p16_mmpretrain.pth
    python tools/train.py configs/deeplabv3_r50_coretune_voc.py \
        --cfg-options model.backbone.init_cfg.checkpoint=swav.pth
"""
import argparse
import os.path as osp

import torch

from coretune_mm.checkpoint import (convert_csl_checkpoint,
                                    convert_vit_checkpoint, is_vit_checkpoint,
                                    read_checkpoint)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--prefix',
        help='prefix of the output keys (default: what the configs load, '
        '"module.encoder_q." for a ResNet, "backbone." for a ViT); "" for a '
        'bare backbone')
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
    if is_vit_checkpoint(checkpoint):
        return convert_vit(checkpoint, args)
    prefix = 'module.encoder_q.' if args.prefix is None else args.prefix
    try:
        state, layout, depth, dropped = convert_csl_checkpoint(
            checkpoint, out_prefix=prefix, depth=args.depth)
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


def convert_vit(checkpoint: dict, args) -> None:
    """The ViT branch of :func:`main`."""
    if args.depth is not None:
        raise SystemExit(f'{args.src}: --depth is for ResNets; this '
                         'checkpoint holds a ViT')
    prefix = 'backbone.' if args.prefix is None else args.prefix
    try:
        state, layout, arch, dropped = convert_vit_checkpoint(
            checkpoint, out_prefix=prefix)
    except ValueError as err:
        raise SystemExit(f'{args.src}: {err}') from None
    torch.save(
        dict(state_dict=state, meta=dict(layout=layout, arch=arch._asdict())),
        args.dst)
    print(f'{args.src}: layout {layout}, ViT of width {arch.embed_dims}, '
          f'{arch.num_layers} blocks, patch {arch.patch_size}, '
          f'{arch.img_size} px; kept {len(state)} tensors, dropped '
          f'{len(dropped)}')
    print(f'wrote {args.dst}')
    print(f'backbone config (heads: {arch.num_heads}, the release\'s value; '
          f'the weights do not show it): {arch.backbone_cfg()}')


if __name__ == '__main__':
    main()
