"""Runs existing/chat_suite.py, a user's unittest suite written against Flask-SocketIO's
test client, against each implementation: every TestCase method is one pytest test per
implementation, run by unittest on the module loaded for that implementation (once per
implementation, shared by its tests, as `python -m unittest` would)."""

from __future__ import annotations

import ast
import os
import unittest
from types import ModuleType
from typing import Dict, List, Tuple

import pytest

import flask_impl

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "existing", "chat_suite.py")
_loaded: Dict[str, ModuleType] = {}


def cases() -> List[Tuple[str, str]]:
    """(TestCase, method) of every test in the suite, read from its source, so collection
    imports neither implementation."""
    with open(SUITE, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    found.append((node.name, item.name))
    return found


def suite_module(impl: str) -> ModuleType:
    if impl not in _loaded:
        _loaded[impl] = flask_impl.load(SUITE, impl, f"chat_suite_{impl}")
    return _loaded[impl]


@pytest.mark.parametrize("case, method", cases())
def test_existing_suite(impl: str, case: str, method: str) -> None:
    module = suite_module(impl)
    test = unittest.TestLoader().loadTestsFromName(f"{case}.{method}", module)
    result = unittest.TestResult()
    test.run(result)
    assert result.testsRun == 1
    problems = [text for _, text in result.errors + result.failures]
    assert not problems, "\n".join(problems)
