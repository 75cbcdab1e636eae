"""Start-up: labridge's commands against a minimal Typer app, and what each imports (issue 11).

    python bench/startup.py                # 15 runs each; writes startup-results.md
    python bench/startup.py --runs 3 --no-write

Each command runs as a fresh subprocess of this interpreter (``python -m labridge ...``, what
the ``labridge`` script runs), the median of N runs: ``--help``, ``--version`` and ``status
--json`` on a small store (synced from :mod:`replay`, 50 candidates), against a minimal Typer
app with one command (Typer and Rich from the same environment) asked for ``--help``. Then, with
``python -X importtime``, the ten heaviest packages and labridge modules each command imports
(by cumulative time: a module's own and that of what it imports first),
and whether the heavy libraries (SQLAlchemy, Alembic, Jinja2, lxml, httpx) were imported at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).parent))

import replay

HERE = Path(__file__).parent
HEAVY = ("sqlalchemy", "alembic", "jinja2", "lxml", "httpx")
MINIMAL_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


app()
'''


def median_run(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _ranked(module: str) -> bool:
    """Ranked: a package (``sqlalchemy``) or one of labridge's own modules (``labridge.store``)."""
    if module.startswith("labridge."):
        return module.count(".") == 1 and module != "labridge.cli"
    return "." not in module and not module.startswith("_") and module not in ("labridge", "site")


def heaviest(cmd: list[str], env: dict[str, str], top: int = 10) -> tuple[list[str], list[str]]:
    """The ``top`` packages and labridge modules by cumulative import time (a module's time
    includes what it imports), and which of :data:`HEAVY` were imported at all."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip
    cumulative: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, micros, name = line.split("|")
        cumulative[name.strip()] = int(micros)
    rows = sorted(((us, m) for m, us in cumulative.items() if _ranked(m)), reverse=True)
    names = [f"{module} {us / 1000:.0f} ms" for us, module in rows[:top]]
    roots = {m.split(".")[0] for m in cumulative}
    return names, [h for h in HEAVY if h in roots]


def small_store(directory: Path) -> str:
    from labridge import AsyncClient, store
    from labridge.workflows.sync import sync

    url = f"sqlite:///{directory}/small.db"
    db = store.open_store(url)

    async def go(la_url: str) -> None:
        async with AsyncClient(la_url, "sandbox", "sandbox") as client:
            await sync(client, db)

    with replay.replay_la(latency_ms=0, candidates=50) as la:
        asyncio.run(go(la.url))
    db.close()
    return url


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", nargs="+", help="run only these commands (names as in the table)")
    parser.add_argument("--no-imports", action="store_true", help="skip the -X importtime runs")
    parser.add_argument("--no-write", action="store_true", help="do not write startup-results.md")
    args = parser.parse_args(argv)
    with TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        env = {**os.environ, "LABRIDGE_DATABASE_URL": small_store(tmp), "NO_COLOR": "1"}
        app = tmp / "minimal_app.py"
        app.write_text(MINIMAL_APP, encoding="utf-8")
        py = sys.executable
        commands = {
            "minimal Typer app --help": [py, str(app), "--help"],
            "labridge --help": [py, "-m", "labridge", "--help"],
            "labridge --version": [py, "-m", "labridge", "--version"],
            "labridge status --json": [py, "-m", "labridge", "status", "--json"],
        }
        wanted = {"minimal Typer app --help", *(args.only or commands)}
        commands = {name: cmd for name, cmd in commands.items() if name in wanted}
        times = {name: median_run(cmd, args.runs, env) for name, cmd in commands.items()}
        imports = {name: ([], []) if args.no_imports else heaviest(cmd, env)
                   for name, cmd in commands.items()}  # fmt: skip
    base = times["minimal Typer app --help"]
    lines = ["| command | median (s) | / minimal Typer --help | heavy libraries imported |",
             "|---|---:|---:|---|"]  # fmt: skip
    for name, seconds in times.items():
        heavy = "-" if args.no_imports else ", ".join(imports[name][1]) or "none"
        lines.append(f"| `{name}` | {seconds:.3f} | {seconds / base:.2f} | {heavy} |")
    lines.append(
        "\nHeaviest imports (cumulative, `python -X importtime`; nested ones counted in both):\n"
    )
    for name, (top, _) in imports.items():
        lines.append(f"- `{name}`: " + ", ".join(top))
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (HERE / "startup-results.md").write_text(
            "# Start-up: labridge against a minimal Typer app\n\n"
            f"`python bench/startup.py` (median of {args.runs} runs each, one interpreter).\n\n"
            + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
