# Core-tuning: the CE baseline with pixel-level Core-tuning in the decode head.
_base_ = [
    './deeplabv3_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py',
    '../_base_/coretune/decode_head.py'
]

model = dict(decode_head=_base_.coretune_decode_head)
