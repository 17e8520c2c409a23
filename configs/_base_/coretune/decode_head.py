# Pixel Core-tuning for DeepLab-V3's `ASPPHead` (same inference):
#
#   _base_ = ['<CE config>', '<this file>']
#   model = dict(decode_head=_base_.coretune_decode_head)
#
# DeepLab-V3+: dict(_base_.coretune_decode_head,
#                   type='CoreTuneDepthwiseSeparableASPPHead').
coretune_decode_head = dict(
    type='CoreTuneASPPHead',
    contrast_weight=0.1,
    contrast_loss=dict(type='FocalSupConLoss', temperature=0.07, gamma=1.0),
    mixup=dict(alpha=1.0, hn_lambda_min=0.8, hp_lambda_min=0.5),
    # Pixel contrast only: the smooth classifier on generated pixels made
    # the segmenter worse in the paired-seed comparison (docs/results.md);
    # mix_loss=True turns it back on.
    mix_loss=False,
    projector=dict(hidden_channels=512, out_channels=256),
    pixel_sampler=dict(max_samples=1024))
