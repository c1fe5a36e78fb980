"""``make compat``: every Airflow 3 minor on every Python we support, each in its own venv, through real Airflow.

One venv per cell (``.compat/af<airflow>-py<python>/``, built with uv from PyPI, interpreters from the machine,
never downloaded), then the real-Airflow slice of the suite in it: provider registration, the connection form the
UI renders, ``test_connection`` against the sandbox, the retry policy, and the example DAGs under
``airflow dags test`` with their files checked against the sandbox. Prints the matrix with times and writes it
to ``.compat/matrix.md``. Exits non-zero if any cell fails.

    make compat                      # all cells
    make compat CELLS="3.0-3.11 3.3-3.13"
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / ".compat"


@dataclass(frozen=True)
class Release:
    """The newest patch release of one Airflow minor, and what a user's install of it must pin."""

    version: str
    pins: tuple[str, ...] = ()
    unsupported: dict[str, str] = field(default_factory=dict)  # python -> why no cell can run


# The pins each release needs, all in one place. Without them uv picks today's releases of these libraries, and
# that Airflow itself breaks (a DAG of one trivial @task fails the same way as ours; checked by installing each).
# Airflow's constraints file for the release pins them, so a user who installs as Airflow documents
# (``--constraint .../constraints-<version>/constraints-<python>.txt``) has them already; anyone else must pin
# them by hand, as the README says.
RELEASES: dict[str, Release] = {
    "3.0": Release(
        "3.0.6",
        # and pyjwt: 2.15.1 makes 3.0.6's API server fail every login ("Issuer (iss) must be a string"); 2.10.1 works.
        pins=("fastapi<0.118", "universal-pathlib<0.3", "pyjwt<2.11", "cryptography<51"),
        unsupported={"3.13": "apache-airflow 3.0.6 declares Requires-Python !=3.13 (3.13 came with Airflow 3.1)"},
    ),
    "3.1": Release("3.1.8", pins=("universal-pathlib<0.3",)),
    "3.2": Release("3.2.2", pins=("fastapi<0.156.1", "svcs<26.2")),
    "3.3": Release("3.3.2"),
}
PYTHONS = ("3.11", "3.12", "3.13")

SLICE = (
    "tests/integration/test_provider.py",
    "tests/integration/test_connection_test.py",
    "tests/e2e/test_retry_policy.py",
    "tests/e2e/test_example_dags.py",
)


def interpreter(python: str) -> str | None:
    """A local CPython of this minor: pyenv's first (the CI image has them there), then PATH."""
    candidates = sorted(Path("/root/.pyenv/versions").glob(f"{python}.*/bin/python{python}"), reverse=True)
    found = [str(c) for c in candidates if c.is_file()] or [shutil.which(f"python{python}") or ""]
    return found[0] or None


@dataclass
class Result:
    cell: str
    status: str
    build: float = 0.0
    tests: float = 0.0
    detail: str = ""


def run_cell(airflow: str, python: str, uv: str, log_dir: Path) -> Result:
    release = RELEASES[airflow]
    cell = f"{airflow}-{python}"
    if python in release.unsupported:
        return Result(cell, "n/a", detail=release.unsupported[python])
    exe = interpreter(python)
    if exe is None:
        return Result(cell, "FAILED", detail=f"no Python {python} on this machine (looked in pyenv and PATH)")
    venv = ROOT / f"af{airflow}-py{python}"
    log = log_dir / f"{cell}.log"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    with log.open("w") as out:
        steps = []
        if not (venv / "bin" / "python").exists():
            steps.append([uv, "venv", "--quiet", "--python", exe, str(venv)])
        steps.append(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                f"apache-airflow=={release.version}",
                *release.pins,
                "-e",
                f"{REPO}[test-core]",
            ]
        )
        for command in steps:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO).returncode:
                return Result(cell, "FAILED", time.monotonic() - started, detail=f"install failed: see {log}")
        build = time.monotonic() - started
        env["PATH"] = f"{venv / 'bin'}:{os.environ.get('PATH', '')}"
        command = [str(venv / "bin" / "python"), "-m", "pytest", *SLICE, "-q", "-p", "no:cacheprovider", "-rfEs"]
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        started = time.monotonic()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO, text=True)
        out.write(done.stdout)
    summary = _summary(done.stdout)
    status = "passed" if done.returncode == 0 and "skipped" not in summary else "FAILED"
    return Result(
        cell, status, build, time.monotonic() - started, summary if status == "passed" else f"{summary}: see {log}"
    )


def _summary(output: str) -> str:
    lines = [line.strip("= ") for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    return re.sub(r" in [\d.]+s.*$", "", lines[-1]) if lines else "no test summary"


def table(results: list[Result]) -> str:
    rows = ["| Airflow | Python | result | install | tests | detail |", "|---|---|---|---|---|---|"]
    for r in results:
        airflow, python = r.cell.split("-")
        times = (f"{r.build:.0f} s", f"{r.tests:.0f} s") if r.status != "n/a" else ("", "")
        rows.append(f"| {RELEASES[airflow].version} | {python} | {r.status} | {times[0]} | {times[1]} | {r.detail} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cells", nargs="*", help="AIRFLOW-PYTHON, e.g. 3.0-3.11 (default: all)")
    args = parser.parse_args(argv)
    every = [f"{a}-{p}" for a in RELEASES for p in PYTHONS]
    cells = [c for arg in args.cells for c in arg.replace(",", " ").split()] or every
    unknown = sorted(set(cells) - set(every))
    if unknown:
        parser.error(f"unknown cell(s) {', '.join(unknown)}; choose from {' '.join(every)}")
    uv = str(Path(sys.executable).with_name("uv"))
    log_dir = ROOT / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for cell in cells:
        print(f"==> Airflow {RELEASES[cell.split('-')[0]].version} on Python {cell.split('-')[1]}", flush=True)
        result = run_cell(*cell.split("-"), uv=uv, log_dir=log_dir)
        print(
            f"    {result.status} (install {result.build:.0f} s, tests {result.tests:.0f} s) {result.detail}",
            flush=True,
        )
        results.append(result)
        (ROOT / "matrix.md").write_text(table(results) + "\n")  # after every cell: a long run stopped keeps its cells
    matrix = table(results)
    print(f"\n{matrix}\n\n(also in {(ROOT / 'matrix.md').relative_to(REPO)}; logs in {log_dir.relative_to(REPO)}/)")
    # The closing line CI reads: tests over all cells; a cell that failed before its tests counts as one failure.
    passed, failed = (
        sum(int(n) for r in results for n in re.findall(rf"(\d+) {kind}", r.detail)) for kind in ("passed", "failed")
    )
    broken = sum(1 for r in results if r.status == "FAILED")
    print(f"compat: {passed} passed, {max(failed, broken)} failed")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
