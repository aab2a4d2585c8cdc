"""The issue's reference stack for the serving benchmark: FastAPI + uvicorn + scikit-learn.

A GradientBoostingClassifier (100 trees, depth 3) trained on the example churn data, served as a
FastAPI app whose POST /predict takes the same single churn instance as a Strata replica and answers
the predicted label and its probability, and whose POST /predict/batch takes a batch as a replica does,
{"instances": [...]}, and predicts its rows in one call. Debian's packages (python3-fastapi, python3-uvicorn,
python3-sklearn); run it with Debian's interpreter:

    /usr/bin/python3 bench/serving/fastapi_anchor.py --workers 2 --port 18190

It trains at import (a second or two), on examples/churn/churn.csv beside the repository's root, or on the
file STRATA_BENCH_CHURN_CSV names, then forks its workers.

Why not `uvicorn --workers 2`: its workers accept from one shared listening socket, and with wrk's 32
connections opened at once, one worker now and then accepts all of them while the other idles. Measured
on this 2-core machine on 2026-12-08 (24 wrk runs of 8 s, 32 connections): 18 at 8,500-9,400/s; 4 at
3,800-4,000/s, in which one worker's CPU time showed it had no connection (1 clock tick against 907); 2 at
5,500 and 6,300/s. So a benchmark run caught one mode or the other by chance. Here each
worker listens on its own socket bound with SO_REUSEPORT, and the kernel spreads connections over them by
their addresses: the anchor is measured at what its two workers can do, every run.
"""

import argparse
import csv
import os
import signal
import socket
import sys
import traceback
from pathlib import Path
from typing import List

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.ensemble import GradientBoostingClassifier

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["plan", "contract", "region", "paperless_billing"]
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}  # as Strata's trainer reads a cell
DATA = Path(os.environ.get("STRATA_BENCH_CHURN_CSV", Path(__file__).resolve().parents[2] / "examples/churn/churn.csv"))


def missing(value):
    return value is None or str(value).strip().lower() in MISSING


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # As Strata's trainer: a missing number is the training mean; one-hot columns per category seen in
    # training, so a missing or unseen category encodes as none.
    means = {c: float(np.mean([float(r[c]) for r in rows if not missing(r[c])])) for c in NUMERIC}
    categories = {c: sorted({r[c] for r in rows if not missing(r[c])}) for c in CATEGORICAL}
    labels = np.array([r["churned"] == "true" for r in rows])
    return rows, means, categories, labels


def encode(row, means, categories):
    values = [means[c] if missing(row[c]) else float(row[c]) for c in NUMERIC]
    for c in CATEGORICAL:
        values.extend(1.0 if row[c] == k else 0.0 for k in categories[c])
    return values


rows, means, categories, labels = load(DATA)
features = np.array([encode(r, means, categories) for r in rows])
model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(features, labels)


class Instance(BaseModel):
    tenure_months: float
    plan: str
    contract: str
    monthly_charges: float
    total_charges: float
    support_calls: float
    region: str
    paperless_billing: str


app = FastAPI()


@app.post("/predict")
def predict(instance: Instance):
    x = np.array([encode(instance.dict(), means, categories)])
    probability = float(model.predict_proba(x)[0, 1])
    return {"predicted_label": probability >= 0.5, "probability": probability}


class Batch(BaseModel):
    instances: List[Instance]


@app.post("/predict/batch")
def predict_batch(batch: Batch):
    x = np.array([encode(instance.dict(), means, categories) for instance in batch.instances])
    probabilities = model.predict_proba(x)[:, 1]
    return {"predictions": [{"predicted_label": bool(p >= 0.5), "probability": float(p)} for p in probabilities]}


def serve(host, port, workers):
    """Forks the workers, each serving the app on its own SO_REUSEPORT socket; passes SIGTERM and SIGINT on,
    waits for them, and returns 1 if one failed."""
    import uvicorn

    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            # The worker never returns into the launcher's code: it exits here, with 1 if it could not serve.
            code = 1
            try:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                listener.bind((host, port))
                uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        children.append(pid)

    def stop(signum, frame):
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    statuses = [os.waitpid(child, 0)[1] for child in children]
    return 0 if all(status == 0 for status in statuses) else 1


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description="The serving benchmark's FastAPI + scikit-learn anchor.")
    arguments.add_argument("--host", default="127.0.0.1")
    arguments.add_argument("--port", type=int, default=18190)
    arguments.add_argument("--workers", type=int, default=2)
    options = arguments.parse_args()
    sys.exit(serve(options.host, options.port, options.workers))
