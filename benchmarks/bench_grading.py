"""Grading at the speed of execution: ``reclab grade`` time vs bare notebook execution.

N correct submissions of one lab (its stubs replaced by the solution code) are graded with
``--jobs J``; the same notebook is executed bare (nbclient, a fresh kernel, TensorFlow's
import included) ``J`` times in parallel, in the same run, which is what J grading workers
would need per wave if grading cost nothing. The ratio printed is

    grading wall time / (N / J × one parallel wave of bare executions)

(the wave is measured before and after grading and averaged: other load on the machine moves
both). The per-step medians show the grading's own overhead directly: a submission's worker
time minus nbgrader's autograde step (which is the kernel's run plus nbgrader's
preprocessors).

(issue 16's goal: ≤ 1.3 for lab 01, N = 10, J = 2). ``--sandbox both`` grades the same N
submissions with bubblewrap and then without, in one run, and prints the sandbox's overhead
(issue 14's goal: ≤ 10 % for 20 submissions of lab 01, J = 2). The per-step time of each graded
submission (nbgrader's autograde = the kernel's run, feedback, the rest) comes from the
grading workers' answers. Results go to ``benchmarks/grading-<sandbox(es)>.json`` and ``.md`` with
the machine and its load.

Example:
    $ .venv/bin/python benchmarks/bench_grading.py --lab 01_regression_dot -n 20 --jobs 2 \\
          --sandbox both
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pandas as pd
from nbclient import NotebookClient

from reclab.course import registry
from reclab.course.build import generate_labs, reference_submission
from reclab.course.grading import grade
from reclab.course.sandbox import resolve

ROOT = Path(__file__).resolve().parents[1]


def bare_run(notebook: nbformat.NotebookNode, folder: Path) -> float:
    """Seconds to execute ``notebook`` top to bottom in a fresh kernel, in ``folder``."""
    folder.mkdir(parents=True)
    start = time.monotonic()
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env={**os.environ, "RECLAB_RESULTS": str(folder / "results")})
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the ratio; exit 1 when a submission is not full marks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="01_regression_dot", choices=registry.stems())
    parser.add_argument("-n", type=int, default=10, help="correct submissions graded")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "none", "both"),
                        help="both: grade the N submissions with bwrap, then without")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="reclab-bench-grading-") as tmp:
        base = Path(tmp)
        solution_path = registry.lab(args.lab).solution(ROOT / "solutions")
        solutions = base / "solutions"
        solutions.mkdir()
        (solutions / solution_path.name).write_bytes(solution_path.read_bytes())
        lab = nbformat.reads(generate_labs(solutions)[solution_path.name], as_version=4)
        submission = reference_submission(lab, nbformat.read(solution_path, as_version=4))
        for i in range(args.n):
            folder = base / "class" / f"student{i:03d}"
            folder.mkdir(parents=True)
            nbformat.write(submission, folder / solution_path.name)

        def wave(tag: str) -> tuple[float, list[float]]:
            print(f">> bare ({tag}): {args.jobs} executions of {args.lab} in parallel",
                  flush=True)
            wave_start = time.monotonic()
            with ThreadPoolExecutor(args.jobs) as pool:
                runs = list(pool.map(
                    lambda i: bare_run(nbformat.from_dict(submission),
                                       base / f"bare-{tag}" / str(i)), range(args.jobs)))
            return time.monotonic() - wave_start, runs

        wave_before, bare = wave("before")
        graded: dict[str, float] = {}
        rows, steps = [], []
        modes = ["bwrap", "none"] if args.sandbox == "both" else [resolve(args.sandbox)[0]]
        for mode in modes:
            print(f">> grading {args.n} submissions with --jobs {args.jobs}, --sandbox {mode}",
                  flush=True)
            grade_start = time.monotonic()
            rows += grade(base / "class", base / f"out-{mode}", solutions, jobs=args.jobs,
                          timeout=900, scratch=base / f"scratch-{mode}", sandbox=mode)
            graded[mode] = time.monotonic() - grade_start
            steps += [json.loads(p.read_text())["timing"] for p in
                      sorted((base / f"scratch-{mode}" / "submissions").glob("*/answer.json"))]
        wave_after, bare_after = wave("after")  # the load may change while we grade
        bare += bare_after
        wave = (wave_before + wave_after) / 2
    ideal = args.n / args.jobs * wave
    ratios = {mode: seconds / ideal for mode, seconds in graded.items()}
    bad = [r for r in rows if r.status != "ok" or r.score != r.max_score]
    per_step = pd.DataFrame(steps).median().round(2).to_dict() if steps else {}
    per_row = statistics.median(r.seconds for r in rows)
    overhead = graded["bwrap"] / graded["none"] - 1 if len(graded) == 2 else None
    result = {
        "lab": args.lab, "n": args.n, "jobs": args.jobs, "sandbox": modes, "started_utc": started,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "bare_seconds": [round(b, 1) for b in bare], "bare_wave_seconds": round(wave, 1),
        "bare_wave_before_after": [round(wave_before, 1), round(wave_after, 1)],
        "ideal_seconds": round(ideal, 1),
        "grading_seconds": {m: round(t, 1) for m, t in graded.items()},
        "ratio": {m: round(r, 3) for m, r in ratios.items()},
        "sandbox_overhead": None if overhead is None else round(overhead, 3),
        "median_seconds_per_submission": round(per_row, 1),
        "median_step_seconds": per_step, "not_full_marks": len(bad),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"grading-{'-'.join(modes)}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    table = pd.DataFrame([
        {"measure": "bare: one parallel wave of --jobs, before grading",
         "seconds": round(wave_before, 1)},
        {"measure": "bare: the same, after grading", "seconds": round(wave_after, 1)},
        {"measure": f"ideal: {args.n} / {args.jobs} waves", "seconds": round(ideal, 1)},
        *({"measure": f"reclab grade --sandbox {m}, {args.n} submissions",
           "seconds": round(t, 1)} for m, t in graded.items()),
        {"measure": "median per submission (worker time)", "seconds": round(per_row, 1)},
        *({"measure": f"  median step: {k}", "seconds": v} for k, v in per_step.items()),
    ])
    verdict = ", ".join(f"--sandbox {m}: **ratio {r:.2f}**" for m, r in ratios.items())
    if overhead is not None:
        verdict += f"; sandbox overhead **{overhead:+.1%}** (goal ≤ 10 %)"
    text = (f"# Grading benchmark: {args.lab}, N={args.n}, --jobs {args.jobs}, "
            f"--sandbox {' and '.join(modes)}\n\n"
            f"{started}, {os.cpu_count()} CPUs, load before {load_before[0]:.1f} "
            f"(1 min), after {os.getloadavg()[0]:.1f}\n\n"
            f"{table.to_markdown(index=False)}\n\n{verdict} (ratio goal ≤ 1.3)\n")
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    if bad:
        print(f"{len(bad)} submission(s) without full marks: {bad[0].message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
