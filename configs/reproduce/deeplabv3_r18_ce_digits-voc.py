# The CE baseline of the segmentation reproduction: the same head with
# Core-tuning off (exactly ASPPHead's losses, no sampling, no projector).
_base_ = './deeplabv3_r18_coretune_digits-voc.py'

model = dict(decode_head=dict(contrast_weight=0))
