"""DatasetCheckHook on stand-in runners: each disagreement between the data
sets and the model stops the run with the option and what was expected;
data sets that agree, or that name no classes, pass.

The same refusals through ``tools/train.py`` and ``tools/test.py`` are in
``tests/test_bad_input/``.
"""
from types import SimpleNamespace
from typing import Optional, Sequence

import pytest
import torch.nn as nn
from mmengine.config import Config

from coretune_mm.engine.hooks import DatasetCheckHook


class FakeSet(list):
    """A data set: its samples and, unless ``classes`` is None, a
    ``metainfo`` naming them."""

    def __init__(self, classes: Optional[Sequence[str]], size: int = 4):
        super().__init__(range(size))
        self.metainfo = {} if classes is None else dict(classes=classes)


def fake_runner(train, val=None, test=None, num_classes=3, head='head'):
    model = nn.Module()
    setattr(model, head, nn.Module())
    getattr(model, head).num_classes = num_classes
    loaders = dict(train=train, val=val, test=test)
    return SimpleNamespace(
        model=model,
        cfg=Config({
            f'{name}_dataloader':
            dict(dataset=dict(data_root=f'data/{name}'))
            for name in loaders
        }),
        val_loop=None if val is None else object(),
        **{
            f'{name}_dataloader': SimpleNamespace(dataset=dataset)
            for name, dataset in loaders.items()
        })


ABC = ['a', 'b', 'c']


def test_agreeing_sets_pass():
    runner = fake_runner(FakeSet(ABC), FakeSet(ABC), FakeSet(ABC))
    hook = DatasetCheckHook()
    hook.before_train(runner)
    hook.before_val(runner)
    hook.before_test(runner)


def test_sets_without_classes_pass():
    """Nothing to compare (e.g. a dataset without ``metainfo.classes``)."""
    runner = fake_runner(FakeSet(None), FakeSet(None), FakeSet(None))
    DatasetCheckHook().before_train(runner)
    DatasetCheckHook().before_test(runner)


@pytest.mark.parametrize('train, fragments', [
    (FakeSet(ABC, size=0), [
        "train_dataloader.dataset: no training samples in data_root "
        "'data/train'"
    ]),
    (FakeSet(['a']), ["has 1 class(es) ['a']", 'expected at least 2']),
    (FakeSet(['a', 'b']), ['model.head.num_classes=3', 'has 2 classes (a, b)'
                           ]),
])
def test_training_set_is_checked(train, fragments):
    with pytest.raises(ValueError) as error:
        DatasetCheckHook().before_train(fake_runner(train, FakeSet(ABC)))
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize('val, differ', [
    (['a', 'c', 'b'], 'another order'),
    (['a', 'b'], "missing ['c']"),
    (['a', 'b', 'c', 'd'], "not in training ['d']"),
    (['a', 'b', 'd'], "missing ['c'], not in training ['d']"),
])
def test_validation_classes_equal_the_training_classes(val, differ):
    with pytest.raises(ValueError) as error:
        DatasetCheckHook().before_train(
            fake_runner(FakeSet(ABC), FakeSet(val), num_classes=None))
    message = str(error.value)
    assert message.startswith(
        "val_dataloader.dataset: data_root 'data/val' has the classes")
    assert f'({differ})' in message


def test_evaluation_sets_are_checked_before_they_are_used():
    """``tools/test.py`` runs no training: the test set is checked before
    testing, against the head (a segmentor's ``decode_head``)."""
    seven = [str(i) for i in range(7)]
    runner = fake_runner(
        FakeSet(ABC), FakeSet(ABC), FakeSet(seven), head='decode_head')
    hook = DatasetCheckHook()
    hook.before_val(runner)
    with pytest.raises(ValueError) as error:
        hook.before_test(runner)
    assert str(error.value).startswith(
        "test_dataloader.dataset: data_root 'data/test' has 7 classes "
        '(0, 1, 2, 3, 4, 5, ...), but model.decode_head.num_classes=3')
