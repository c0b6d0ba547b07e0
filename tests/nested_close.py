"""Compare nested documents (``model_dump()`` output): numbers to a tolerance, the rest exactly.

``pytest.approx`` takes flat mappings and sequences only; since pytest 9.2 it refuses any
container inside them (``does not support nested dictionaries``; 9.0 and 9.1 let lists
through). Tests that compare whole pydantic documents use :func:`assert_nested_close` instead.
Importable from every test module because pytest puts ``tests/`` (the folder of the root
conftest.py) on ``sys.path``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np


def nested_differences(actual: Any, expected: Any, *, abs: float, path: str = "") -> list[str]:
    """Every place where ``actual`` and ``expected`` differ, as ``"path: reason"`` lines.

    Mappings must have the same keys and lists and tuples the same type and length (numpy
    arrays compare as lists); their items are compared recursively. Numeric leaves (int,
    float, complex and numpy scalars, not bool) agree when ``|actual - expected| <= abs``;
    NaN agrees with nothing.
    Every other leaf (str, bool, None, enums, ...) must be equal and of the same type.
    """
    where = path or "<root>"
    if isinstance(expected, np.ndarray):
        expected = expected.tolist()
    if isinstance(actual, np.ndarray):
        actual = actual.tolist()
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{where}: expected a mapping, got {type(actual).__name__} {actual!r}"]
        if set(actual) != set(expected):
            missing, extra = set(expected) - set(actual), set(actual) - set(expected)
            return [f"{where}: keys differ, missing {sorted(map(repr, missing))}, "
                    f"extra {sorted(map(repr, extra))}"]  # fmt: skip
        return [
            line
            for key in expected
            for line in nested_differences(
                actual[key], expected[key], abs=abs, path=f"{path}[{key!r}]"
            )
        ]
    if isinstance(expected, list | tuple):
        if type(actual) is not type(expected):
            return [f"{where}: expected a {type(expected).__name__}, got "
                    f"{type(actual).__name__} {actual!r}"]  # fmt: skip
        if len(actual) != len(expected):
            return [f"{where}: length {len(actual)} != expected {len(expected)}"]
        return [
            line
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for line in nested_differences(a, e, abs=abs, path=f"{path}[{i}]")
        ]
    if _is_number(expected) and _is_number(actual):
        difference = np.abs(complex(actual) - complex(expected))
        if not difference <= abs:  # also false for NaN
            return [f"{where}: {actual!r} != {expected!r} (|difference| {difference:.3g} > {abs})"]
        return []
    if type(actual) is not type(expected) or actual != expected:
        return [f"{where}: {actual!r} != expected {expected!r}"]
    return []


def assert_nested_close(actual: Any, expected: Any, *, abs: float) -> None:
    """Fail with every difference listed unless :func:`nested_differences` finds none."""
    __tracebackhide__ = True
    differences = nested_differences(actual, expected, abs=abs)
    assert not differences, "nested documents differ:\n  " + "\n  ".join(differences)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | np.bool_)

