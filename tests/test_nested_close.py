"""The helper that replaces pytest.approx on nested documents compares no less than approx did."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nested_close import assert_nested_close, nested_differences

DOC = {
    "z2": [0, 0, 0, 1],
    "gap_eV": 0.25,
    "route": "parity+wilson",
    "routes_agree": True,
    "inverted_trim": [],
    "flags": (),
    "note": None,
    "nested": {"lambdas": [0.0, 0.5, 1.0], "inner": {"x": 1.5}},
}


def _changed(path, value):
    doc = {**DOC, "nested": {**DOC["nested"], "inner": {**DOC["nested"]["inner"]}}}
    *parents, key = path
    target = doc
    for parent in parents:
        target = target[parent]
    target[key] = value
    return doc


def test_equal_and_within_tolerance_pass():
    assert nested_differences(DOC, DOC, abs=1e-8) == []
    close = _changed(("nested", "inner", "x"), 1.5 + 5e-9)
    assert_nested_close(close, DOC, abs=1e-8)
    assert_nested_close({"a": np.float64(0.1), "b": np.array([1.0, 2.0])},
                        {"a": 0.1 + 1e-12, "b": [1.0, 2.0]}, abs=1e-8)  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("gap_eV",), 0.25 + 2e-8),  # numeric leaf beyond abs
        (("nested", "lambdas"), [0.0, 0.5, 1.0 + 1e-7]),  # inside a nested list
        (("nested", "inner", "x"), math.nan),  # NaN equals nothing
        (("z2",), [0, 0, 0, 0]),  # integer leaf
        (("z2",), [0, 0, 0]),  # length
        (("flags",), []),  # tuple vs list
        (("route",), "parity"),  # string exactly
        (("routes_agree",), False),  # bool exactly
        (("routes_agree",), 1),  # bool is not a number here
        (("note",), 0),  # None exactly
        (("nested",), {"lambdas": [0.0, 0.5, 1.0]}),  # missing key
    ],
)
def test_every_kind_of_difference_fails(path, value):
    changed = _changed(path, value)
    assert nested_differences(changed, DOC, abs=1e-8)
    with pytest.raises(AssertionError, match="nested documents differ"):
        assert_nested_close(changed, DOC, abs=1e-8)
