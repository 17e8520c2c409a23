# Core-tuning for DeepLab-V3+.
_base_ = ['./deeplabv3plus_r50_ce_voc.py', './_base_/coretune/decode_head.py']

model = dict(
    decode_head=dict(
        _base_.coretune_decode_head,
        type='CoreTuneDepthwiseSeparableASPPHead'))
