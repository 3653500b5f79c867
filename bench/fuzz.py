"""Schema-driven fuzzing with schemathesis against a running server: no 5xx, answers match the
OpenAPI document, invalid input is refused.

    PYTHONPATH=. .venv/bin/python -m bench.fuzz --database-url sqlite:////tmp/regieflow-fuzz.db \
        --max-examples 25 --max-time 600

(schemathesis is a test dependency of the project: `pip install -e ".[test]"` brings it.)
The schema is rebuilt, a few projects are seeded through the services (so that generated requests
on real ids go past the 404), a consultant key is created, and `schemathesis run` is called on
/openapi.json with that key, NUL bytes allowed in strings, and the checks listed in --checks.
Exits with schemathesis's exit code; its summary is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from bench.common import create_key, loadavg, print_facts, reset_database, seed_ready_projects, start_server

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
    "response_headers_conformance,negative_data_rejection"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--max-examples", type=int, default=25)
    ap.add_argument("--max-time", type=int, default=600)
    ap.add_argument("--checks", default=CHECKS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--report-dir", default="/tmp/regieflow-fuzz")
    ap.add_argument("extra", nargs="*", help="more schemathesis options, after --")
    args = ap.parse_args()
    print_facts(args.database_url)
    exe = shutil.which("schemathesis") or os.path.join(os.path.dirname(sys.executable), "schemathesis")
    reset_database(args.database_url)
    seed_ready_projects(args.database_url, 3, state="validation", progress=False)
    key = create_key(args.database_url)
    server = start_server(args.database_url, cpus=None)
    try:
        cmd = [
            exe,
            "run",
            f"{server.base}/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            args.checks,
            "--max-examples",
            str(args.max_examples),
            "--max-time",
            str(args.max_time),
            "--seed",
            str(args.seed),
            "--generation-allow-x00",
            "true",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "junit",
            "--report-dir",
            args.report_dir,
            "--generation-database",
            "none",
            "--no-color",
            *args.extra,
        ]
        print(" ".join(c if "Bearer" not in c else "Authorization: Bearer <key>" for c in cmd), flush=True)
        code = subprocess.call(cmd)
    finally:
        server.stop()
    print(f"schemathesis exit code {code}; loadavg {loadavg()}")
    sys.exit(code)


if __name__ == "__main__":
    main()
