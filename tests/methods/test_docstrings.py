"""Every public function of imdx.methods is documented with a worked example, and the examples run."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = ["ipf", "flows_from_stocks", "accounts", "interpolation", "balancing", "mirror", "remittances",
           "indices", "synthetic", "azose_raftery", "uncertainty"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    mod = importlib.import_module(f"imdx.methods.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


@pytest.mark.parametrize("name", [m for m in MODULES if m != "accounts"])
def test_every_public_function_has_an_example(name):
    mod = importlib.import_module(f"imdx.methods.{name}")
    missing = [f for f in mod.__all__ if inspect.isfunction(getattr(mod, f))
               and ">>>" not in (getattr(mod, f).__doc__ or "")]
    assert not missing, f"add a worked example to: {missing}"
    assert mod.__doc__ and len(mod.__doc__) > 200   # each module states its method and references
