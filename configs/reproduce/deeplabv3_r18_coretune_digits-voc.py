# Segmentation part of the small reproduction
# (tools/experiments/reproduce_digits.py): the CE baseline with pixel-level
# Core-tuning, its projector sized to the 128-channel head.
_base_ = [
    './deeplabv3_r18_ce_digits-voc.py', '../_base_/coretune/decode_head.py'
]

model = dict(
    decode_head=dict(
        _base_.coretune_decode_head,
        projector=dict(hidden_channels=128, out_channels=128)))
