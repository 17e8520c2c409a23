# The plugin's runtime, for CE and Core-tuning configs of either host: its
# import, and hooks that stop a run on a data set or pre-trained checkpoint
# that does not fit the model, log feature compactness and separation at
# each evaluation and keep random states for an exact resume.
custom_imports = dict(imports=['coretune_mm'], allow_failed_imports=False)

custom_hooks = [
    dict(type='DatasetCheckHook'),
    dict(type='PretrainedCheckHook'),
    dict(type='FeatureSpaceHook'),
    dict(type='RNGStateHook'),
]
