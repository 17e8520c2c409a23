# Core-tuning for DeepLab-V3+.
_base_ = [
    './deeplabv3plus_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py',
    '../_base_/coretune/decode_head.py'
]

model = dict(
    decode_head=dict(
        _base_.coretune_decode_head,
        type='CoreTuneDepthwiseSeparableASPPHead'))
