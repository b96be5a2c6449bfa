"""Loads a Flask app module written once against `ferrosocket.flask` as either
implementation: `ferrosocket` runs the source as it is, `flask_socketio` runs it with its one
`from ferrosocket.flask import ...` line rewritten to `from flask_socketio import ...`, and
nothing else changed. That rewrite is the compatibility claim itself: a module that needs
any other change to run on the reference is refused here rather than patched.

Used by tests/flask's conftest.py (in-process apps for the test client), serve.py (apps as
server processes) and test_seeds.py. It must never import either implementation itself:
which one a module gets is decided by the rewritten source alone.
"""

from __future__ import annotations

import os
import re
import sys
import types
from typing import List

IMPLS = ("flask_socketio", "ferrosocket")
"""The two implementations, reference first."""

_IMPORT = re.compile(r"^from ferrosocket\.flask import ", re.MULTILINE)
_ANY_IMPORT = re.compile(r"^\s*(?:from|import)\s+ferrosocket\b", re.MULTILINE)


def selected_impls() -> List[str]:
    """The implementations to run: both, or the one named by FLASK_IMPL (e.g.
    `FLASK_IMPL=flask_socketio` while ferrosocket.flask is not built)."""
    chosen = os.environ.get("FLASK_IMPL", "").strip()
    if not chosen:
        return list(IMPLS)
    if chosen not in IMPLS:
        raise ValueError(f"FLASK_IMPL={chosen!r}: expected one of {IMPLS}")
    return [chosen]


def source_for(path: str, impl: str) -> str:
    """The module's source for `impl`. Raises ValueError unless the module has exactly one
    `from ferrosocket.flask import` line and no other import of ferrosocket (so the rewrite
    is the only difference between the two runs)."""
    if impl not in IMPLS:
        raise ValueError(f"unknown implementation {impl!r}")
    with open(path, encoding="utf-8") as file:
        text = file.read()
    imports = _IMPORT.findall(text)
    if len(imports) != 1:
        raise ValueError(f"{path}: {len(imports)} 'from ferrosocket.flask import' lines, not one")
    if len(_ANY_IMPORT.findall(text)) != 1:
        raise ValueError(f"{path}: imports ferrosocket outside its one ferrosocket.flask line")
    if impl == "flask_socketio":
        text = _IMPORT.sub("from flask_socketio import ", text)
    return text


def load(path: str, impl: str, name: str) -> types.ModuleType:
    """Runs the module at `path` for `impl` under the module name `name` (registered in
    sys.modules first, so Flask finds its folder for templates and static files; a name
    other than `__main__`, so an `if __name__ == '__main__': socketio.run(...)` block does
    not run)."""
    source = source_for(path, impl)
    module = types.ModuleType(name)
    module.__file__ = os.path.abspath(path)
    sys.modules[name] = module
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
