"""``make compat``: every Airflow 3 minor on every Python we support, each in its own venv, through real Airflow.

One venv per cell (``.compat/af<airflow>-py<python>/``, built with uv from PyPI, interpreters from the machine,
never downloaded), then the real-Airflow slice of the suite in it: provider registration, the connection form the
UI renders, ``test_connection`` against the sandbox, the retry policy, and the example DAGs under
``airflow dags test`` with their files checked against the sandbox. Prints the matrix with times and writes it
to ``.compat/matrix.md``. Exits non-zero if any cell fails.

Each cell installs its **known-good resolution** (``scripts/compat-constraints/<cell>.txt``, the third-party
packages of its last passing run, like Airflow's constraints files) as uv constraints, so a release published
since cannot turn the cell red: when it fails, a change of ours did it. ``--latest`` installs today's releases
instead; when that fails, the cell tells an upstream release from a change of ours, and names the library:

1. the first failing test again, alone (passes: flaky or order-dependent, not diagnosed);
2. with the known-good resolution (still fails: a change of ours);
3. today's releases with half of the changed packages held back at their known-good versions, rerunning only
   that test, halving until one package is left: that release broke it.

A passing cell records its resolution as the new known-good one; commit the file.

    make compat                      # all cells, each with its known-good resolution
    make compat CELLS="3.0-3.11 3.3-3.13"
    make compat-latest CELLS=3.0-3.11  # today's releases; a failure names the library
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
from typing import TextIO

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / ".compat"
KNOWN_GOOD = REPO / "scripts" / "compat-constraints"


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


@dataclass
class Venv:
    """One cell's venv: what installs into it and runs in it, each command and its output written to the log."""

    path: Path
    release: Release
    uv: str
    log: TextIO
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.log.write(f"$ {' '.join(command)}\n")
        self.log.flush()
        done = subprocess.run(command, capture_output=True, env=self.env, cwd=REPO, text=True)
        self.log.write(done.stdout + done.stderr)
        self.log.flush()
        return done

    def install(self, constraints: dict[str, str] | None, *, upgrade: bool) -> bool:
        """The release, its pins and our package; ``constraints`` hold versions, ``upgrade`` takes today's releases."""
        command = [
            self.uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            self.python,
            f"apache-airflow=={self.release.version}",
        ]
        command += [*self.release.pins, "-e", f"{REPO}[test-core]"]
        if upgrade:
            command.append("--upgrade")
        if constraints:
            held = self.path.parent / f"{self.path.name}.constraints.txt"
            held.write_text("".join(f"{name}=={version}\n" for name, version in sorted(constraints.items())))
            command += ["--constraint", str(held)]
        return self.run(command).returncode == 0

    def freeze(self) -> dict[str, str]:
        """The third-party packages installed (ours, editable, left out)."""
        command = [self.uv, "pip", "freeze", "--quiet", "--python", self.python, "--exclude-editable"]
        done = subprocess.run(command, capture_output=True, env=self.env, cwd=REPO, text=True, check=True)
        return _parse_requirements(done.stdout)

    def pytest(self, *tests: str) -> subprocess.CompletedProcess[str]:
        return self.run([self.python, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", "-rfEs"])


def _parse_requirements(text: str) -> dict[str, str]:
    pairs = (line.split("#")[0].strip().partition("==") for line in text.splitlines())
    return {name.lower(): version for name, sep, version in pairs if sep}


def known_good_file(cell: str) -> Path:
    return KNOWN_GOOD / f"{cell}.txt"


def record_known_good(cell: str, release: Release, python: str, packages: dict[str, str]) -> bool:
    """Write the cell's known-good resolution; True if it changed."""
    path = known_good_file(cell)
    header = (
        f"# Known-good resolution of the compat cell Airflow {release.version} on Python {python}: the third-party\n"
        "# packages of its last passing run, installed as uv constraints by scripts/compat.py, which writes this file.\n"
    )
    text = header + "".join(f"{name}=={version}\n" for name, version in sorted(packages.items()))
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def run_cell(airflow: str, python: str, uv: str, log_dir: Path, *, latest: bool = False) -> Result:
    release = RELEASES[airflow]
    cell = f"{airflow}-{python}"
    if python in release.unsupported:
        return Result(cell, "n/a", detail=release.unsupported[python])
    exe = interpreter(python)
    if exe is None:
        return Result(cell, "FAILED", detail=f"no Python {python} on this machine (looked in pyenv and PATH)")
    known_path = known_good_file(cell)
    known = _parse_requirements(known_path.read_text()) if known_path.exists() else None
    held = None if latest else known
    path = ROOT / f"af{airflow}-py{python}"
    log = log_dir / f"{cell}.log"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(path)}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{path / 'bin'}:{os.environ.get('PATH', '')}"
    started = time.monotonic()
    with log.open("w") as out:
        venv = Venv(path, release, uv, out, env)
        if (
            not (path / "bin" / "python").exists()
            and venv.run([uv, "venv", "--quiet", "--python", exe, str(path)]).returncode
        ):
            return Result(cell, "FAILED", time.monotonic() - started, detail=f"venv failed: see {log}")
        if not venv.install(held, upgrade=held is None):
            why = f"with {_relative(known_path)}: our requirements moved past it? " if held else ""
            return Result(cell, "FAILED", time.monotonic() - started, detail=f"install failed {why}see {log}")
        build = time.monotonic() - started
        started = time.monotonic()
        done = venv.pytest(*SLICE)
        tests = time.monotonic() - started
        summary = _summary(done.stdout)
        if done.returncode == 0 and "skipped" not in summary:
            if record_known_good(cell, release, python, venv.freeze()):
                summary += f"; recorded {_relative(known_path)}"
            return Result(cell, "passed", build, tests, summary)
        cause = "with the known-good resolution, so a change of ours" if held else diagnose(venv, done.stdout, known)
    return Result(cell, "FAILED", build, tests, f"{summary}; {cause}: see {log}")


def diagnose(venv: Venv, output: str, known: dict[str, str] | None) -> str:
    """Today's releases fail the slice: an upstream release, and which, or a change of ours?

    Reruns only the first failing test: alone, then with the known-good resolution, then with half of the changed
    packages held back at their known-good versions, halving until one package is left.
    """
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    if found is None:
        return "no failing test named, not diagnosed"
    test = found.group(1)
    if known is None:
        return "no known-good resolution to compare with, not diagnosed"
    today = venv.freeze()
    if venv.pytest(test).returncode == 0:
        return f"{test} passes alone: flaky or order-dependent, not diagnosed"
    if not venv.install(known, upgrade=False):
        return "the known-good resolution no longer installs, not diagnosed"
    if venv.pytest(test).returncode:
        return f"{test} fails with the known-good resolution too, so a change of ours"
    suspects = sorted(name for name, version in known.items() if today.get(name, version) != version)
    if not suspects:
        return f"{test} passes with the known-good resolution, though no package in it changed version"
    while len(suspects) > 1:
        half = len(suspects) // 2
        for part in (suspects[:half], suspects[half:]):
            if venv.install({name: known[name] for name in part}, upgrade=True) and venv.pytest(test).returncode == 0:
                suspects = part
                break
        else:
            break  # neither half alone: several releases together
    if len(suspects) == 1:
        name = suspects[0]
        return f"upstream: {name} {today[name]} breaks {test}; {known[name]}, known-good, passes: pin it in RELEASES"
    held = ", ".join(f"{name} {known[name]}" for name in suspects)
    return f"upstream: {test} passes with these held back together: {held}"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO))


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
    parser.add_argument("--latest", action="store_true", help="today's releases, not the known-good resolutions")
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
        airflow, python = cell.split("-")
        print(f"==> Airflow {RELEASES[airflow].version} on Python {python}", flush=True)
        result = run_cell(airflow, python, uv, log_dir, latest=args.latest)
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
