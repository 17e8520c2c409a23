# The segmentation demo (tools/demo.py): the CE demo with pixel-level
# Core-tuning in the decode head, as configs/deeplabv3_r50_coretune_voc.py
# adds it to configs/deeplabv3_r50_ce_voc.py.
_base_ = [
    './deeplabv3_r50_ce_digits-voc.py', '../_base_/coretune/decode_head.py'
]

model = dict(decode_head=_base_.coretune_decode_head)
