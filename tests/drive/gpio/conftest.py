"""Every async test in this folder runs on async-solipsism's virtual clock."""

from __future__ import annotations

from typing import Any

import async_solipsism


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    """Virtual time: deadlines are reached at once, in order, with no real waiting."""
    return {"virtual": async_solipsism.EventLoop}
