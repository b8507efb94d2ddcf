"""``python -m benchmarks.run`` (what ``make bench`` and ``reclab bench`` run).

1. executes every solution notebook of ``reclab.course.registry.LABS`` (nbclient, cwd
   ``solutions/``), timing it against its budget; the notebooks record their models into
   ``results/<notebook>/`` (``reclab.results``);
2. fits every peer of :data:`benchmarks.peers.PEERS` on the same protocols and records it
   into ``results/peers/`` the same way;
3. reads every recorded row back: u1 rows are **rescored** from their prediction files with
   ``reclab.metrics.rating_metrics`` (never trusted from ``metrics.csv``), leave-one-out rows
   come from ``reclab.protocols`` in the notebooks and here alike;
4. writes ``results.md``, ``results.json`` and ``results.png`` (:mod:`benchmarks.report`).

Example (slow, so not a doctest)::

    python -m benchmarks.run --skip-notebooks --out benchmarks
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

from benchmarks.peers import PEERS, SEED, SELECT_ON, PeerMissing, PeerResult, run_peer
from benchmarks.report import VAL_KEY, Report, write_report
from reclab import protocols, results
from reclab.course.registry import LABS
from reclab.metrics import rating_metrics

__all__ = ["collect", "environment", "execute_notebooks", "main", "run"]

ROOT = Path(__file__).resolve().parents[1]
PEERS_FOLDER = "peers"
NOTEBOOK_TIMEOUT = 900  # seconds per cell
PACKAGES = ("tensorflow", "keras", "scikit-surprise", "implicit", "numpy", "pandas", "reclab")
PROTOCOLS = {
    "u1": "Canonical u1: fitted on u1.base (80,000 ratings), scored on u1.test (20,000); RMSE "
          "and MAE rescored here from each model's prediction file "
          "(reclab.metrics.rating_metrics, every test row required). Surprise peers use "
          f"library defaults, rows shuffled (seed {SEED}).",
    "loo": "reclab.protocols: all 100,000 ratings as interactions, ids encoded on all of "
           "them; test = each user's latest interaction (timestamp ties: the row further down "
           "u.data), validation = the latest training interaction, models fitted on the rest. "
           f"Sampled: the held-out item + {protocols.N_NEGATIVES} items the user never rated "
           f"(seed {protocols.TEST_SEED}); full: every item not in the user's training "
           f"interactions; k = {protocols.K}, ties count against the model; coverage@10 = "
           "share of the 1,682 items in at least one full-ranking top-10 list. Peers are "
           f"tuned on the validation items ({SELECT_ON}), then refitted on fit + validation; "
           "notebook models keep the weights of the epoch chosen on validation. Compare "
           "within this protocol only: 415 users rated several movies in their last second, "
           "and holding out their highest item id instead moves popularity's full HR@10 from "
           "0.086 to 0.050.",
}


def environment() -> dict[str, str]:
    """Date (UTC), CPU, cores, load average at the start, Python and library versions."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu}, {len(os.sched_getaffinity(0))} core(s), Python "
                   f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at "
                   "the start (timings are pessimistic when it is above the core count)",
        "versions": ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
    }


