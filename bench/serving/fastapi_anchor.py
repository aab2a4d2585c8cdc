"""The issue's reference stack for the serving benchmark: FastAPI + uvicorn + scikit-learn.

A GradientBoostingClassifier (100 trees, depth 3) trained on the example churn data, served as a
FastAPI app whose POST /predict takes the same single churn instance as a Strata replica and answers
the predicted label and its probability, and whose POST /predict/batch takes a batch as a replica does,
{"instances": [...]}, and predicts its rows in one call. Debian's packages (python3-fastapi, python3-uvicorn,
python3-sklearn); run it with Debian's interpreter:

    /usr/bin/python3 -m uvicorn --app-dir bench/serving fastapi_anchor:app --workers 2 --port 18190 --log-level warning

It trains at import, in each worker (a second or two), on examples/churn/churn.csv beside the repository's
root, or on the file STRATA_BENCH_CHURN_CSV names.
"""

import csv
import os
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
