from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_support import Sandbox, make_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = make_sandbox()
    yield box
    box.http.close()
