# UPerNet with pixel-level Core-tuning: the CE config with the Core-tuning
# decode head fragment on UPerHead (features: the FPN bottleneck, 512
# channels, before cls_seg).
_base_ = [
    './upernet_r50_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py',
    '../_base_/coretune/decode_head.py'
]

model = dict(
    decode_head=dict(_base_.coretune_decode_head, type='CoreTuneUPerHead'))