def _execute(notebook: Path, cwd: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    NotebookClient(nbformat.read(notebook, as_version=4), timeout=NOTEBOOK_TIMEOUT,
                   kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                   extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()


def execute_notebooks(solutions: Path, results_dir: Path, *,
                      executor: Callable[[Path, Path], None] = _execute,
                      log: Callable[[str], None] = print,
                      only: Sequence[str] | None = None) -> pd.DataFrame:
    """Run each registered lab's solution (stale results removed first); one row per lab.

    With ``only`` (stems), the other labs are not run and their recorded results are reused.
    """
    rows = []
    for lab in LABS:
        path = lab.solution(solutions)
        status, seconds = "missing", None
        if only is not None and lab.stem not in only:
            status = "not run (recorded results reused)"
        elif path.is_file():
            shutil.rmtree(results_dir / lab.stem, ignore_errors=True)
            log(f"bench: executing {path}")
            start = time.perf_counter()
            try:
                executor(path, solutions)
                status = "ok"
            except Exception as exc:  # record it and go on with the next notebook
                status = "failed: " + (str(exc).strip().splitlines() or [""])[-1][:300]
            seconds = time.perf_counter() - start
            log(f"bench:   {status} in {seconds:.1f} s")
        rows.append({"notebook": lab.stem, "wall_seconds": seconds,
                     "budget_seconds": lab.budget_seconds, "status": status})
    return pd.DataFrame(rows)


def _record_peers(fits: Sequence[PeerResult]) -> None:
    for fit in fits:
        results.record_result(PEERS_FOLDER, fit.peer.name, fit.metrics,
                              train_seconds=fit.train_seconds, split=fit.peer.split,
                              predictions=fit.predictions)


def collect(results_dir: Path, u1_test: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Every recorded row on u1 or loo, u1 rows rescored; returns ``(rows, problems)``."""
    table = results.results_table(split=None)
    problems, rows = [], []
    if "predictions" in table:  # rows sharing one file cannot be rescored: left out, reported
        shared = table.duplicated(["notebook", "predictions"], keep=False) & table[
            "predictions"].notna()
        for (notebook, file), group in table[shared].groupby(["notebook", "predictions"]):
            problems.append(f"{notebook}: models {', '.join(map(repr, group['model']))} share "
                            f"the prediction file {file}, so only the last one is on disk "
                            "(left out here): give them names that differ in letters or digits")
        table = table[~shared]
    packages = {peer.name: peer.package for peer in PEERS}
    for row in table.to_dict("records"):
        where, split = f"{row['notebook']} / {row['model']}", row["split"]
        peer = row["notebook"] == PEERS_FOLDER
        row |= {"kind": "peer" if peer else "notebook",
                "source": (f"{packages.get(row['model'], '?')} "
                           f"{_version(packages.get(row['model'], ''))}")
                if peer else row["notebook"]}
        if split == "u1":
            file = results_dir / row["notebook"] / str(row.get("predictions"))
            if not file.is_file():
                problems.append(f"{where}: no prediction file, so it cannot be rescored "
                                "(pass predictions= to reclab.results.record_result)")
                continue
            try:
                rescored = rating_metrics(u1_test, pd.read_csv(file), label=where)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            for key, value in rescored.items():
                if abs(row.get(key, value) - value) > 5e-4:
                    problems.append(f"{where}: recorded {key} {row[key]:.4f}, but its "
                                    f"predictions rescore to {value:.4f}")
            rows.append(row | rescored)
        elif split == "loo":
            absent = [key for key in protocols.METRIC_KEYS if pd.isna(row.get(key))]
            if absent:
                problems.append(f"{where}: recorded on 'loo' without {', '.join(absent)}")
                continue
            if pd.isna(row.get(VAL_KEY)):  # kept, but the headline cannot choose it
                problems.append(f"{where}: recorded on 'loo' without {VAL_KEY}, so it cannot "
                                "be chosen on validation (record the validation metric too)")
            rows.append(row)
    return pd.DataFrame(rows), problems


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except (metadata.PackageNotFoundError, ValueError):
        return "(not installed)"


def run(out: Path, skip_notebooks: bool = False, *, solutions: Path = ROOT / "solutions",
        executor: Callable[[Path, Path], None] = _execute, peers: Sequence = PEERS,
        log: Callable[[str], None] = print, only: Sequence[str] | None = None) -> Report:
    """The whole benchmark; returns the report after writing it into ``out``."""
    from reclab.data import load_movielens_100k, load_split
    from reclab.splits import binarize

    env = environment()
    results_dir = results.results_dir()
    runs = execute_notebooks(solutions, results_dir, executor=executor, log=log,
                             only=() if skip_notebooks else only)
    problems = [f"{r.notebook}: {r.status}" for r in runs.itertuples()
                if r.status != "ok" and not r.status.startswith("not run")]
    late = runs[runs["wall_seconds"] > runs["budget_seconds"]]
    problems += [f"{r.notebook} took {r.wall_seconds:.0f} s, over its budget of "
                 f"{r.budget_seconds} s" for r in late.itertuples()]
    u1_train, u1_test = load_split("u1")
    data = protocols.leave_one_out_data(binarize(load_movielens_100k().ratings, keep_all=True))
    shutil.rmtree(results_dir / PEERS_FOLDER, ignore_errors=True)
    fits = []
    for peer in peers:
        log(f"bench: fitting {peer.name} ({peer.package}) on {peer.split}")
        try:
            fits.append(run_peer(peer, u1=(u1_train, u1_test), data=data, log=log))
        except PeerMissing as exc:
            problems.append(str(exc))
    _record_peers(fits)
    rows, collect_problems = collect(results_dir, u1_test)
    tuning = {f.peer.name: {"grid": f.peer.grid, "chosen": f.chosen, "table": f.tuning}
              for f in fits if f.tuning is not None}
    report = Report(env, PROTOCOLS, rows, runs, tuning, problems + collect_problems)
    for path in write_report(report, out):
        log(f"bench: wrote {path}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: 0 when everything ran and rescored cleanly, else 1 (problems listed)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="The reclab benchmark: the labs' models vs tuned library peers.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    parser.add_argument("--skip-notebooks", action="store_true",
                        help="reuse results/ instead of executing the solution notebooks")
    parser.add_argument("--notebooks", nargs="+", metavar="STEM",
                        choices=[lab.stem for lab in LABS],
                        help="execute only these solution notebooks, reuse the others' results")
    args = parser.parse_args(argv)
    report = run(args.out, args.skip_notebooks, only=args.notebooks)
    for problem in report.problems:
        print(f"bench: problem: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
