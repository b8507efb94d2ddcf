"""The benchmark's tables and files: ``results.md`` (pandas + tabulate), ``.json``, ``.png``.

Everything here is a pure function of a :class:`Report` (plain tables), so it is tested on
small synthetic inputs.

Example:
    >>> rows = pd.DataFrame({"model": ["SVD", "MF"], "source": ["Surprise", "02_biased_mf"],
    ...                      "kind": ["peer", "notebook"], "split": ["u1", "u1"],
    ...                      "rmse": [0.95, 0.931], "mae": [0.75, 0.73]})
    >>> explicit_table(rows)[["model", "rmse ÷ best peer"]].round(2).to_numpy().tolist()
    [['MF', 0.98], ['SVD', 1.0]]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reclab.protocols import METRIC_KEYS

__all__ = ["HEADLINE", "Report", "explicit_table", "headline", "implicit_table", "write_report"]

#: The implicit metrics compared with the best tuned peer (ratio columns).
HEADLINE: tuple[str, ...] = METRIC_KEYS[:4]
#: A model's "chosen on validation" key (the peers are tuned on it too).
VAL_KEY = "val_ndcg@10_full"
#: Published u1 RMSEs, context only (different code, tuning and hardware; never rerun here).
PUBLISHED_U1 = pd.DataFrame(
    [("GC-MC", 0.910, "van den Berg, Kipf & Welling 2017 (0.905 with side features)"),
     ("IGMC", 0.905, "Zhang & Chen, ICLR 2020"), ("Sparse FC", 0.895, "Muller et al., ICML 2018"),
     ("GLocal-K", 0.889, "Han et al., CIKM 2021")], columns=["model", "u1 RMSE", "reference"])


@dataclass
class Report:
    """What the output files are rendered from: every model's row, notebook runs, problems."""

    environment: dict[str, Any]
    protocols: dict[str, str]
    rows: pd.DataFrame  # model, source, kind (notebook|peer), split, metrics, train_seconds
    notebooks: pd.DataFrame  # notebook, wall_seconds, budget_seconds, status
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)  # peer -> grid/chosen/table
    problems: list[str] = field(default_factory=list)


def _split(rows: pd.DataFrame, split: str) -> pd.DataFrame:
    return rows[rows["split"] == split].reset_index(drop=True) if len(rows) else rows


def explicit_table(rows: pd.DataFrame) -> pd.DataFrame:
    """u1 models, best RMSE first, with ``RMSE ÷ best peer`` (below 1 beats every peer)."""
    table = _split(rows, "u1")
    if table.empty:
        return pd.DataFrame(columns=["model", "source", "rmse", "mae", "rmse ÷ best peer"])
    best = table.loc[table["kind"] == "peer", "rmse"].min()
    table = table.assign(**{"rmse ÷ best peer": table["rmse"] / best})
    return table.sort_values("rmse", kind="stable").reset_index(drop=True)


def implicit_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-out models, best full-ranking NDCG@10 first, each headline ÷ the best peer's."""
    table = _split(rows, "loo")
    if table.empty:
        return pd.DataFrame(columns=["model", "source", *METRIC_KEYS])
    peers = table[table["kind"] == "peer"]
    ratios = {f"{key} ÷ best peer": table[key] / peers[key].max() for key in HEADLINE}
    table = table.assign(**ratios)
    return table.sort_values("ndcg@10_full", ascending=False, kind="stable").reset_index(
        drop=True)


def headline(rows: pd.DataFrame) -> pd.DataFrame:
    """The best neural model and the best tuned peer, each chosen on ``val_ndcg@10_full``.

    Notebook rows other than popularity are the neural models (06, 07).

    Example:
        >>> rows = pd.DataFrame({"model": ["GMF", "EASE"], "kind": ["notebook", "peer"],
        ...                      "split": "loo", "source": ["06", "numpy"],
        ...                      "val_ndcg@10_full": [0.07, 0.08],
        ...                      **{k: [0.5, 0.4] for k in METRIC_KEYS}})
        >>> headline(rows)["neural ÷ peer"].tolist()
        [1.25, 1.25, 1.25, 1.25]
    """
    table = _split(rows, "loo")
    if table.empty or VAL_KEY not in table.columns:
        return pd.DataFrame()
    chosen = {}
    learned = table["model"] != "popularity"  # the baseline is neither neural nor a peer
    for kind in ("notebook", "peer"):
        group = table[(table["kind"] == kind) & table[VAL_KEY].notna() & learned]
        if group.empty:
            return pd.DataFrame()
        chosen[kind] = group.loc[group[VAL_KEY].idxmax()]
    neural, peer = chosen["notebook"], chosen["peer"]
    return pd.DataFrame({
        "metric (test)": list(HEADLINE),
        f"neural: {neural['model']} ({neural['source']})": [neural[k] for k in HEADLINE],
        f"peer: {peer['model']}": [peer[k] for k in HEADLINE],
        "neural ÷ peer": [neural[k] / peer[k] for k in HEADLINE],
    })


def _markdown(table: pd.DataFrame, columns: list[str] | None = None, digits: int = 4) -> str:
    if table.empty:
        return "None."
    shown = table[[c for c in (columns or list(table.columns)) if c in table.columns]]
    whole = [c for c in shown.columns if pd.api.types.is_integer_dtype(shown[c])]
    shown = shown.astype(dict.fromkeys(whole, str))  # grid values as given, not 32.0000
    return shown.to_markdown(index=False, floatfmt=f".{digits}f", missingval="–")


