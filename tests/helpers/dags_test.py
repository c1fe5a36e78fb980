"""Several ``airflow dags test`` runs in one process: ``python -m tests.helpers.dags_test RUNS_JSON``.

RUNS_JSON is a list of ``[dag_id, logical_date]``; each run goes through Airflow's own command line (the parser
and the function ``airflow dags test`` calls), so that it parses its DAG file again and runs it as the command
would. One interpreter and one Airflow import instead of one per run.
Prints ``DAGS-TEST [outcome, ...]``: ``"success"``, or why the run failed.
"""

from __future__ import annotations

import json
import sys


def main(runs_json: str) -> None:
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    outcomes = []
    for dag_id, logical_date in json.loads(runs_json):
        args = parser.parse_args(["dags", "test", dag_id, logical_date])
        try:
            args.func(args)
        except SystemExit as failed:  # what the command exits with: "DagRun failed"
            outcomes.append(f"failed: {failed}")
        else:
            outcomes.append("success")
    print("DAGS-TEST " + json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
