"""Shared test setup: every test gets its own INVEST_HOME and no system config.

It also keeps the suite safe to run in parallel (``pytest -n 2 --dist loadgroup``, the
README's command): each test leaves ``os.environ`` as it found it, and the tests are
handed to the workers in groups that share a costly or fixed-path fixture (below).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Tests that must run in one worker, by what they share. A session fixture is built once
#: per worker, so its users go together; the TUI snapshots write one fixed folder (their
#: path is on screen), so two workers would overwrite each other's ledger.
_SHARED_FIXTURE_GROUPS = {
    "installation": "installs",  # install.sh into a prefix, about a minute (packaging)
    "snapshot_paths": "tui-snapshots",  # /tmp/invest-tui-snapshots/home
    "options_snapshot_paths": "tui-snapshots",  # /tmp/invest-tui-snapshots/options
}
#: Folders whose session fixtures train models (tests/trainer/conftest.py): one group.
_FOLDER_GROUPS = {"trainer": "trainer"}


def _group(item: pytest.Item) -> str:
    """The xdist group of a test: a shared fixture's group, its folder's, or its file."""
    for fixture, group in _SHARED_FIXTURE_GROUPS.items():
        if fixture in getattr(item, "fixturenames", ()):
            return group
    parts = item.path.relative_to(item.config.rootpath).parts
    if len(parts) > 1 and parts[1] in _FOLDER_GROUPS:
        return _FOLDER_GROUPS[parts[1]]
    # The file: module-scoped fixtures (a trained walk-forward, a replayed backtest) are
    # then built once, as in a serial run.
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist appends the group to the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, put each test in its group (see :func:`_group`)."""
    # The workers collect the tests; xdist runs them with dist "no" and loadgroup True.
    if not (config.getoption("dist", "no") == "loadgroup" or config.getoption("loadgroup", False)):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_group(item)))


#: Terminal size variables: rich fixes its width from COLUMNS when a console is made.
_TERMINAL = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)  # an xdist hook: runs in the controller, once per worker
def pytest_configure_node(node: Any) -> None:
    """Hand each worker the controller's terminal variables (see :func:`pytest_configure`)."""
    node.workerinput["invest_terminal"] = {k: os.environ.get(k) for k in _TERMINAL}


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker, set COLUMNS and LINES back to what the controller had.

    A worker starts with COLUMNS=80 and LINES=24 where the controller had none; the CLI's
    rich console, made once per process, then keeps 80 columns whatever a later test sets,
    and the tables a test reads wrap differently than in a serial run.
    """
    terminal = getattr(config, "workerinput", {}).get("invest_terminal")
    for name, value in (terminal or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Undo whatever a test wrote to ``os.environ`` directly (not through monkeypatch).

    Without this a variable set by one test leaks into the next test of the same process,
    and which test that is depends on how the workers were handed their tests.
    """
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("invest-home")
    monkeypatch.setenv("INVEST_HOME", str(home))
    monkeypatch.delenv("INVEST_CONFIG", raising=False)
    return home
