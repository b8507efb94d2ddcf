"""One course, one codebase: a definition taught in a notebook is the package's definition.

Each teaching notebook keeps its definitions in full view (the exercise in the lab); later
notebooks import them from the package. These tests fail when a notebook's definition and
the package's differ (docstrings, comments and type annotations aside), when a taught
definition disappears from its notebook, and when a package definition is pasted into a
notebook that does not teach it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"

TAUGHT: dict[str, dict[str, str]] = {
    "00_movielens_tour": {"evaluate_u1": "reclab.models"},
    "01_regression_dot": {"pair_inputs": "reclab.models", "predict_ratings": "reclab.models"},
    "02_biased_mf": {
        "sigmoid_range": "reclab.models", "global_mean_logit": "reclab.models",
        "BatchRowsL2": "reclab.models", "build_biased_mf": "reclab.models",
        "train_rating_model": "reclab.models",
    },
    "03_deep_recommender": {
        "masked_mse": "reclab.models", "rating_matrix": "reclab.models",
        "build_autorec": "reclab.models", "train_autorec": "reclab.models",
        "autorec_predictions": "reclab.models", "fit_blend_weights": "reclab.models",
        "blend_predictions": "reclab.models",
    },
    "05_side_information": {
        "AGE_BINS": "reclab.models", "user_feature_table": "reclab.models",
        "YEAR_BINS": "reclab.models", "UNKNOWN_YEAR": "reclab.models",
        "item_feature_table": "reclab.models", "feature_inputs": "reclab.models",
        "build_hybrid_model": "reclab.models",
    },
    "06_implicit_feedback": {"hit_rate_and_ndcg": "reclab.protocols"},
}
SHARED_MODULES = ("reclab.models", "reclab.protocols")
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS",
           "### END HIDDEN TESTS")


def _normalise(node: ast.AST) -> str:
    """The node's code without docstrings and annotations (comments are gone already)."""
    node = ast.parse(ast.unparse(node)).body[0]          # a fresh copy
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = sub.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                sub.body = body[1:] or [ast.Pass()]
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            sub.returns = None
            args = sub.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg,
                        args.kwarg]:
                if arg is not None:
                    arg.annotation = None
        if isinstance(sub, ast.AnnAssign):
            sub.annotation = ast.Name("_", ast.Load())
    return ast.dump(node)


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = ast.Assign(targets=[ast.Name(target.id, ast.Store())],
                                                  value=node.value, lineno=0)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = ast.Assign(targets=[node.target], value=node.value,
                                               lineno=0)
    return found


def _notebook_definitions(notebook: str) -> dict[str, ast.AST]:
    cells = json.loads((SOLUTIONS / f"{notebook}.ipynb").read_text())["cells"]
    found: dict[str, ast.AST] = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        code = "\n".join(line for line in lines if line.strip() not in MARKERS
                         and not line.lstrip().startswith(("%", "!")))
        found.update(_top_level(ast.parse(code)))
    return found


def _package_definitions(module: str) -> dict[str, ast.AST]:
    return _top_level(ast.parse(inspect.getsource(importlib.import_module(module))))


CASES = [(nb, name, module) for nb, names in TAUGHT.items() for name, module in names.items()
         if (SOLUTIONS / f"{nb}.ipynb").is_file()]


@pytest.mark.parametrize(("notebook", "name", "module"), CASES)
def test_notebook_definition_is_the_packages(notebook, name, module):
    in_notebook = _notebook_definitions(notebook)
    in_package = _package_definitions(module)
    assert name in in_package, f"{module} has no {name}"
    assert name in in_notebook, f"{notebook} no longer shows the definition of {name}"
    assert _normalise(in_notebook[name]) == _normalise(in_package[name]), (
        f"{name}: the definition in solutions/{notebook}.ipynb differs from {module}'s; "
        "change both together (the notebook teaches it, later notebooks import it)")


def test_shared_definitions_are_pasted_nowhere_else():
    shared = {name for module in SHARED_MODULES for name in _package_definitions(module)
              if not name.startswith("_") and not name.isupper()}
    pasted = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        allowed = set(TAUGHT.get(path.stem, {}))
        pasted += [f"{path.stem}: {name}" for name in _notebook_definitions(path.stem)
                   if name in shared and name not in allowed]
    assert not pasted, f"import these from the package instead of redefining them: {pasted}"


def test_the_comparison_sees_a_one_character_change():
    package = _package_definitions("reclab.models")["global_mean_logit"]
    changed = ast.parse(ast.unparse(package).replace("1 - p", "1 + p")).body[0]
    assert _normalise(changed) != _normalise(package)
    docstring_only = ast.parse(ast.unparse(package).replace("constant logit", "other text")).body[0]
    assert _normalise(docstring_only) == _normalise(package)
