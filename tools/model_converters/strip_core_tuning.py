"""Drop Core-tuning's training-only state from a checkpoint.

The :class:`CoreTuning` module (``*.core_tuning.*``: the projection head)
is used only in training. The
stripped checkpoint holds the weights alone and loads strictly into the
stock head's model (``LinearClsHead``, ``ASPPHead``,
``DepthwiseSeparableASPPHead``) for deployment.

Example::

    python tools/model_converters/strip_core_tuning.py \
        work_dirs/x/iter_20000.pth deploy.pth
"""
import argparse
import os.path as osp

import torch

from coretune_mm.checkpoint import (read_checkpoint, state_dict_of,
                                    strip_core_tuning)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint written by tools/train.py')
    parser.add_argument('dst', help='output path')
    args = parser.parse_args(argv)
    if osp.realpath(args.dst) == osp.realpath(args.src):
        raise SystemExit(f'dst: {args.dst} is the source checkpoint; write '
                         'the stripped weights to another file')
    try:
        checkpoint = read_checkpoint(args.src, 'src')
        state = state_dict_of(checkpoint, args.src, 'src')
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err)) from None
    stripped = strip_core_tuning(checkpoint)
    dropped = len(state) - len(stripped['state_dict'])
    torch.save(stripped, args.dst)
    print(f'{args.dst}: kept {len(stripped["state_dict"])} tensors, '
          f'dropped {dropped} Core-tuning tensors')


if __name__ == '__main__':
    main()
