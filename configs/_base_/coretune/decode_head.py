# Pixel Core-tuning for DeepLab-V3's `ASPPHead` (same inference):
#
#   _base_ = ['<CE config>', '<this file>']
#   model = dict(decode_head=_base_.coretune_decode_head)
#
# DeepLab-V3+: dict(_base_.coretune_decode_head,
#                   type='CoreTuneDepthwiseSeparableASPPHead').
# The paper's values (eta 0.1, tau 0.07, focal gamma 1, mixup alpha 1,
# hard-negative lambda >= 0.8, hard-positive lambda >= 0.5) and the pixel
# budget (1024) are the defaults of the core (coretune_mm/core/), and live
# there only; the contrastive loss is stated (common.py) so that options
# merge into it. The default is pixel contrast only (mix_loss=False): the
# smooth classifier on generated pixels made the segmenter worse in the
# paired-seed comparison (docs/results.md); mix_loss=True turns it back on.
_base_ = ['./common.py']
coretune_decode_head = dict(
    type='CoreTuneASPPHead',
    contrast_loss=_base_.coretune_contrast_loss,
    projector=dict(hidden_channels=512))
