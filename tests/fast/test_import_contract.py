"""The import contract (.importlinter) holds, and the docs' Map is its order.

`make test` and `make lint` run it too (`lint-imports`); here it runs with the suite, so
the PostgreSQL pass checks it as well: the layers, the models importing nothing above
them, and nothing importing in a circle (imports inside functions count).
"""

import configparser
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contract_layers():
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    lines = config["importlinter:contract:layers"]["layers"].splitlines()
    layers = [line for line in (line.strip() for line in lines) if line and line[0] != "#"]
    return [[tail.strip().strip("()") for tail in re.split(r"[|:]", layer)] for layer in layers]


def test_the_layers_hold_the_models_import_nothing_above_them_and_nothing_is_circular():
    run = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


def test_the_map_lists_the_contracts_layers_in_its_order():
    text = (REPO / "docs" / "how-it-works.md").read_text()
    the_map = text[text.index("## Map") : text.index("\n## ", text.index("## Map") + 1)]
    rows = re.findall(r"^\| (\d+)\. [^|]+ \|([^|]+)\|", the_map, re.M)
    layers = contract_layers()
    assert [int(number) for number, _ in rows] == list(range(1, len(layers) + 1))
    for (number, where), modules in zip(rows, layers, strict=True):
        missing = [m for m in modules if m.rsplit(".", 1)[-1] not in where]
        assert not missing, f"the Map's layer {number} does not name {missing}"