def render_markdown(report: Report) -> str:
    """``results.md``: environment, protocols, tables, tuning grids, notebook times, problems.

    Example:
        >>> report = Report({"date": "2026-01-01"}, {}, pd.DataFrame(), pd.DataFrame())
        >>> render_markdown(report).splitlines()[0]
        '# reclab benchmark: the labs’ models vs tuned library peers'
    """
    env = report.environment
    out = ["# reclab benchmark: the labs’ models vs tuned library peers", ""]
    out += [f"- {key}: {value}" for key, value in env.items()]
    out += ["- regenerate: `make bench` (`python -m benchmarks.run`; `--skip-notebooks` reuses "
            "results/)", "", "![u1 RMSE and leave-one-out HR@10](results.png)", ""]
    out += ["## Explicit feedback: canonical u1 split", "", report.protocols.get("u1", ""), "",
            _markdown(explicit_table(report.rows),
                      ["model", "source", "rmse", "mae", "train_seconds", "rmse ÷ best peer"]),
            "", "Published on u1 (context, not rerun here):", "", _markdown(PUBLISHED_U1, digits=3),
            ""]
    out += ["## Implicit feedback: leave-one-out", "", report.protocols.get("loo", ""), ""]
    best = headline(report.rows)
    if not best.empty:
        out += ["### The best neural model vs the best tuned peer (both chosen on validation "
                "full-ranking NDCG@10)", "", _markdown(best), ""]
    out += [_markdown(implicit_table(report.rows),
                      ["model", "source", *METRIC_KEYS, VAL_KEY, "train_seconds",
                       *(f"{k} ÷ best peer" for k in HEADLINE)], digits=3), ""]
    out += ["### Tuning of the peers (on the validation items, never on test)", ""]
    for name, info in report.tuning.items():
        grid = ", ".join(f"{k} ∈ {list(v)}" for k, v in info["grid"].items())
        out += [f"**{name}**: grid {grid}; chosen **{info['chosen']}**; refitted on "
                "train (fit + validation) and scored once on test.", "",
                _markdown(info["table"].sort_values(VAL_KEY, ascending=False).head(5)), ""]
    out += ["## Notebook wall times", "", _markdown(report.notebooks, digits=1), ""]
    out += ["## Problems", "", *([f"- {p}" for p in report.problems] or ["None."])]
    return "\n".join(out) + "\n"


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    clean = table.astype(object).where(table.notna(), None)
    return clean.to_dict("records")


def report_to_json(report: Report) -> dict[str, Any]:
    """The machine-readable report: plain dicts, lists, numbers and None (no NaN)."""
    return {
        "environment": report.environment,
        "protocols": report.protocols,
        "explicit": _records(explicit_table(report.rows)),
        "implicit": _records(implicit_table(report.rows)),
        "headline": _records(headline(report.rows)),
        "published_u1_not_rerun": _records(PUBLISHED_U1),
        "tuning": {name: {"grid": {k: list(v) for k, v in info["grid"].items()},
                          "chosen": info["chosen"], "select_on": VAL_KEY,
                          "tried": _records(info["table"])}
                   for name, info in report.tuning.items()},
        "notebooks": _records(report.notebooks),
        "problems": report.problems,
    }


def plot_report(report: Report, path: Path) -> Path:
    """``results.png``: u1 RMSE per model and leave-one-out HR@10 (sampled and full)."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    u1, loo = explicit_table(report.rows).iloc[::-1], implicit_table(report.rows).iloc[::-1]
    fig = Figure(figsize=(11, 3 + 0.25 * (len(u1) + len(loo))), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[max(len(u1), 1), max(len(loo), 1) + 1])
    colours = {"peer": "#d95f02", "notebook": "#1b9e77"}
    for ax, table, keys, title, xlabel in (
        (top, u1, ["rmse"], "Explicit feedback: u1 test RMSE (orange: peers)",
         "RMSE (stars, lower is better)"),
        (bottom, loo, ["hr@10_sampled", "hr@10_full"],
         "Implicit feedback, leave-one-out: HR@10 with 99 sampled negatives (solid) and full "
         "ranking (hatched)", "HR@10 (share of the 943 test users)"),
    ):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        if table.empty:
            ax.text(0.5, 0.5, "no results", ha="center", transform=ax.transAxes)
            continue
        y = np.arange(len(table))
        colour = [colours[kind] for kind in table["kind"]]
        for offset, key, hatch in zip((0.2, -0.2) if len(keys) > 1 else (0.0,), keys,
                                      ("", "////"), strict=False):
            ax.barh(y + offset, table[key], height=0.8 / len(keys), color=colour, hatch=hatch,
                    edgecolor="white" if hatch else None)
        ax.set_yticks(y, [f"{m} [{s}]" for m, s in zip(table["model"], table["source"],
                                                       strict=True)], fontsize=7)
    if not u1.empty:
        top.set_xlim(0.85, min(float(u1["rmse"].max()) + 0.02, 1.2))
    fig.suptitle(f"reclab benchmark, {report.environment.get('date', '')}", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _plain(value: Any) -> Any:
    """JSON for numpy scalars (NaN already replaced by None)."""
    return value.item() if isinstance(value, np.generic) else str(value)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write ``results.md``, ``results.json`` and ``results.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "results.md", out_dir / "results.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report_to_json(report), indent=2, allow_nan=False,
                             default=_plain) + "\n", encoding="utf-8")
    return [md, js, plot_report(report, out_dir / "results.png")]
