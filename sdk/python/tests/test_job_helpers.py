"""strata.job: the helpers for code inside a job."""
import contextlib
import io
import json
import os
import unittest

from strata import job
from fake_api import DROP, FakeApi, temporary_folder


class JobHelperTests(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.close)
        self.env = {"STRATA_API_URL": self.api.url, "STRATA_JOB_TOKEN": "job-token", "STRATA_JOB_ID": "j 1"}

    def test_log_metric_posts_with_the_job_token(self):
        self.api.on("POST", "/v1/jobs/training/j%201/metrics", (200, {"recorded": 1}))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            job.log_metric("val/loss", 0.25, step=3, environ=self.env)
        sent = self.api.sent("POST")[0]
        self.assertEqual([{"name": "val/loss", "value": 0.25, "step": 3}], sent.json())
        self.assertEqual("Bearer job-token", sent.headers["authorization"])
        self.assertEqual("", out.getvalue())

    def test_log_metric_prints_a_line_without_an_api(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            job.log_metric("auc", 1, environ={})
        line = out.getvalue().strip()
        self.assertTrue(line.startswith("STRATA_METRIC "))
        self.assertEqual({"name": "auc", "value": 1.0}, json.loads(line[len("STRATA_METRIC "):]))

    def test_log_metric_prints_a_line_when_the_api_cannot_be_reached(self):
        self.api.on("POST", "/v1/jobs/training/j%201/metrics", DROP)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            job.log_metric("auc", 0.5, step=1, environ=self.env)
        self.assertIn("metric not posted", err.getvalue())
        self.assertIn('STRATA_METRIC {"name": "auc", "value": 0.5, "step": 1}', out.getvalue())

    def test_log_metric_prints_a_line_when_the_api_refuses(self):
        self.api.on("POST", "/v1/jobs/training/j%201/metrics", (401, {"type": "urn:strata:problem:unauthenticated"}))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            job.log_metric("auc", 0.5, environ=self.env)
        self.assertIn('STRATA_METRIC {"name": "auc", "value": 0.5}', out.getvalue())

    def test_hyperparameters_are_typed(self):
        env = {"HYPERPARAM_EPOCHS": "30", "HYPERPARAM_LEARNING_RATE": "0.1", "HYPERPARAM_OPTIMIZER": "adam",
               "HYPERPARAM_USE_BN": "true", "HYPERPARAM_LAYERS": "[64, 32]", "OTHER": "x", "HYPERPARAM_": "y"}
        self.assertEqual({"epochs": 30, "learning_rate": 0.1, "optimizer": "adam", "use_bn": True, "layers": [64, 32]},
                         job.hyperparameters(env))

    def test_paths_and_ranks(self):
        folder = temporary_folder(self)
        env = {"DATA_PATH": "/data/x.csv", "MODEL_OUTPUT_PATH": os.path.join(folder, "out"),
               "STRATA_CHECKPOINT_DIR": os.path.join(folder, "ckpt"), "RANK": "2", "WORLD_SIZE": "4", "STRATA_JOB_ID": "j"}
        self.assertEqual("/data/x.csv", job.data_path(environ=env))
        self.assertEqual(os.path.join(folder, "out"), job.output_path(environ=env))
        self.assertTrue(os.path.isdir(os.path.join(folder, "out")))
        self.assertEqual(os.path.join(folder, "ckpt"), job.checkpoint_dir(environ=env))
        self.assertTrue(os.path.isdir(os.path.join(folder, "ckpt")))
        self.assertEqual((2, 4), (job.rank(env), job.world_size(env)))
        self.assertTrue(job.in_job(env))
        self.assertEqual("j", job.job_id(env))

    def test_outside_a_job_the_defaults(self):
        folder = temporary_folder(self)
        self.assertIsNone(job.data_path(environ={}))
        self.assertEqual("d.csv", job.data_path("d.csv", environ={}))
        self.assertEqual(os.path.join(folder, "o"), job.output_path(os.path.join(folder, "o"), environ={}))
        self.assertEqual((0, 1), (job.rank({}), job.world_size({})))
        self.assertFalse(job.in_job({}))

    def test_register_model_posts_the_absolute_path(self):
        self.api.on("POST", "/v1/models/churn/versions", (201, {"model_name": "churn", "version": 2}))
        with contextlib.redirect_stderr(io.StringIO()):
            version = job.register_model("churn", "out/model.onnx", metrics={"auc": 0.9}, environ=self.env)
        self.assertEqual(2, version["version"])
        sent = self.api.sent("POST")[0]
        self.assertEqual({"path": os.path.abspath("out/model.onnx"), "metrics": {"auc": 0.9}}, sent.json())
        self.assertEqual("Bearer job-token", sent.headers["authorization"])

    def test_register_model_needs_a_job(self):
        with self.assertRaises(RuntimeError):
            job.register_model("churn", "model.onnx", environ={})


if __name__ == "__main__":
    unittest.main()
