# Core-tuning on Fashion-MNIST: the CE config plus the Core-tuning head.
_base_ = './resnet18_ce_fashion-mnist.py'

model = dict(
    head=dict(
        type='CoreTuneClsHead',
        contrast_weight=0.1,
        contrast_loss=dict(
            type='FocalSupConLoss', temperature=0.07, gamma=1.0),
        mixup=dict(alpha=1.0, hn_lambda_min=0.8, hp_lambda_min=0.5),
        smooth_classifier=True,
        projector=dict(out_channels=128),
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
