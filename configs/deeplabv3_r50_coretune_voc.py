# Core-tuning: the CE baseline with pixel-level Core-tuning in the decode head.
_base_ = ['./deeplabv3_r50_ce_voc.py', './_base_/coretune/decode_head.py']

model = dict(decode_head=_base_.coretune_decode_head)
