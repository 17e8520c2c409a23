# Core-tuning: the CE baseline with the Core-tuning head (eta = 0.1, alpha = 1).
_base_ = './resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar100.py'

model = dict(
    head=dict(
        type='CoreTuneClsHead',
        contrast_weight=0.1,
        contrast_loss=dict(
            type='FocalSupConLoss', temperature=0.07, gamma=1.0),
        mixup=dict(alpha=1.0, hn_lambda_min=0.8, hp_lambda_min=0.5),
        smooth_classifier=True,
        projector=dict(out_channels=256),
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
