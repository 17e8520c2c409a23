# CE baseline for DeepLab-V3+: the DeepLab-V3 VOC set-up with MMSegmentation's
# DepthwiseSeparableASPPHead.
_base_ = './deeplabv3_r50_ce_voc.py'

model = dict(
    decode_head=dict(
        type='DepthwiseSeparableASPPHead', c1_in_channels=256, c1_channels=48))
