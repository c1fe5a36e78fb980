"""Several ``airflow`` commands in one process: ``python -m tests.helpers.cli_runs COMMANDS_JSON``.

COMMANDS_JSON is a list of argument lists (``[["backfill", "create", "--dry-run", ...], ...]``); each goes through
Airflow's own command line parser and function, as the command would, with one interpreter and one Airflow import
for all. Before each command's own output it prints ``CLI-RUN <n>``.
"""

from __future__ import annotations

import json
import sys


def main(commands_json: str) -> None:
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    for number, command in enumerate(json.loads(commands_json)):
        print(f"CLI-RUN {number}", flush=True)
        args = parser.parse_args(command)
        args.func(args)
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
