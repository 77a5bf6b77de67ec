from __future__ import annotations

import subprocess
import sys
import types

import allocator


def test_every_public_name_is_importable_and_listed() -> None:
    for name in allocator.__all__:
        assert hasattr(allocator, name), name
    public = {
        n
        for n in dir(allocator)
        if not n.startswith("_") and not isinstance(getattr(allocator, n), types.ModuleType)
    }
    assert public - {"annotations"} <= set(allocator.__all__)


def test_core_imports_no_io_libraries() -> None:
    code = (
        "import sys, allocator.core.arms\n"
        "import pkgutil, importlib, allocator.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('allocator.core.' + m.name)\n"
        "bad = [m for m in ('httpx', 'pandas', 'pydantic', 'matplotlib', 'sqlite3') "
        "if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"allocator.core pulled in {out}"
