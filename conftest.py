"""Repository-wide pytest configuration."""

from __future__ import annotations

import doctest

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect docstring examples that are all marked ``+SKIP``: they are documentation
    (they need the real data or a trained model), not tests, and must not count as skips."""
    keep, documentation_only = [], []
    for item in items:
        examples = getattr(getattr(item, "dtest", None), "examples", None)
        if examples and all(ex.options.get(doctest.SKIP, False) for ex in examples):
            documentation_only.append(item)
        else:
            keep.append(item)
    if documentation_only:
        config.hook.pytest_deselected(items=documentation_only)
        items[:] = keep
