# CE baseline for DeepLab-V3+: the DeepLab-V3 VOC set-up with MMSegmentation's
# DepthwiseSeparableASPPHead.
_base_ = ('../deeplabv3/'
          'deeplabv3_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py')

model = dict(
    decode_head=dict(
        type='DepthwiseSeparableASPPHead', c1_in_channels=256, c1_channels=48))
