"""Drop Core-tuning's training-only state from a checkpoint."""
import inspect
from typing import Optional, Set, Tuple

from mmengine.config import Config

from .loading import tensors_of

__all__ = ['strip_core_tuning', 'plain_config', 'stock_type']


def stock_type(head_type) -> Optional[str]:
    """The stock head a Core-tuning head extends (same weights, same
    inference), as the head class declares it (``stock_type``); None for any
    other head type."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    if not isinstance(head_type, str):
        return getattr(head_type, 'stock_type', None)
    for registry in (SEG_MODELS, PRETRAIN_MODELS):
        cls = registry.module_dict.get(head_type)
        if cls is not None and getattr(cls, 'stock_type', None):
            return cls.stock_type
    return None


def _parameters(function) -> Set[str]:
    return set(inspect.signature(function).parameters) - {'self', 'kwargs'}


def _plugin_names() -> Tuple[Set[str], Set[str]]:
    """The options the Core-tuning mixins add to the stock heads' (read from
    their signatures, so a new option is covered) and the plugin's hooks."""
    from coretune_mm.engine import hooks
    from coretune_mm.models.decode_heads import PixelCoreTuningMixin
    from coretune_mm.models.heads import ClsCoreTuningMixin
    options = _parameters(ClsCoreTuningMixin.__init__) | _parameters(
        PixelCoreTuningMixin.__init__)
    return options, set(hooks.__all__)


def _plain_metric(metric: dict) -> dict:
    if isinstance(metric, dict) and metric.get('type') == 'FWIoUMetric':
        return dict(
            type='IoUMetric', iou_metrics=metric.get('iou_metrics', ['mIoU']))
    return metric


def _without_plugin_scope(value):
    """``value`` without ``_scope_='coretune_mm'`` (what a config inherited
    through ``coretune_mm::`` carries), so the host's default scope holds."""
    if isinstance(value, dict):
        return {
            key: _without_plugin_scope(item)
            for key, item in value.items()
            if not (key == '_scope_' and item == 'coretune_mm')
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_without_plugin_scope(item) for item in value)
    return value


def plain_config(cfg: Config) -> Config:
    """The config of the stock model a stripped checkpoint loads into:
    Core-tuning heads become the stock heads without Core-tuning's options,
    and the plugin's import, hooks, metric and config scope are left out, so
    that MMPretrain's / MMSegmentation's inferencers and deployment tools
    read it without ``coretune_mm``. Inference is the same.

    Datasets or transforms of the plugin (``PascalVOCWithSBD``,
    ``GrayToRGB``) stay where the config uses them.
    """
    options, plugin_hooks = _plugin_names()
    cfg = Config(_without_plugin_scope(cfg.to_dict()))
    for fragment in ('coretune_cls_head', 'coretune_decode_head',
                     'coretune_contrast_loss'):
        cfg.pop(fragment, None)  # configs/_base_/coretune/ variables
    for key in ('head', 'decode_head'):
        head = cfg.model.get(key)
        stock = stock_type(head.get('type')) if isinstance(head,
                                                           dict) else None
        if stock is not None:
            head.type = stock
            for option in options:
                head.pop(option, None)
    imports = cfg.get('custom_imports')
    if imports is not None:
        kept = [m for m in imports.get('imports', []) if m != 'coretune_mm']
        if kept:
            imports.imports = kept
        else:
            cfg.pop('custom_imports')
    if 'custom_hooks' in cfg:
        cfg.custom_hooks = [
            hook for hook in cfg.custom_hooks
            if hook.get('type') not in plugin_hooks
        ]
    for key in ('val_evaluator', 'test_evaluator'):
        if key in cfg:
            value = cfg[key]
            cfg[key] = [_plain_metric(m) for m in value] if isinstance(
                value, list) else _plain_metric(value)
    return cfg


def strip_core_tuning(checkpoint: dict) -> dict:
    """Return ``{'state_dict': ..., 'meta': ...}`` without the tensors of
    :class:`~coretune_mm.core.CoreTuning` modules (``*.core_tuning.*``: the
    projection head), which only training uses, and with ``meta['cfg']`` (the
    training config MMEngine stores) rewritten by :func:`plain_config`.

    The result loads strictly into the stock head's model (``LinearClsHead``,
    ``ASPPHead``, ``DepthwiseSeparableASPPHead``), and inferencers given only
    the weights build that model.
    """
    state = tensors_of(checkpoint)
    kept = {k: v for k, v in state.items() if '.core_tuning.' not in f'.{k}'}
    meta = dict(checkpoint.get('meta') or {})
    text: Optional[str] = meta.get('cfg')
    if isinstance(text, str):
        meta['cfg'] = plain_config(Config.fromstring(text, '.py')).pretty_text
    return dict(state_dict=kept, meta=meta)
