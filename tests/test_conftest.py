"""The parallel-safety parts of tests/conftest.py: environment restore and xdist groups.

Each case runs a small pytest session in a scratch folder (``pytester``) whose conftest
imports the real hook or fixture from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Options of the inner sessions: textual-snapshot's session hooks would share (and then
#: delete) the outer session's report folder, named in an environment variable.
_INNER = ("-p", "no:cacheprovider", "-p", "no:textual-snapshot")

_USES = """
from pathlib import Path

import pytest

@pytest.fixture
def {fixture}():
    return 1

def test_one({fixture}):
    pass

def test_two({fixture}):
    pass
"""


def test_a_variable_a_test_sets_does_not_reach_the_next_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest("from tests.conftest import _restore_environ  # noqa: F401\n")
    pytester.makepyfile(
        """
        import os

        def test_leaks():
            os.environ["INVEST_LEAK_PROBE"] = "1"
            os.environ.pop("INVEST_KEPT_PROBE")

        def test_sees_the_environment_as_before():
            assert "INVEST_LEAK_PROBE" not in os.environ
            assert os.environ["INVEST_KEPT_PROBE"] == "kept"
        """
    )
    monkeypatch.setenv("INVEST_KEPT_PROBE", "kept")
    pytester.runpytest(*_INNER).assert_outcomes(passed=2)


def _groups(pytester: pytest.Pytester, *args: str) -> dict[str, str | None]:
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems  # noqa\n")
    items, _ = pytester.inline_genitems(*_INNER, "--import-mode=importlib", *args)
    out: dict[str, str | None] = {}
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        out[item.nodeid] = None if mark is None else mark.args[0]
    return out


def _layout(pytester: pytest.Pytester) -> None:
    # No __init__.py: the scratch modules must not pose as the real ``tests`` package.
    for sub in ("packaging", "trainer", "tui", "runtime"):
        (pytester.path / "suite" / sub).mkdir(parents=True)
    files = {
        "suite/packaging/test_install.py": _USES.format(fixture="installation"),
        "suite/packaging/test_supervisor.py": _USES.format(fixture="installation"),
        "suite/tui/test_snapshots.py": _USES.format(fixture="snapshot_paths"),
        "suite/trainer/test_env.py": "def test_one():\n    pass\n",
        "suite/trainer/test_pack.py": "def test_one():\n    pass\n",
        "suite/runtime/test_cli.py": "def test_one():\n    pass\n\ndef test_two():\n    pass\n",
    }
    for path, text in files.items():
        (pytester.path / path).write_text(text)


def test_loadgroup_keeps_shared_fixtures_folders_and_files_together(
    pytester: pytest.Pytester,
) -> None:
    _layout(pytester)
    groups = _groups(pytester, "-p", "xdist", "--dist", "loadgroup", "suite")
    assert groups == {
        "suite/packaging/test_install.py::test_one": "installs",
        "suite/packaging/test_install.py::test_two": "installs",
        "suite/packaging/test_supervisor.py::test_one": "installs",
        "suite/packaging/test_supervisor.py::test_two": "installs",
        "suite/runtime/test_cli.py::test_one": "suite/runtime/test_cli.py",
        "suite/runtime/test_cli.py::test_two": "suite/runtime/test_cli.py",
        "suite/trainer/test_env.py::test_one": "trainer",
        "suite/trainer/test_pack.py::test_one": "trainer",
        "suite/tui/test_snapshots.py::test_one": "tui-snapshots",
        "suite/tui/test_snapshots.py::test_two": "tui-snapshots",
    }


def test_without_loadgroup_no_test_is_grouped(pytester: pytest.Pytester) -> None:
    _layout(pytester)
    groups = _groups(pytester, "suite")
    assert len(groups) == 10
    assert set(groups.values()) == {None}


def test_an_xdist_worker_sees_the_terminal_variables_of_a_serial_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        "from tests.conftest import pytest_configure, pytest_configure_node  # noqa: F401\n"
    )
    pytester.makepyfile(
        """
        import os

        def test_terminal():
            assert "COLUMNS" not in os.environ
            assert os.environ["LINES"] == "33"
        """
    )
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("LINES", "33")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))  # tests.conftest
    pytester.runpytest(*_INNER, "-p", "xdist", "-n", "1").assert_outcomes(passed=1)


def test_the_workers_run_each_group_in_one_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _layout(pytester)
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems  # noqa\n")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))  # tests.conftest
    result = pytester.runpytest(
        *_INNER, "--import-mode=importlib", "-p", "xdist", "-n", "2", "--dist", "loadgroup", "-v"
    )
    result.assert_outcomes(passed=10)
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        if " PASSED " in line:  # "[gw0] [ 10%] PASSED suite/x.py::test_one@group"
            worker, nodeid = line.split()[0], line.split()[-1]
            workers.setdefault(nodeid.rsplit("@", 1)[-1], set()).add(worker)
    assert set(workers) == {
        "installs", "trainer", "tui-snapshots", "suite/runtime/test_cli.py"
    }  # fmt: skip
    assert all(len(w) == 1 for w in workers.values()), workers
