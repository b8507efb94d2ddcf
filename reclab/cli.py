"""The ``reclab`` command line: data, labs, grading and benchmark.

Example:
    $ reclab data fetch
    $ reclab labs build --check
    $ reclab grade submissions/ --out graded/ --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _data_fetch(args: argparse.Namespace) -> int:
    from reclab import data

    path = data.fetch(force=args.force, data_dir=args.data_dir)
    print(f"MovieLens 100k is ready in {path}")
    return 0


def _data_path(args: argparse.Namespace) -> int:
    from reclab import data

    print(data.cache_dir())
    return 0


def _data_info(args: argparse.Namespace) -> int:
    from reclab import data

    print(data.describe(data_dir=args.data_dir))
    return 0


def _labs_build(args: argparse.Namespace) -> int:
    from reclab.course import build

    return build.build_labs_cli(
        solutions_dir=args.solutions, labs_dir=args.labs, check=args.check
    )


def _labs_normalise(args: argparse.Namespace) -> int:
    from reclab.course import build

    for path in build.normalise_metadata(args.solutions):
        print(f"normalised the notebook metadata of {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from reclab.course import grading

    return grading.grade_cli(
        submissions=args.submissions,
        out=args.out,
        solutions_dir=args.solutions,
        jobs=args.jobs,
        timeout=args.timeout,
        sandbox=args.sandbox,
        canvas=args.canvas,
        shard=args.shard,
        progress=args.progress,
    )


def _grade_merge(args: argparse.Namespace) -> int:
    from reclab.course import grading

    return grading.merge_cli(shards=args.shards, out=args.out, canvas=args.canvas)


def _merge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reclab grade merge",
        description="combine the output folders of `reclab grade --shard i/n` runs")
    parser.add_argument("shards", type=Path, nargs="+", help="each shard's --out folder")
    parser.add_argument("--out", type=Path, required=True, help="the merged gradebook's folder")
    parser.add_argument("--canvas", action="store_true", help="also write canvas.csv")
    parser.set_defaults(func=_grade_merge)
    return parser


def _bench(args: argparse.Namespace) -> int:
    import subprocess

    import reclab
    from reclab.errors import ReclabError

    root = Path(reclab.__file__).resolve().parents[1]  # the checkout (editable install)
    if not (root / "benchmarks" / "run.py").is_file():
        raise ReclabError("reclab bench runs from a source checkout (benchmarks/run.py): "
                          "clone the repository and run `make bench` there")
    argv = ["--out", str(args.out.resolve())] + (["--skip-notebooks"] if args.skip_notebooks
                                                 else [])
    return subprocess.call([sys.executable, "-m", "benchmarks.run", *argv], cwd=root)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for the ``reclab`` command."""
    parser = argparse.ArgumentParser(
        prog="reclab", description="Neural recommender-system labs on MovieLens 100k."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data_p = commands.add_parser("data", help="fetch, locate and describe MovieLens 100k")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch_p = data_cmds.add_parser("fetch", help="download (or rebuild from the mirror) and verify")
    fetch_p.add_argument("--force", action="store_true", help="ignore the cache and fetch again")
    fetch_p.add_argument("--data-dir", type=Path, default=None, help="a folder holding ml-100k/")
    fetch_p.set_defaults(func=_data_fetch)
    path_p = data_cmds.add_parser("path", help="print the cache folder")
    path_p.set_defaults(func=_data_path)
    info_p = data_cmds.add_parser("info", help="counts, date range and fingerprint check")
    info_p.add_argument("--data-dir", type=Path, default=None, help="a folder holding ml-100k/")
    info_p.set_defaults(func=_data_info)

    labs_p = commands.add_parser("labs", help="build the student labs from solutions/")
    labs_cmds = labs_p.add_subparsers(dest="labs_command", required=True, metavar="ACTION")
    build_p = labs_cmds.add_parser("build", help="write labs/ from solutions/ with nbgrader")
    build_p.add_argument("--check", action="store_true",
                         help="write nothing; exit 1 and name each lab that is out of date")
    build_p.add_argument("--solutions", type=Path, default=Path("solutions"))
    build_p.add_argument("--labs", type=Path, default=Path("labs"))
    build_p.set_defaults(func=_labs_build)
    norm_p = labs_cmds.add_parser(
        "normalise", help="give every solution the notebook metadata JupyterLab writes on save")
    norm_p.add_argument("--solutions", type=Path, default=Path("solutions"))
    norm_p.set_defaults(func=_labs_normalise)

    grade_p = commands.add_parser(
        "grade", help="grade submitted labs with nbgrader ('grade merge': combine shards)")
    grade_p.add_argument("submissions", type=Path, help="folder of <student>/<lab>.ipynb")
    grade_p.add_argument("--out", type=Path, required=True,
                         help="where grades.csv and feedback/ go")
    grade_p.add_argument("--solutions", type=Path, default=Path("solutions"))
    grade_p.add_argument("--jobs", default="1",
                         help="submissions graded in parallel, or 'auto' (the cores available)")
    grade_p.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    grade_p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                         help="run each kernel in a bubblewrap sandbox (auto: when bwrap works)")
    grade_p.add_argument("--canvas", action="store_true",
                         help="also write canvas.csv, a Canvas gradebook import file")
    grade_p.add_argument("--shard", default=None, metavar="I/N",
                         help="grade only shard I of N of the students (Slurm arrays, CI "
                              "matrices); combine with `reclab grade merge`")
    grade_p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="a one-line progress bar on stderr (default: when it is a "
                              "terminal)")
    grade_p.set_defaults(func=_grade)

    bench_p = commands.add_parser("bench", help="compare the labs' models with tuned peers "
                                    "(Surprise, EASE, implicit ALS/BPR)")
    bench_p.add_argument("--out", type=Path, default=Path("benchmarks"))
    bench_p.add_argument("--skip-notebooks", action="store_true",
                         help="reuse results/ instead of executing the solution notebooks")
    bench_p.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``reclab`` command line and return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["grade", "merge"]:
        args = _merge_parser().parse_args(argv[2:])
    else:
        args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a user-facing error: one clear line, no traceback
        from reclab.errors import ReclabError

        if isinstance(exc, ReclabError):
            print(f"reclab: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
