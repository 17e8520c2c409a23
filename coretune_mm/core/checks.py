"""Argument checks shared by the core and the heads: each error names the
option and what was expected."""
import numbers

__all__ = ['check_bools', 'check_non_negative', 'check_int']


def check_bools(**options) -> None:
    """Raise ValueError unless every option is a bool."""
    for name, value in options.items():
        if not isinstance(value, bool):
            raise ValueError(f'{name} must be a bool, got {value!r}')


def check_non_negative(**options) -> None:
    """Raise ValueError unless every option is a real number >= 0 (NumPy
    scalars included; NaN and bools fail)."""
    for name, value in options.items():
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (real and value >= 0):
            raise ValueError(f'{name} must be >= 0, got {value!r}')


def check_int(name: str, value, minimum: int) -> None:
    """Raise ValueError unless ``value`` is an int >= ``minimum``."""
    if isinstance(value,
                  bool) or not isinstance(value, int) or value < minimum:
        kind = 'a positive int' if minimum == 1 else f'an int >= {minimum}'
        raise ValueError(f'{name} must be {kind}, got {value!r}')
