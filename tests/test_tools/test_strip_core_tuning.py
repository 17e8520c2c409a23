import torch
from mmseg.registry import MODELS

import coretune_mm  # noqa: F401

DEFAULT_SCOPE = 'mmseg'
HEAD = dict(
    in_channels=8,
    channels=16,
    num_classes=3,
    dilations=(1, 2),
    norm_cfg=dict(type='BN'))


def test_stripped_checkpoint_loads_strictly_into_aspp_head(
        tmp_path, load_tool):
    ours = MODELS.build(dict(type='CoreTuneASPPHead', **HEAD))
    state = {f'decode_head.{k}': v for k, v in ours.state_dict().items()}
    assert any('.projector.' in k for k in state)
    src, dst = tmp_path / 'in.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=state, meta=dict(iter=3)), src)
    load_tool('model_converters/strip_core_tuning.py').main(
        [str(src), str(dst)])
    stripped = torch.load(dst)['state_dict']
    stock = MODELS.build(dict(type='ASPPHead', **HEAD))
    stock.load_state_dict(
        {
            k[len('decode_head.'):]: v
            for k, v in stripped.items()
        }, strict=True)
