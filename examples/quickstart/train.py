#!/usr/bin/env python3
"""A small training job that follows Strata's job contract (standard library only).

It reads the CSV at DATA_PATH, "trains" a one-feature threshold classifier on it, prints its progress
and a metric, and writes the model to MODEL_OUTPUT_PATH. Hyperparameters arrive as HYPERPARAM_* variables.
"""
import csv
import json
import os
import sys

data_path = os.environ.get("DATA_PATH")
output_path = os.environ.get("MODEL_OUTPUT_PATH")
if not data_path or not output_path:
    sys.exit("DATA_PATH and MODEL_OUTPUT_PATH must be set (Strata sets them)")
label = os.environ.get("HYPERPARAM_LABEL", "churned")
feature = os.environ.get("HYPERPARAM_FEATURE", "tenure_months")

with open(data_path, newline="") as f:
    rows = list(csv.DictReader(f))
print(f"read {len(rows)} rows from {data_path}", flush=True)

points = sorted((float(r[feature]), r[label] in ("1", "true", "yes")) for r in rows)
best_threshold, best_accuracy = None, -1.0
for threshold, _ in points:
    correct = sum((value <= threshold) == positive for value, positive in points)
    accuracy = correct / len(points)
    if accuracy > best_accuracy:
        best_threshold, best_accuracy = threshold, accuracy
print(f"best rule: {label} if {feature} <= {best_threshold}", flush=True)
print("STRATA_METRIC " + json.dumps({"name": "accuracy", "value": round(best_accuracy, 4), "step": 1}), flush=True)

os.makedirs(output_path, exist_ok=True)
model_file = os.path.join(output_path, "model.json")
with open(model_file, "w") as f:
    json.dump({"feature": feature, "threshold": best_threshold, "accuracy": best_accuracy,
               "job": os.environ.get("STRATA_JOB_ID"), "attempt": os.environ.get("STRATA_ATTEMPT")}, f, indent=2)
print(f"wrote {model_file}", flush=True)
