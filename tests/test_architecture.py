"""The layering of the code, checked on every run: a wrong import fails the suite, not only a review."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("factory", "api", "jobs", "service", "models")


def test_imports_run_one_way_and_no_layer_has_a_cycle():
    """The import-linter contracts of setup.cfg: factory → api | jobs → service → models, no cycle in a layer."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_imports_inside_functions_say_why():
    """An import inside a function hides a dependency; it is allowed only with the reason written on its line."""
    unexplained = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for inner in ast.walk(node):
                        if isinstance(inner, ast.Import | ast.ImportFrom) and "#" not in lines[inner.lineno - 1]:
                            unexplained.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert unexplained == []
