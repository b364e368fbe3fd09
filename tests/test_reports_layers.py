"""The report engine's modules import one another in one direction: no cycle (render → workbook →
paragraph → figures → labels), so any of them can be imported first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reports"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def imports_of(module: str) -> set[str]:
    """The package's own modules that ``module`` imports, at its top or inside a function."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 0 and (node.module or "").startswith("reports."):
                found.add(node.module.split(".")[1])
    return found & set(MODULES)


def test_the_report_modules_import_one_another_without_a_cycle():
    graph = {module: imports_of(module) for module in MODULES}
    assert "render" not in graph["workbook"] and "render" not in graph["paragraph"]
    done: set[str] = set()

    def visit(module, path):
        assert module not in path, " → ".join([*path, module])
        if module not in done:
            for other in graph[module]:
                visit(other, [*path, module])
            done.add(module)

    for module in MODULES:
        visit(module, [])


@pytest.mark.parametrize("first", ["workbook", "paragraph", "render"])
def test_any_renderer_imports_first(first):
    code = f"import reports.{first}; from reports.render import write_xlsx, summary_vi; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
