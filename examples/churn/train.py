#!/usr/bin/env python3
"""A custom training job for the churn example: standard library only.

It reads DATA_PATH (examples/churn/churn.csv), fits a small logistic regression by gradient descent,
reports its metrics as STRATA_METRIC lines (one per epoch, so `strata jobs metrics` has a curve), and
writes model.json to MODEL_OUTPUT_PATH. Hyperparameters arrive as HYPERPARAM_<NAME> variables.

    strata jobs submit --name churn-custom --entrypoint "python3 $PWD/examples/churn/train.py" \\
        --data examples/churn/churn.csv -p epochs=30 -p learning_rate=0.1

A JSON model is neither ONNX nor ML.NET, so this script does not register it; a job that writes an
.onnx file registers it from inside the job with:

    strata models register churn --path "$MODEL_OUTPUT_PATH/model.onnx" --metric auc=0.84
"""
import csv
import json
import math
import os
import random

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["plan", "contract", "paperless_billing"]
MISSING = {"", "NA"}


def metric(name, value, step):
    print("STRATA_METRIC " + json.dumps({"name": name, "value": value, "step": step}), flush=True)


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
    epochs = int(os.environ.get("HYPERPARAM_EPOCHS", "30"))
    rate = float(os.environ.get("HYPERPARAM_LEARNING_RATE", "0.1"))
    data, encoding = load(os.environ["DATA_PATH"])
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
        metric("log_loss", loss, epoch)
        metric("auc", auc(scored), epoch)
    accuracy = sum((p >= 0.5) == (y == 1.0) for p, y in scored) / len(scored)
    metric("accuracy", accuracy, epochs)

    out = os.environ["MODEL_OUTPUT_PATH"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"weights": weights, "encoding": encoding}, f)
    print(f"wrote {out}/model.json (validation AUC {auc(scored):.3f}, accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
