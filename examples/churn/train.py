#!/usr/bin/env python3
"""A custom training job for the churn example: the standard library and the Strata SDK's job helpers.

It reads the job's data (examples/churn/churn.csv), fits a small logistic regression by gradient
descent, reports its metrics (one point per epoch, so `strata jobs metrics` has a curve), and writes
model.json to the job's output folder. `strata.job` reads the job's contract: `data_path()`,
`output_path()`, `hyperparameters()` (the typed HYPERPARAM_<NAME> values), and `log_metric` posts
with the job's token (or prints a STRATA_METRIC line where the job cannot reach the API).

On the local runtime a job finds the SDK's `strata` package on its PYTHONPATH (the server ships it):

    cd examples/churn && strata run --name churn-custom --entrypoint "python3 train.py" --data churn.csv -p epochs=30

or from Python in that folder (sdk/python/README.md):

    client.train(name="churn-custom", data="churn.csv", hyperparameters={"epochs": 30, "learning_rate": 0.1})

A JSON model is neither ONNX nor ML.NET, so this script does not register it; a job that writes an
.onnx file registers it from inside the job with:

    job.register_model("churn", os.path.join(job.output_path(), "model.onnx"))

Outside a job it runs too: `DATA_PATH=examples/churn/churn.csv python3 examples/churn/train.py`.
"""
import csv
import json
import math
import os
import random
import sys

try:
    from strata import job
except ImportError:  # run from a checkout of the repository, without the SDK installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
    try:
        from strata import job
    except ImportError:
        sys.exit("train.py needs the Strata SDK's strata package: copy sdk/python/strata next to it "
                 "(a job sees only its own code) or install the SDK where jobs run")

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["plan", "contract", "paperless_billing"]
MISSING = {"", "NA"}


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    means = {}
    for column in NUMERIC:
        present = [float(r[column]) for r in rows if r[column] not in MISSING]
        means[column] = sum(present) / len(present)
    levels = {c: sorted({r[c] for r in rows if r[c] not in MISSING}) for c in CATEGORICAL}
    spread = {c: max(1e-9, max(float(r[c]) for r in rows if r[c] not in MISSING) - min(float(r[c]) for r in rows if r[c] not in MISSING)) for c in NUMERIC}

    def features(row):
        x = [(float(row[c]) if row[c] not in MISSING else means[c]) / spread[c] for c in NUMERIC]
        x += [1.0 if row[c] == level else 0.0 for c in CATEGORICAL for level in levels[c]]
        return x + [1.0]

    data = [(features(r), 1.0 if r["churned"] == "true" else 0.0) for r in rows]
    return data, {"numeric": NUMERIC, "means": means, "spread": spread, "levels": levels}


def auc(scored):
    positives = sorted(s for s, y in scored if y == 1.0)
    negatives = sorted(s for s, y in scored if y == 0.0)
    wins, j = 0.0, 0
    for p in positives:
        while j < len(negatives) and negatives[j] < p:
            j += 1
        wins += j
    return wins / (len(positives) * len(negatives))


def main():
    params = job.hyperparameters()
    epochs = int(params.get("epochs", 30))
    rate = float(params.get("learning_rate", 0.1))
    data, encoding = load(job.data_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "churn.csv")))
    random.Random(42).shuffle(data)
    split = int(len(data) * 0.8)
    train, validation = data[:split], data[split:]
    weights = [0.0] * len(train[0][0])

    def predict(x):
        z = sum(w * v for w, v in zip(weights, x))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    for epoch in range(1, epochs + 1):
        for x, y in train:
            error = predict(x) - y
            weights = [w - rate * error * v for w, v in zip(weights, x)]
        scored = [(predict(x), y) for x, y in validation]
        loss = -sum(y * math.log(max(p, 1e-12)) + (1 - y) * math.log(max(1 - p, 1e-12)) for p, y in scored) / len(scored)
        job.log_metric("log_loss", loss, epoch)
        job.log_metric("auc", auc(scored), epoch)
    accuracy = sum((p >= 0.5) == (y == 1.0) for p, y in scored) / len(scored)
    job.log_metric("accuracy", accuracy, epochs)

    out = job.output_path()
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"weights": weights, "encoding": encoding}, f)
    print(f"wrote {out}/model.json (validation AUC {auc(scored):.3f}, accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
