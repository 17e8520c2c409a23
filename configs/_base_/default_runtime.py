# MMPretrain's runtime, plus the plugin's.
_base_ = ['mmpretrain::_base_/default_runtime.py', './coretune_runtime.py']

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
