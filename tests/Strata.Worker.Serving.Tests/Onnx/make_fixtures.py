#!/usr/bin/python3
"""Builds the small ONNX models the serving tests load, and their expected answers.

There is no skl2onnx or tf2onnx here, so the models are written with onnx.helper in the shapes those
converters produce for tabular models, and the expected outputs are computed with numpy from the same
weights (not by running the models), so that the tests check the replica against an independent answer.

Run from this folder with Debian's python3-onnx and python3-numpy:
    /usr/bin/python3 make_fixtures.py
It rewrites *.onnx and expected.json; the outputs are deterministic, so a rerun changes nothing.
"""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]


def save(graph, name):
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="strata-test-fixtures")
    # ir_version 8 (ONNX 1.12): what ONNX Runtime 1.x loads.
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, f"{name}.onnx")


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def string_to_float_map():
    # onnx.helper 1.12 has no make_map_type_proto.
    map_type = onnx.TypeProto()
    map_type.map_type.key_type = TensorProto.STRING
    map_type.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    return map_type


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# 1. A binary churn classifier with one input per column, as skl2onnx writes a ColumnTransformer
#    pipeline: [N,1] columns of float, double, int64 and string, and a [N] boolean. Outputs `label`
#    (int64 [N]) and `probabilities` (float [N,2], the classes 0 and 1).
PLANS = ["basic", "standard", "premium"]
CHURN_W = np.array([[-0.08], [0.03], [0.6], [-0.5], [0.4]], dtype=np.float32)
CHURN_B = np.array([-1.0], dtype=np.float32)


