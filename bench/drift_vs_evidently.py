#!/usr/bin/python3
"""Drift over the 19 BankChurners features side by side: churn (bench/drift_bench) against
Evidently's column tests restated on SciPy, numpy and pandas, on the same rows, in one run.

Evidently itself cannot be installed here (no PyPI), so the baseline restates what its
DataDriftPreset does per column (evidently/calculations/stattests/*.py, utils.get_binned_data and
_get_default_stattest, as tests/fixtures/drift/make_fixtures.py does for the unit tests), on
pandas Series as Evidently holds them:
  - drop missing and infinite values; n_unique = nunique of reference and current together;
  - reference > 1,000 rows: numeric with n_unique > 5 -> Wasserstein normed
    (scipy.stats.wasserstein_distance / max(np.std(reference), 0.001)), otherwise
    Jensen-Shannon (scipy.spatial.distance.jensenshannon on proportions: Sturges bins,
    np.histogram_bin_edges(reference + current, bins="sturges"), for numeric columns with more
    than 20 distinct reference values, else one bin per value);
  - reference <= 1,000 rows: numeric with n_unique > 5 -> scipy.stats.ks_2samp, otherwise
    chi-square (scipy.stats.chisquare) with more than 2 values, else Evidently's z test.
It times only that: reading the CSV into pandas is not counted, nor is Evidently's own overhead
(column mapping, the report objects, plots), so the comparison favours the baseline.

Both sides use `churn data synth --rows N --seed 1` as reference and `--seed 2` as current (the
bench generates the same bytes in-process). The script checks that both sides chose the same test
for every column and that the scores agree (to 1e-6, relative for small p-values), then prints
a Markdown table for docs/benchmarks.md.

  /usr/bin/python3 bench/drift_vs_evidently.py [--runs 7] [--repetitions 7]
      [--churn build/release/apps/churn/churn] [--bench build/release/bench/drift_bench]

A harness only: never part of the product. Needs a release build with the benchmarks
(cmake --preset release && cmake --build --preset release --target churn drift_bench).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import scipy
import yaml
from scipy import stats
from scipy.spatial import distance

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# --- Evidently's column tests, restated -------------------------------------------------------

def default_stattest(reference, current, feature_type):
    """evidently.calculations.stattests.registry._get_default_stattest."""
    n_values = pd.concat([reference, current]).nunique()
    if reference.shape[0] <= 1000:
        if feature_type == "num" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if feature_type == "num" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def get_binned_data(reference, current, feature_type):
    """evidently.calculations.stattests.utils.get_binned_data(..., feel_zeroes=False)."""
    n_vals = reference.nunique()
    if feature_type == "num" and n_vals > 20:
        bins = np.histogram_bin_edges(pd.concat([reference, current], axis=0).values,
                                      bins="sturges")
        reference_percents = np.histogram(reference, bins)[0] / len(reference)
        current_percents = np.histogram(current, bins)[0] / len(current)
    else:
        keys = list((set(reference) | set(current)) - {np.nan})
        ref_feature_dict = {**dict.fromkeys(keys, 0), **dict(reference.value_counts())}
        current_feature_dict = {**dict.fromkeys(keys, 0), **dict(current.value_counts())}
        reference_percents = np.array([ref_feature_dict[key] for key in keys]) / len(reference)
        current_percents = np.array([current_feature_dict[key] for key in keys]) / len(current)
    return reference_percents, current_percents


def ks(reference, current):
    return stats.ks_2samp(reference, current)[1]


def chisquare(reference, current):
    keys = list((set(reference.unique()) | set(current.unique())) - {np.nan})
    ref_feature_dict = {**dict.fromkeys(keys, 0), **dict(reference.value_counts())}
    current_feature_dict = {**dict.fromkeys(keys, 0), **dict(current.value_counts())}
    k_norm = current.shape[0] / reference.shape[0]
    f_exp = [ref_feature_dict[key] * k_norm for key in keys]
    f_obs = [current_feature_dict[key] for key in keys]
    with np.errstate(divide="ignore"):  # a value new in current: statistic inf, p-value 0
        return stats.chisquare(f_obs, f_exp)[1]


def z(reference, current):
    if (reference.nunique() == 1 and current.nunique() == 1
            and reference.unique()[0] == current.unique()[0]):
        return 1.0
    keys = sorted(set(list(reference.unique()) + list(current.unique())) - {np.nan})
    ref = reference.apply(lambda x, key=keys[0]: 0 if x == key else 1)
    cur = current.apply(lambda x, key=keys[0]: 0 if x == key else 1)
    n1, n2 = len(ref), len(cur)
    p1, p2 = float(sum(ref)) / n1, float(sum(cur)) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z_stat = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return 2 * (1 - stats.norm.cdf(np.abs(z_stat)))


def wasserstein(reference, current):
    norm = max(np.std(reference), 0.001)
    return stats.wasserstein_distance(reference, current) / norm


def jensenshannon(reference, current, feature_type):
    reference_percents, current_percents = get_binned_data(reference, current, feature_type)
    return distance.jensenshannon(reference_percents, current_percents)


def column_drift(reference, current, feature_type):
    reference = reference.replace([-np.inf, np.inf], np.nan).dropna()
    current = current.replace([-np.inf, np.inf], np.nan).dropna()
    test = default_stattest(reference, current, feature_type)
    if test == "ks":
        score = ks(reference, current)
    elif test == "chisquare":
        score = chisquare(reference, current)
    elif test == "z":
        score = z(reference, current)
    elif test == "wasserstein":
        score = wasserstein(reference, current)
    else:
        score = jensenshannon(reference, current, feature_type)
    return test, float(score)


def dataset_drift(reference, current, features):
    return {name: column_drift(reference[name], current[name], kind)
            for name, kind in features}


# --- The run ----------------------------------------------------------------------------------

def features_of_schema():
    with open(os.path.join(ROOT, "configs", "bank_churners.yaml")) as f:
        schema = yaml.safe_load(f)
    out = []
    for c in schema["columns"]:
        if c.get("role", "feature") != "feature":
            continue
        out.append((c["name"], "num" if c["type"] in ("integer", "float") else "cat"))
    return out


def synth(churn, rows, seed, path):
    subprocess.run([churn, "data", "synth", "--rows", str(rows), "--seed", str(seed), "--out",
                    path], check=True, stdout=subprocess.DEVNULL)
    # Empty cells are missing (as churn reads them); every other text is a value.
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def time_python(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), result


def agree(a, b):
    return abs(a - b) <= 1e-6 or abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--small-rows", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7, help="Python runs of each case")
    ap.add_argument("--repetitions", type=int, default=7, help="Google Benchmark repetitions")
    ap.add_argument("--churn", default=os.path.join(ROOT, "build/release/apps/churn/churn"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build/release/bench/drift_bench"))
    args = ap.parse_args()

    features = features_of_schema()
    work = tempfile.mkdtemp(prefix="churn-drift-bench-")
    frames = {}
    for rows in (args.rows, args.small_rows):
        frames[rows] = (synth(args.churn, rows, 1, os.path.join(work, f"ref_{rows}.csv")),
                        synth(args.churn, rows, 2, os.path.join(work, f"cur_{rows}.csv")))

    # Python first, then the bench, then Python again: the best of both Python halves.
    py = {}
    for half in range(2):
        for rows in (args.rows, args.small_rows):
            ref, cur = frames[rows]
            best, median, result = time_python(lambda: dataset_drift(ref, cur, features),
                                               (args.runs + 1) // 2)
            prev = py.get(rows, (float("inf"), [], None))
            py[rows] = (min(prev[0], best), prev[1] + [median], result)
        if half == 0:
            ks_ref = frames[args.small_rows][0]["Total_Trans_Amt"].dropna()
            ks_cur = frames[args.small_rows][1]["Total_Trans_Amt"].dropna()
            ks_best, ks_median, _ = time_python(lambda: stats.ks_2samp(ks_ref, ks_cur), 200)
            scores_path = os.path.join(work, "scores.jsonl")
            out = subprocess.run(
                [args.bench, f"--scores_out={scores_path}",
                 "--benchmark_filter=BenchCompareTables|BenchMonitorRunTests|"
                 "BenchMonitorCompute/|BenchKsTwoSample/1000",
                 f"--benchmark_repetitions={args.repetitions}", "--benchmark_format=json"],
                check=True, capture_output=True, text=True).stdout

    # The scores: same test, same number, column by column.
    worst = 0.0
    mismatches = []
    with open(scores_path) as f:
        for line in f:
            s = json.loads(line)
            test, score = py[s["rows"]][2][s["column"]]
            if test != s["test"] or not agree(score, s["score"]):
                mismatches.append((s["rows"], s["column"], s["test"], s["score"], test, score))
            worst = max(worst, abs(score - s["score"]))
    for m in mismatches:
        print("MISMATCH rows=%d %s: churn %s %.10g, baseline %s %.10g" % m, file=sys.stderr)

    bench = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "iteration":
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
            bench.setdefault(b["run_name"], []).append(b["real_time"] * unit)
    def cpp(name):
        t = bench[name]
        return min(t), statistics.median(t)

    py_small_median = statistics.median(py[args.small_rows][1])
    py_big_median = statistics.median(py[args.rows][1])
    tests = {}
    for test, _ in py[args.rows][2].values():
        tests[test] = tests.get(test, 0) + 1
    small_tests = {}
    for test, _ in py[args.small_rows][2].values():
        small_tests[test] = small_tests.get(test, 0) + 1

    print(f"{len(features)} features; {args.rows:,} x {args.rows:,} rows: "
          + ", ".join(f"{n} {t}" for t, n in sorted(tests.items()))
          + f"; {args.small_rows:,} x {args.small_rows:,}: "
          + ", ".join(f"{n} {t}" for t, n in sorted(small_tests.items())))
    print(f"scores: {'all agree' if not mismatches else f'{len(mismatches)} MISMATCHES'}, "
          f"largest difference {worst:.2g}\n")
    print("| what | best | median | baseline best | ratio (best) |")
    print("|---|---|---|---|---|")

    def row(what, name, base_best, base_median, unit=1e-3, suffix="ms"):
        best, median = cpp(name)
        print(f"| {what} | {best / unit:.3g} {suffix} | {median / unit:.3g} {suffix} | "
              f"{base_best / unit:.3g} {suffix} ({base_median / unit:.3g}) | "
              f"{base_best / best:.1f}x |")

    big, small = args.rows, args.small_rows
    row(f"CompareTables, {big:,} x {big:,}", f"BenchCompareTables/{big}", py[big][0],
        py_big_median)
    row(f"monitor path: RunTest x 19, {big:,} x {big:,}", f"BenchMonitorRunTests/{big}",
        py[big][0], py_big_median)
    row(f"DriftMonitor::Compute, count window {big:,}", f"BenchMonitorCompute/{big}/0",
        py[big][0], py_big_median)
    row(f"DriftMonitor::Compute, count + time windows of {big:,}", f"BenchMonitorCompute/{big}/1",
        py[big][0], py_big_median)
    row(f"CompareTables, {small:,} x {small:,} (ks, chisquare, z)",
        f"BenchCompareTables/{small}", py[small][0], py_small_median)
    row(f"monitor path: RunTest x 19, {small:,} x {small:,}", f"BenchMonitorRunTests/{small}",
        py[small][0], py_small_median)
    row(f"KsTwoSample, one column, {small:,} x {small:,}", f"BenchKsTwoSample/{small}", ks_best,
        ks_median, 1e-6, "µs")
    print("\nbaseline: the same columns' tests in Python (best of "
          f"{(args.runs + 1) // 2 * 2}, median in brackets); the monitor rows are compared with "
          "the same baseline (Evidently has no live window: it recomputes from DataFrames).")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"pandas {pd.__version__}")
    for name in sorted(os.listdir(work)):
        os.remove(os.path.join(work, name))
    os.rmdir(work)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
