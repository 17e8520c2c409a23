import os.path as osp
import subprocess
import sys

import torch
from mmseg.registry import MODELS

import coretune_mm  # noqa: F401

DEFAULT_SCOPE = 'mmseg'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEAD = dict(
    in_channels=8,
    channels=16,
    num_classes=3,
    dilations=(1, 2),
    norm_cfg=dict(type='BN'))


def test_stripped_checkpoint_loads_strictly_into_aspp_head(tmp_path):
    ours = MODELS.build(dict(type='CoreTuneASPPHead', **HEAD))
    state = {f'decode_head.{k}': v for k, v in ours.state_dict().items()}
    assert any('.projector.' in k for k in state)
    src, dst = tmp_path / 'in.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=state, meta=dict(iter=3)), src)
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'model_converters', 'strip_core_tuning.py'),
        str(src),
        str(dst)
    ],
                   check=True)
    stripped = torch.load(dst)['state_dict']
    stock = MODELS.build(dict(type='ASPPHead', **HEAD))
    stock.load_state_dict(
        {
            k[len('decode_head.'):]: v
            for k, v in stripped.items()
        }, strict=True)
