"""Stop a run whose data sets do not fit the model, before they are used."""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel
from mmengine.registry import HOOKS

from .utils import find_head, unwrap

__all__ = ['DatasetCheckHook']


def _classes(dataset) -> Optional[Sequence]:
    return (getattr(dataset, 'metainfo', None) or {}).get('classes')


def _segmentor_or_classifier(runner):
    """The model, out of DDP and test-time augmentation wrappers."""
    model = unwrap(runner.model)
    return unwrap(model.module) if isinstance(model, BaseTTAModel) else model


def _shown(classes: Sequence) -> str:
    names = ', '.join(map(str, list(classes)[:6]))
    return f'({names}{", ..." if len(classes) > 6 else ""})'


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Check the data sets against the model before they are used.

    A run stops, with the data root and what was expected, when:

    - the training set is empty, has fewer than two classes (nothing to
      contrast or classify), or has another number of classes than the
      head's ``num_classes`` (an image folder missing a class, a config made
      for another dataset);
    - the validation set lists other classes, or the same in another order,
      than the training set (an image folder missing a class there shifts
      every later label by one: the scores would be silently wrong);
    - a validation or test set has another number of classes than the
      head's ``num_classes`` (checked before validating or testing, so that
      ``tools/test.py`` checks it too).

    MMPretrain and MMSegmentation would otherwise train and evaluate on (or
    fail at a later iteration with an index error).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        where = self._where(runner, 'train_dataloader')
        if len(dataset) == 0:
            raise ValueError(f'train_dataloader.dataset: no training samples '
                             f'in {where}')
        classes = _classes(dataset)
        if classes is None:
            return
        if len(classes) < 2:
            raise ValueError(
                f'train_dataloader.dataset: {where} has {len(classes)} '
                f'class(es) {list(classes)}; expected at least 2')
        self._check_num_classes(runner, 'train_dataloader', classes,
                                'the training set')
        if runner.val_loop is None:  # Runner.train builds it before this
            return
        val_classes = _classes(runner.val_dataloader.dataset)
        if val_classes is not None and list(val_classes) != list(classes):
            missing = [c for c in classes if c not in val_classes]
            extra = [c for c in val_classes if c not in classes]
            differ = (f'missing {missing}' if missing else
                      '') + (', ' if missing and extra else '') + (
                          f'not in training {extra}' if extra else '')
            raise ValueError(
                f'val_dataloader.dataset: '
                f'{self._where(runner, "val_dataloader")} has the classes '
                f'{list(val_classes)}, the training set {list(classes)} '
                f'({differ or "another order"}); a label is an index into '
                'these lists, so they must be equal (an image folder takes '
                'its classes from its subfolders: give every class one, or '
                'set metainfo.classes)')

    def before_val(self, runner) -> None:
        self._check_eval(runner, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check_eval(runner, 'test_dataloader')

    def _check_eval(self, runner, loader: str) -> None:
        classes = _classes(getattr(runner, loader).dataset)
        if classes is not None:
            self._check_num_classes(runner, loader, classes,
                                    self._where(runner, loader))

    def _check_num_classes(self, runner, loader: str, classes: Sequence,
                           name: str) -> None:
        model = _segmentor_or_classifier(runner)
        num_classes = getattr(find_head(model), 'num_classes', None)
        if num_classes is None or num_classes == len(classes):
            return
        key = 'head' if hasattr(model, 'head') else 'decode_head'
        if loader == 'train_dataloader':
            raise ValueError(
                f'model.{key}.num_classes={num_classes}, but {name} '
                f'({self._where(runner, loader)}) has {len(classes)} '
                f'classes {_shown(classes)}; make them agree')
        raise ValueError(
            f'{loader}.dataset: {name} has {len(classes)} classes '
            f'{_shown(classes)}, but model.{key}.num_classes={num_classes}; '
            'make them agree (an image folder takes its classes from its '
            'subfolders: give every class one, or set metainfo.classes)')

    @staticmethod
    def _where(runner, loader: str) -> str:
        cfg = runner.cfg.get(loader, {}).get('dataset', {})
        root = cfg.get('data_root') or cfg.get('dataset', {}).get('data_root')
        return f'data_root {root!r}' if root else 'the configured dataset'
