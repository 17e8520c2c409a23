"""Stop a run whose training set cannot train the model, before it starts."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from .utils import find_head, unwrap

__all__ = ['DatasetCheckHook']


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Check the training set against the model before the first iteration.

    A run stops, with the data root and what was expected, when the training
    set is empty, has fewer than two classes (nothing to contrast or
    classify), or has another number of classes than the head's
    ``num_classes`` (an image folder missing a class, a config made for
    another dataset). MMPretrain and MMSegmentation would otherwise train on
    (or fail at a later iteration with an index error).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        where = self._where(runner)
        if len(dataset) == 0:
            raise ValueError(f'train_dataloader.dataset: no training samples '
                             f'in {where}')
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        if classes is None:
            return
        if len(classes) < 2:
            raise ValueError(
                f'train_dataloader.dataset: {where} has {len(classes)} '
                f'class(es) {list(classes)}; expected at least 2')
        head = find_head(runner.model)
        num_classes = getattr(head, 'num_classes', None)
        if num_classes is not None and num_classes != len(classes):
            key = 'head' if hasattr(unwrap(runner.model),
                                    'head') else 'decode_head'
            raise ValueError(
                f'model.{key}.num_classes={num_classes}, but the training set '
                f'({where}) has {len(classes)} classes '
                f'({", ".join(map(str, list(classes)[:6]))}'
                f'{", ..." if len(classes) > 6 else ""}); make them agree')

    @staticmethod
    def _where(runner) -> str:
        cfg = runner.cfg.get('train_dataloader', {}).get('dataset', {})
        root = cfg.get('data_root') or cfg.get('dataset', {}).get('data_root')
        return f'data_root {root!r}' if root else 'the configured dataset'
