"""Shared fixtures: every test gets fresh caches, closed at the end."""
import pytest

import pce


@pytest.fixture
def make_cache():
    made = []

    def make(**cfg):
        c = pce.Cache(**cfg)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def unraisable():
    """Collects what sys.unraisablehook receives (callback exceptions).

    pytest installs its own hook around each test phase, so this one is
    installed inside the test body: call the fixture's value to start.
    """
    import sys
    import threading

    got = []
    lock = threading.Lock()
    saved = []

    def hook(info):
        with lock:
            got.append(info)

    def start():
        saved.append(sys.unraisablehook)
        sys.unraisablehook = hook
        return got

    yield start
    if saved:
        sys.unraisablehook = saved[0]
