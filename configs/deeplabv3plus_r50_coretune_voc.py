# Core-tuning for DeepLab-V3+.
_base_ = './deeplabv3plus_r50_ce_voc.py'

model = dict(
    decode_head=dict(
        type='CoreTuneDepthwiseSeparableASPPHead',
        contrast_weight=0.1,
        mix_weight=1.0,
        contrast_loss=dict(
            type='FocalSupConLoss', temperature=0.07, gamma=1.0),
        mixup=dict(alpha=1.0, hn_lambda_min=0.8, hp_lambda_min=0.5),
        smooth_classifier=True,
        projector=dict(hidden_channels=512, out_channels=256),
        pixel_sampler=dict(max_samples=1024)))
