#!/usr/bin/python3
"""Training side by side: `churn train` against the Python reference (Optuna TPE in Hyperopt's
settings + Python XGBoost, ../shared/baseline/train.py), 50 trials each on BankChurners.csv, in
one run, for several seeds.

For each system and seed it reports the search wall time, the best validation AUC, the test
metrics of the chosen model, and the time until a trial first reached the baseline's best
validation AUC minus 0.001 ("time to quality"), and until it reached its own final best minus
0.001. Each system validates on its own split (both stratified 60/20/20; the baseline uses
sklearn's train_test_split, churn its own seeded split), so the AUC levels are close but not the
same rows: read the ratios with that in mind.

usage: bench/train_vs_baseline.py [--seeds 0,1,2] [--trials 50] [--churn build/release/apps/churn/churn]
Needs: `../shared/baseline/baseline deps`, a release build (cmake --preset release && cmake --build --preset release).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
CSV = os.environ.get("CHURN_BANK_CHURNERS", os.path.join(SHARED, "data", "BankChurners.csv"))


def first_reach(times, values, target):
    best = -1.0
    for t, v in zip(times, values):
        best = max(best, v)
        if best >= target:
            return t
    return float("nan")


def run_baseline(seed, trials, out_dir):
    env = dict(os.environ, CHURN_BASELINE_OUT=out_dir, CHURN_CSV=CSV)
    t0 = time.perf_counter()
    subprocess.run(["/usr/bin/python3", "train.py", "--features", "full", "--seed", str(seed),
                    "--trials", str(trials)], cwd=os.path.join(SHARED, "baseline"), env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = time.perf_counter() - t0
    res = json.load(open(os.path.join(out_dir, "results", f"train_full_s{seed}.json")))
    # Trial end times: cumulative fit time, with the sampler's overhead spread evenly.
    fits = [t["fit_s"] for t in res["trials_detail"]]
    scale = res["search_wall_s"] / sum(fits)
    times, acc = [], 0.0
    for f in fits:
        acc += f * scale
        times.append(acc)
    return {
        "wall_s": res["search_wall_s"],
        "process_s": process,
        "times": times,
        "values": [t["value"] for t in res["trials_detail"]],
        "best_valid_auc": res["best_valid_auc_xgb"],
        "test_auc": res["test"]["auc"],
        "test_pr_auc": res["test"]["pr_auc_ap"],
        "test_f1": res["test"]["f1_at_valid_opt_thr"],
    }


def run_churn(binary, seed, trials, data_dir):
    env = dict(os.environ, CHURN_CONFIG="/dev/null")
    base = [binary, "--data-dir", data_dir]
    subprocess.run(base + ["ingest", CSV, "--dataset", "bank_churners"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    out = subprocess.run(base + ["train", "--dataset", "bank_churners", "--trials", str(trials),
                                 "--seed", str(seed), "--json", "--no-progress"],
                         env=env, check=True, capture_output=True, text=True)
    process = time.perf_counter() - t0
    res = json.loads(out.stdout)
    trials_detail = res["trials_detail"]
    trials_detail.sort(key=lambda t: t["finished_at_seconds"])
    return {
        "wall_s": res["wall_seconds"],
        "process_s": process,
        "times": [t["finished_at_seconds"] for t in trials_detail],
        "values": [t["valid_auc"] if t["state"] == "COMPLETE" else -1 for t in trials_detail],
        "pruned": sum(1 for t in trials_detail if t["state"] == "PRUNED"),
        "best_valid_auc": max(t["valid_auc"] for t in trials_detail if t["state"] == "COMPLETE"),
        "winner_valid_auc": res["valid_auc"],
        "test_auc": res["test"]["roc_auc"],
        "test_pr_auc": res["test"]["pr_auc"],
        "test_f1": res["test"]["f1"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--churn", default=os.path.join(ROOT, "build", "release", "apps", "churn", "churn"))
    args = ap.parse_args()
    if not os.path.exists(CSV):
        sys.exit(f"{CSV} not found: this benchmark needs the real Kaggle file")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            b = run_baseline(seed, args.trials, os.path.join(tmp, f"baseline{seed}"))
            c = run_churn(args.churn, seed, args.trials, os.path.join(tmp, f"churn{seed}"))
            target = b["best_valid_auc"] - 0.001
            row = {
                "seed": seed,
                "baseline": {k: v for k, v in b.items() if k not in ("times", "values")},
                "churn": {k: v for k, v in c.items() if k not in ("times", "values")},
                "baseline_ttq_s": first_reach(b["times"], b["values"], target),
                "churn_ttq_s": first_reach(c["times"], c["values"], target),
                "baseline_own_best_s": first_reach(b["times"], b["values"], b["best_valid_auc"] - 0.001),
                "churn_own_best_s": first_reach(c["times"], c["values"], c["best_valid_auc"] - 0.001),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    def med(key, sub=None):
        vals = [r[key][sub] if sub else r[key] for r in rows]
        return statistics.median(vals)

    print("\n| | baseline (Optuna TPE + Python XGBoost) | churn train | ratio |")
    print("|---|---|---|---|")
    bw, cw = med("baseline", "wall_s"), med("churn", "wall_s")
    print(f"| search wall time, median of {len(rows)} seeds | {bw:.1f} s | {cw:.1f} s | {bw / cw:.1f}x |")
    bt, ct = med("baseline_ttq_s"), med("churn_ttq_s")
    print(f"| time to the baseline's best valid AUC - 0.001 | {bt:.1f} s | {ct:.1f} s | {bt / ct:.1f}x |")
    bo, co = med("baseline_own_best_s"), med("churn_own_best_s")
    print(f"| time to its own final best - 0.001 | {bo:.1f} s | {co:.1f} s | {bo / co:.1f}x |")
    print(f"| best valid AUC | {med('baseline', 'best_valid_auc'):.5f} | {med('churn', 'best_valid_auc'):.5f} | |")
    for k in ("test_auc", "test_pr_auc", "test_f1"):
        print(f"| {k} | {med('baseline', k):.4f} | {med('churn', k):.4f} | |")


if __name__ == "__main__":
    main()
