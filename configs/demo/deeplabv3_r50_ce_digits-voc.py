# The segmentation demo's CE baseline: with contrast_weight=0 the Core-tuning
# head computes exactly ASPPHead's losses (no sampling, no projector).
_base_ = './deeplabv3_r50_coretune_digits-voc.py'

model = dict(decode_head=dict(contrast_weight=0))
