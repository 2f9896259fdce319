"""The package's import arrows run one way: cli -> (demo, stages) -> (distill, data, export, hub, metrics) -> modeling,
with the small root modules (utils, precision, plots) at the bottom. Walks every module's imports with `ast`,
including the imports inside functions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hf_tinybert"

# part of the package -> its layer; a module may import its own part and the parts of lower layers
LAYERS = {
    "cli": 5,
    "demo": 4,
    "stages": 3,
    "distill": 2,
    "data": 2,
    "export": 2,
    "hub": 2,
    "metrics": 2,
    "modeling": 1,
    "auto_registration": 1.5,
    "utils": 0,
    "precision": 0,
    "plots": 0,
}
# parts of layers 0 and 2 may import each other, except these: training does not publish
FORBIDDEN = {("distill", "hub"), ("distill", "export")}


def allowed(source: str, target: str) -> bool:
    if target == source or LAYERS[target] < LAYERS[source]:
        return True
    return LAYERS[target] == LAYERS[source] in (0, 2) and (source, target) not in FORBIDDEN


def part_of(module: str) -> str | None:
    """`hf_tinybert.stages.finetune` -> `stages`; the package root (the composition root) -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every `hf_tinybert` import in `path`."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                targets = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:  # `from . import x`: x may be a module
                    targets = [f"{targets[0]}.{alias.name}" for alias in node.names]
            else:
                targets = [node.module or ""]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, target) for target in targets if target.split(".")[0] == "hf_tinybert"]
    return found


def wrong_arrows() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = part_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if source in (None, "__init__"):
            continue  # the package root wires the parts together
        for line, target in imports_of(path):
            where = f"{path.relative_to(PACKAGE)}:{line} ({source})"
            target_part = part_of(target)
            if target_part is None and source != "cli":  # only the command line may import the whole package
                problems.append(f"{where} imports the package root ({target})")
            elif target_part is not None and target_part in LAYERS and not allowed(source, target_part):
                problems.append(f"{where} imports {target} ({target_part})")
    return problems


def test_every_part_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    parts -= {"__init__", "__pycache__", "templates"}
    assert parts <= set(LAYERS), f"give these a layer in LAYERS: {sorted(parts - set(LAYERS))}"


def test_imports_run_one_way():
    assert wrong_arrows() == []


@pytest.mark.parametrize(
    ("source", "code", "expected"),
    [
        ("modeling/x.py", "from ..distill import trainer", "imports hf_tinybert.distill (distill)"),
        ("distill/x.py", "def f():\n    from ..hub.card import ModelCardFacts", "imports hf_tinybert.hub.card"),
        ("stages/x.py", "import hf_tinybert.demo", "imports hf_tinybert.demo"),
        ("data/x.py", "from hf_tinybert import DistillationTrainer", "imports the package root"),
    ],
)
def test_the_walk_finds_a_wrong_arrow(tmp_path, monkeypatch, source, code, expected):
    """The check itself can fail: a copy of the package with one wrong import is caught, lazy imports included."""
    import shutil

    copy = tmp_path / "hf_tinybert"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / source).write_text(code + "\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert any(expected in problem for problem in wrong_arrows())