def churn():
    n = "N"
    inputs = [
        helper.make_tensor_value_info("tenure_months", TensorProto.FLOAT, [n, 1]),
        helper.make_tensor_value_info("monthly_charges", TensorProto.DOUBLE, [n, 1]),
        helper.make_tensor_value_info("support_calls", TensorProto.INT64, [n, 1]),
        helper.make_tensor_value_info("plan", TensorProto.STRING, [n, 1]),
        helper.make_tensor_value_info("paperless_billing", TensorProto.BOOL, [n]),
    ]
    outputs = [
        helper.make_tensor_value_info("label", TensorProto.INT64, [n]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [n, 2]),
    ]
    nodes = [
        helper.make_node("Cast", ["monthly_charges"], ["charges_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["support_calls"], ["calls_f"], to=TensorProto.FLOAT),
        # An unknown plan encodes as -1.
        helper.make_node("LabelEncoder", ["plan"], ["plan_f"], domain="ai.onnx.ml",
                         keys_strings=PLANS, values_floats=[0.0, 1.0, 2.0], default_float=-1.0),
        helper.make_node("Cast", ["paperless_billing"], ["paperless_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["paperless_f", "axis1"], ["paperless_col"]),
        helper.make_node("Concat", ["tenure_months", "charges_f", "calls_f", "plan_f", "paperless_col"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
        helper.make_node("Greater", ["p", "half"], ["positive"]),
        helper.make_node("Cast", ["positive"], ["positive_i"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["positive_i", "flat"], ["label"]),
    ]
    initializers = [
        const("axis1", np.array([1], dtype=np.int64)),
        const("W", CHURN_W), const("B", CHURN_B),
        const("one", np.array([1.0], dtype=np.float32)), const("half", np.array([0.5], dtype=np.float32)),
        const("flat", np.array([-1], dtype=np.int64)),
    ]
    save(helper.make_graph(nodes, "churn", inputs, outputs, initializers), "churn_classifier")

    instances = [
        {"tenure_months": 2, "monthly_charges": 99.5, "support_calls": 4, "plan": "premium", "paperless_billing": True},
        {"tenure_months": 60, "monthly_charges": 20.25, "support_calls": 0, "plan": "basic", "paperless_billing": False},
        # An unknown plan encodes as -1.
        {"tenure_months": 12, "monthly_charges": 50.0, "support_calls": 1, "plan": "gold", "paperless_billing": True},
    ]
    predictions = []
    for i in instances:
        plan = PLANS.index(i["plan"]) if i["plan"] in PLANS else -1
        x = np.array([[i["tenure_months"], i["monthly_charges"], i["support_calls"], plan, float(i["paperless_billing"])]], dtype=np.float32)
        p = float(sigmoid(x @ CHURN_W + CHURN_B)[0, 0])
        predictions.append({"predicted_label": int(p > 0.5), "probabilities": [1 - p, p]})
    return {"instances": instances, "predictions": predictions}


# 2. A multiclass classifier with a single [N,4] float input, as skl2onnx writes a LogisticRegression
#    with its ZipMap: `output_label` (string [N]) and `output_probability` (a sequence of maps).
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]
IRIS_W = np.array([[0.4, 0.1, -0.5], [1.2, -0.3, -0.9], [-2.0, 0.2, 1.8], [-1.0, -0.6, 1.6]], dtype=np.float32)
IRIS_B = np.array([0.3, 1.1, -1.4], dtype=np.float32)


def iris():
    n = "N"
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, 4])]
    outputs = [
        helper.make_tensor_value_info("output_label", TensorProto.STRING, [n]),
        helper.make_value_info("output_probability", helper.make_sequence_type_proto(string_to_float_map())),
    ]
    nodes = [
        helper.make_node("MatMul", ["input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
        helper.make_node("LabelEncoder", ["index"], ["output_label"], domain="ai.onnx.ml",
                         keys_int64s=[0, 1, 2], values_strings=IRIS_CLASSES, default_string="?"),
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain="ai.onnx.ml", classlabels_strings=IRIS_CLASSES),
    ]
    save(helper.make_graph(nodes, "iris", inputs, outputs, [const("W", IRIS_W), const("B", IRIS_B)]), "iris_zipmap")

    rows = [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 4.1, 1.0], [6.9, 3.1, 5.4, 2.1]]
    z = np.array(rows, dtype=np.float32) @ IRIS_W + IRIS_B
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probabilities = e / e.sum(axis=1, keepdims=True)
    predictions = [
        {"predicted_label": IRIS_CLASSES[int(np.argmax(p))], "probabilities": dict(zip(IRIS_CLASSES, map(float, p)))}
        for p in probabilities
    ]
    return {"instances": [{"input": r} for r in rows], "predictions": predictions}


# 3. A regression with a single [N,3] float input and a plainly named [N,1] output, `variable`, as
#    skl2onnx names a regressor's.
REGRESSION_W = np.array([[2.0], [-1.0], [0.5]], dtype=np.float32)
REGRESSION_B = np.array([4.0], dtype=np.float32)


def regression():
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3])]
    outputs = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, ["N", 1])]
    nodes = [helper.make_node("MatMul", ["features", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["variable"])]
    save(helper.make_graph(nodes, "regression", inputs, outputs, [const("W", REGRESSION_W), const("B", REGRESSION_B)]), "regression")

    rows = [[1.0, 2.0, 3.0], [0.5, -4.0, 10.25]]
    values = np.array(rows, dtype=np.float32) @ REGRESSION_W + REGRESSION_B
    return {"instances": [{"features": r} for r in rows], "predictions": [{"variable": float(v[0])} for v in values]}


# 4. A model whose batch dimension is fixed at 1 (run once per instance) with a [1,2,2] input: an
#    instance is a 2x2 nested array. Outputs `doubled` ([1,2,2]) and `total` ([1], one number).
def fixed_batch():
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2])]
    outputs = [
        helper.make_tensor_value_info("doubled", TensorProto.FLOAT, [1, 2, 2]),
        helper.make_tensor_value_info("total", TensorProto.FLOAT, [1]),
    ]
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["doubled"]),
        helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=0),
    ]
    initializers = [const("two", np.array([2.0], dtype=np.float32)), const("axes", np.array([1, 2], dtype=np.int64))]
    save(helper.make_graph(nodes, "fixed_batch", inputs, outputs, initializers), "fixed_batch")

    rows = [[[1.0, 2.0], [3.0, 4.5]], [[-1.0, 0.0], [0.25, 8.0]]]
    predictions = [{"doubled": (np.array(r) * 2).tolist(), "total": float(np.sum(r))} for r in rows]
    return {"instances": [{"x": r} for r in rows], "predictions": predictions}


# 5. A model the replica refuses: its feature dimension is dynamic ([N,F]), so instances cannot be checked.
def dynamic_features():
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "F"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "F"])]
    save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "dynamic_features", inputs, outputs), "dynamic_features")


# 6. A model that loads but fails on batches: it reshapes its [N,2] input to [1,2], which ONNX Runtime
#    refuses while running when N > 1.
def fails_on_batches():
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])]
    nodes = [helper.make_node("Reshape", ["x", "one_row"], ["y"])]
    save(helper.make_graph(nodes, "fails_on_batches", inputs, outputs, [const("one_row", np.array([1, 2], dtype=np.int64))]), "fails_on_batches")


if __name__ == "__main__":
    dynamic_features()
    fails_on_batches()
    expected = {"churn_classifier": churn(), "iris_zipmap": iris(), "regression": regression(), "fixed_batch": fixed_batch()}
    with open("expected.json", "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
