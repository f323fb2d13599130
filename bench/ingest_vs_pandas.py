#!/usr/bin/env python3
"""Ingest throughput of `churn ingest` side by side with pandas.read_csv, in one run.

Generates a synthetic BankChurners file (default 1,000,000 rows) with `churn data synth`, then
times, best of N runs each (fresh data directory every run, page cache warm for all):
  - pandas.read_csv(file) with the default C engine (parse only: no validation, no snapshot),
    timed inside Python, so its interpreter start and imports are not counted;
  - churn data validate (read, parse and validate every cell into typed columns: read_csv's job
    plus the schema checks), timed as a whole process;
  - churn ingest --no-materialize (parse, validate every cell, hash, profile, write the snapshot);
  - churn ingest (the same, plus the online store: one upsert per entity into SQLite).
Prints a Markdown table for docs/benchmarks.md. A harness only: never part of the product.

  python3 bench/ingest_vs_pandas.py [--rows N] [--runs R] [--churn build/release/apps/churn/churn]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

PANDAS = """
import sys, time, pandas
t = time.perf_counter()
df = pandas.read_csv(sys.argv[1])
print(time.perf_counter() - t, len(df))
"""


def best_of(runs, fn):
    times = []
    for _ in range(runs):
        times.append(fn())
    return min(times), sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--churn", default="build/release/apps/churn/churn")
    ap.add_argument("--python", default="/usr/bin/python3", help="a python3 with pandas")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="churn-bench-")
    try:
        csv = os.path.join(work, "synth.csv")
        subprocess.run([args.churn, "data", "synth", "--rows", str(args.rows), "--seed", "1",
                        "--out", csv], check=True, stdout=subprocess.DEVNULL)
        size = os.path.getsize(csv)

        def pandas_run():
            out = subprocess.run([args.python, "-c", PANDAS, csv], check=True,
                                 capture_output=True, text=True).stdout.split()
            assert int(out[1]) == args.rows, out
            return float(out[0])

        def churn_run(extra):
            def run():
                data_dir = tempfile.mkdtemp(dir=work)
                t = time.perf_counter()
                subprocess.run([args.churn, "--data-dir", data_dir, "ingest", csv, "--dataset",
                                "bank_churners", *extra], check=True, stdout=subprocess.DEVNULL)
                elapsed = time.perf_counter() - t
                shutil.rmtree(data_dir)
                return elapsed
            return run

        def validate_run():
            t = time.perf_counter()
            subprocess.run([args.churn, "data", "validate", csv], check=True,
                           stdout=subprocess.DEVNULL)
            return time.perf_counter() - t

        results = [
            ("pandas.read_csv (parse only)", best_of(args.runs, pandas_run)),
            ("churn data validate (parse + validate)", best_of(args.runs, validate_run)),
            ("churn ingest --no-materialize", best_of(args.runs, churn_run(["--no-materialize"]))),
            ("churn ingest (+ online store)", best_of(args.runs, churn_run([]))),
        ]
        base = results[0][1][0]
        print(f"{args.rows:,} rows, {size / 1e6:.1f} MB, best of {args.runs} "
              f"(median in brackets)\n")
        print("| what | seconds | rows/s | MB/s | vs pandas |")
        print("|---|---|---|---|---|")
        for name, (best, median) in results:
            print(f"| {name} | {best:.3f} ({median:.3f}) | {args.rows / best:,.0f} | "
                  f"{size / 1e6 / best:.0f} | {base / best:.2f}x |")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
