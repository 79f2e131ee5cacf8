"""Starting `spawn`-method processes whatever `__main__` is at that moment.

A spawned child re-runs the parent's `__main__` script (by module name, or by path) before it runs its
target. When the parent's `__main__` is not the program's own entry point -- Streamlit executes its pages as
`__main__`, an embedding script may have side effects -- the child would run that instead and die before its
target. The children started here only need their target's module, so `__main__` is hidden while they are
started.
"""

from __future__ import annotations

import sys
import threading
import types
from multiprocessing.process import BaseProcess

_lock = threading.Lock()


def start_clean(proc: BaseProcess) -> None:
    """`proc.start()` with an empty `__main__` (no file, no spec): the child imports only its target."""
    with _lock:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            proc.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main
