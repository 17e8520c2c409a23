# MMPretrain's runtime, plus the plugin import.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['coretune_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='auto'))

# Stop when the pre-trained backbone did not load; log feature compactness
# and separation at each validation; keep random states for exact resume.
custom_hooks = [
    dict(type='DatasetCheckHook'),
    dict(type='PretrainedCheckHook'),
    dict(type='FeatureSpaceHook'),
    dict(type='RNGStateHook'),
]
