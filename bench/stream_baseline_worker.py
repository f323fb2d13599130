#!/usr/bin/python3
"""The reference's stream scorer, ported from Kinesis to Redis Streams, for the side-by-side
benchmark (bench/stream_bench.sh). Not part of the product.

The reference's Kinesis handler decoded each record, scored it with XGBoost and put the result on
the output stream, acknowledging nothing and logging nothing. This port gives it its best shot
on Redis: a consumer group, XREADGROUP batches of 512, one vectorised XGBoost call per batch
(the baseline server's RecordEncoder and booster), the results and XACKs in one pipelined
MULTI/EXEC. No prediction log, no reasons, no dead letters.

  stream_baseline_worker.py REDIS_PORT IN OUT GROUP CONSUMER   (env: CHURN_MODEL_DIR, CHURN_MODEL)
Runs until SIGTERM.
"""
import json
import os
import signal
import sys

import numpy as np
import redis
import xgboost as xgb

sys.path.insert(0, os.environ.get("CHURN_BASELINE", "../shared/baseline"))
import common  # noqa: E402

port, stream_in, stream_out, group, consumer = sys.argv[1:6]
model_dir = os.environ.get("CHURN_MODEL_DIR", common.OUT_MODELS)
meta = common.load_meta(os.path.join(model_dir, os.environ.get("CHURN_MODEL", "full_s0") + ".meta.json"))
booster = xgb.Booster()
booster.load_model(os.path.join(model_dir, meta["model_file"]))
booster.set_param({"nthread": 1})
encoder = common.RecordEncoder(meta["raw_features"])
version = meta["model_version"]

r = redis.Redis(port=int(port))
try:
    r.xgroup_create(stream_in, group, id="0", mkstream=True)
except redis.ResponseError:
    pass
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
while running:
    got = r.xreadgroup(group, consumer, {stream_in: ">"}, count=512, block=200)
    if not got:
        continue
    entries = got[0][1]
    ids = [i for i, _ in entries]
    rows = [encoder.encode_row(json.loads(f[b"data"])) for _, f in entries]
    p = booster.inplace_predict(np.array(rows, dtype=np.float32))
    pipe = r.pipeline(transaction=True)
    for i, prob in zip(ids, p):
        pipe.xadd(stream_out, {"data": json.dumps({"churn_probability": float(prob),
                                                  "model_version": version}),
                               "source_id": i})
    pipe.xack(stream_in, group, *ids)
    pipe.execute()
