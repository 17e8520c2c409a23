# UPerNet with a ResNet-50 from MoCo-v2 on PASCAL VOC aug, CE baseline: the
# DeepLab-V3 recipe of configs/deeplabv3_r50_ce_voc.py (data, schedule,
# metrics, checkpoint check) with MMSegmentation's UPerNet decode head over
# the four undilated ResNet stages
# (mmseg::_base_/models/upernet_r50.py's head).
_base_ = ('../deeplabv3/'
          'deeplabv3_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py')

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2)),
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
