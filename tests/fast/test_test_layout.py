"""The tests' own layout: a test module imports no other test module, so that what two of
them share lives once, in tests/ at the top (conftest.py, factories.py, pages.py,
servers.py, browsing.py...), and a module can be moved or deleted alone."""

import ast

from tests.conftest import REPO

TESTS = REPO / "tests"
FOLDERS = ("fast", "live", "browser")  # where the test modules are


def imported(source):
    """Every module `source` imports by name, at any depth (".x" for a relative import)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield base
            if node.module in (None, "tests"):  # from tests import fast / from . import x
                yield from (f"{base}.{alias.name}".replace("..", ".") for alias in node.names)


def into_test_modules(source):
    return sorted(
        {
            name
            for name in imported(source)
            if name.startswith(".") or name.split(".")[:2] in (["tests", f] for f in FOLDERS)
        }
    )


def test_no_module_of_the_tests_imports_a_test_module():
    found = {
        str(path.relative_to(REPO)): into_test_modules(path.read_text())
        for path in sorted(TESTS.rglob("*.py"))
    }
    offending = {path: names for path, names in found.items() if names}
    assert offending == {}, "Move what these import into a module at the top of tests/: " + repr(
        offending
    )


def test_the_check_sees_each_way_of_importing_a_test_module():
    for source in (
        "from tests.fast.test_logging import EVENT_KEYS",
        "from tests.browser.conftest import log_in",
        "import tests.live.servers",
        "from tests import live",
        "from .test_callback_body import PARSE",
        "from . import test_callback_body",
        "def f():\n    from tests.fast import test_logging",
    ):
        assert into_test_modules(source), source
    for source in ("from tests.conftest import REPO", "from tests import strategies as fuzz",
                   "import tests.factories", "from uploads.models import Status"):  # fmt: skip
        assert not into_test_modules(source), source
