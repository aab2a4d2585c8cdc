"""Retries, paging and the idempotency key, against a local fake API."""
import unittest
import uuid

import strata
from strata import Client, Retry
from fake_api import DROP, PARTIAL, FakeApi, temporary_folder

JOB = {"id": "j1", "status": "pending", "spec": {"name": "x"}}


def problem(kind, status, **extra):
    return {"type": "urn:strata:problem:" + kind, "title": kind, "status": status, "detail": kind + " detail",
            "trace_id": "00-trace-01", **extra}


class FakeTestCase(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.close)
        self.client = Client(api_url=self.api.url, token="t0k", output=None,
                             retry=Retry(max_attempts=4, deadline=30, backoff=0.5, max_backoff=8))
        self.sleeps = []
        self.now = [0.0]

        def sleep(seconds):
            self.sleeps.append(seconds)
            self.now[0] += seconds

        http = self.client._http
        http._sleep = sleep
        http._clock = lambda: self.now[0]
        http._random = lambda low, high: high  # the jitter's upper bound, so the waits are known


class RetryTests(FakeTestCase):
    def test_a_get_is_retried_on_502_503_504_with_exponential_backoff(self):
        self.api.on("GET", "/v1/jobs/training/j1", (502, b""), (503, problem("unavailable", 503)), (504, b""), (200, JOB))
        job = self.client.jobs.get("j1")
        self.assertEqual("j1", job.id)
        self.assertEqual(4, len(self.api.sent("GET")))
        self.assertEqual([0.5, 1.0, 2.0], self.sleeps)

    def test_full_jitter_waits_between_zero_and_the_bound(self):
        bounds = []
        self.client._http._random = lambda low, high: bounds.append((low, high)) or low
        self.api.on("GET", "/v1/quota", (503, b""), (503, b""), (200, {}))
        self.client.quota()
        self.assertEqual([(0.0, 0.5), (0.0, 1.0)], bounds)
        self.assertEqual([0.0, 0.0], self.sleeps)

    def test_the_backoff_is_capped(self):
        self.client._http.retry = Retry(max_attempts=6, deadline=1000, backoff=2, max_backoff=5)
        self.api.on("GET", "/v1/quota", (503, b""), (503, b""), (503, b""), (200, {}))
        self.client.quota()
        self.assertEqual([2, 4, 5], self.sleeps)

    def test_retry_after_is_honoured(self):
        self.api.on("GET", "/v1/quota", (429, problem("rate-limited", 429), {"Retry-After": "7"}), (200, {"ok": 1}))
        self.assertEqual({"ok": 1}, self.client.quota())
        self.assertEqual([7.0], self.sleeps)

    def test_a_wait_past_the_deadline_is_not_made(self):
        self.api.on("GET", "/v1/quota", (429, problem("rate-limited", 429), {"Retry-After": "100"}))
        with self.assertRaises(strata.RateLimitedError) as caught:
            self.client.quota()
        self.assertEqual(100.0, caught.exception.retry_after)
        self.assertEqual(1, len(self.api.sent()))
        self.assertEqual([], self.sleeps)

    def test_the_deadline_counts_the_time_already_spent(self):
        self.client._http.retry = Retry(max_attempts=10, deadline=3.2, backoff=1, max_backoff=100)
        self.api.on("GET", "/v1/quota", (503, b""))
        with self.assertRaises(strata.UnavailableError):
            self.client.quota()
        self.assertEqual([1, 2], self.sleeps)  # a third wait (4 s) would end past 3.2 s

    def test_attempts_are_limited(self):
        self.api.on("GET", "/v1/quota", (503, problem("unavailable", 503)))
        with self.assertRaises(strata.UnavailableError):
            self.client.quota()
        self.assertEqual(4, len(self.api.sent()))

    def test_a_dropped_connection_is_retried_for_a_get(self):
        self.api.on("GET", "/v1/quota", DROP, (200, {"ok": 2}))
        self.assertEqual({"ok": 2}, self.client.quota())
        self.assertEqual(2, len(self.api.sent()))

    def test_an_unreachable_server_is_a_connection_error(self):
        self.api.close()
        with self.assertRaises(strata.StrataConnectionError):
            self.client.quota()
        self.assertEqual(3, len(self.sleeps))

    def test_a_post_without_a_key_is_not_retried(self):
        self.api.on("POST", "/v1/models/m/versions", (503, problem("unavailable", 503), {"Retry-After": "1"}))
        with self.assertRaises(strata.UnavailableError):
            self.client.models.register("m", "/x/model.onnx")
        self.assertEqual(1, len(self.api.sent()))
        self.assertNotIn("idempotency-key", self.api.sent()[0].headers)

    def test_a_dropped_post_without_a_key_is_not_retried(self):
        self.api.on("POST", "/v1/models/m/versions", DROP, (201, {}))
        with self.assertRaises(strata.StrataConnectionError):
            self.client.models.register("m", "/x/model.onnx")
        self.assertEqual(1, len(self.api.sent()))

    def test_a_submission_carries_one_key_through_its_retries(self):
        self.api.on("POST", "/v1/jobs/training", (503, b""), DROP, (201, JOB))
        self.client.train(name="x", entrypoint="python3 -c pass")
        sent = self.api.sent("POST", "/v1/jobs/training")
        self.assertEqual(3, len(sent))
        keys = {r.headers.get("idempotency-key") for r in sent}
        self.assertEqual(1, len(keys))
        self.assertEqual(4, uuid.UUID(keys.pop()).version)

    def test_a_submission_whose_first_try_is_still_running_is_tried_again_after_retry_after(self):
        self.api.on("POST", "/v1/jobs/training", (409, problem("idempotency-key-in-flight", 409), {"Retry-After": "1"}), (201, JOB))
        self.client.train(name="x", entrypoint="python3 -c pass")
        sent = self.api.sent("POST", "/v1/jobs/training")
        self.assertEqual(2, len(sent))
        self.assertEqual(1, len({r.headers.get("idempotency-key") for r in sent}))
        self.assertEqual([1.0], self.sleeps)

    def test_a_name_conflict_is_not_retried(self):
        self.api.on("POST", "/v1/jobs/training", (409, problem("conflict", 409)))
        with self.assertRaises(strata.ConflictError):
            self.client.train(name="x", entrypoint="python3 -c pass")
        self.assertEqual(1, len(self.api.sent("POST", "/v1/jobs/training")))

    def test_each_submission_has_a_new_key(self):
        self.api.on("POST", "/v1/jobs/training", (201, JOB))
        self.client.train(name="x", entrypoint="true")
        self.client.train(name="x", entrypoint="true")
        keys = [r.headers["idempotency-key"] for r in self.api.sent("POST")]
        self.assertNotEqual(keys[0], keys[1])

    def test_a_deployment_creation_carries_a_key_and_is_retried(self):
        self.api.on("POST", "/v1/deployments", (502, b""), (201, {"name": "churn", "status": "pending"}))
        deployed = self.client.deploy("churn@1", min_replicas=1, max_replicas=4)
        sent = self.api.sent("POST", "/v1/deployments")
        self.assertEqual(2, len(sent))
        self.assertEqual(sent[0].headers["idempotency-key"], sent[1].headers["idempotency-key"])
        self.assertEqual({"name": "churn", "model": "churn@1", "min_replicas": 1, "max_replicas": 4}, sent[0].json())
        self.assertEqual("churn", deployed.name)

    def test_a_quota_exceeded_429_is_not_retried(self):
        self.api.on("POST", "/v1/jobs/training", (429, problem("quota-exceeded", 429, resource="gpu_count", limit=2,
                                                                used=2, requested=1), {"Retry-After": "1"}))
        with self.assertRaises(strata.QuotaExceededError):
            self.client.train(name="x", entrypoint="true")
        self.assertEqual(1, len(self.api.sent()))

    def test_a_client_error_is_not_retried(self):
        self.api.on("GET", "/v1/jobs/training/nope", (404, problem("not-found", 404)))
        with self.assertRaises(strata.NotFoundError):
            self.client.jobs.get("nope")
        self.assertEqual(1, len(self.api.sent()))

    def test_a_prediction_is_retried_without_a_key(self):
        self.api.on("POST", "/v1/deployments/d/predict", (503, b""), (200, {"predictions": [1, 0]}))
        deployed = strata.DeployedModel(self.client, {"name": "d"})
        self.assertEqual([1, 0], deployed.predict([{"a": 1}, {"a": 2}]))
        sent = self.api.sent("POST")
        self.assertEqual(2, len(sent))
        self.assertEqual({"instances": [{"a": 1}, {"a": 2}]}, sent[0].json())
        self.assertNotIn("idempotency-key", sent[0].headers)

    def test_every_request_sends_the_token(self):
        self.api.on("GET", "/v1/me", (200, {}))
        self.client.me()
        self.assertEqual("Bearer t0k", self.api.sent()[0].headers["authorization"])


class DeploymentAndTenantTests(FakeTestCase):
    DEPLOYMENT = {"name": "churn", "model": "churn@2", "model_name": "churn", "model_version": 2,
                  "previous_model_version": 1, "status": "ready", "ready_replicas": 1,
                  "endpoint_url": "/v1/deployments/churn/predict"}

    def test_rollback_patches_the_previous_version(self):
        self.api.on("GET", "/v1/deployments/churn", (200, self.DEPLOYMENT))
        self.api.on("PATCH", "/v1/deployments/churn", (200, dict(self.DEPLOYMENT, model="churn@1", model_version=1)))
        deployed = self.client.deployments.get("churn")
        self.assertEqual(self.api.url + "/v1/deployments/churn/predict", deployed.endpoint)
        deployed.rollback()
        self.assertEqual({"model": "churn@1"}, self.api.sent("PATCH")[0].json())
        self.assertEqual(1, deployed.model_version)

    def test_update_sends_only_what_changes_and_is_not_retried(self):
        self.api.on("PATCH", "/v1/deployments/churn", (503, b""))
        deployed = strata.DeployedModel(self.client, self.DEPLOYMENT)
        with self.assertRaises(strata.UnavailableError):
            deployed.update(max_replicas=6, cpu_cores=2)
        self.assertEqual(1, len(self.api.sent("PATCH")))
        self.assertEqual({"max_replicas": 6, "compute": {"cpu_cores": 2}}, self.api.sent("PATCH")[0].json())

    def test_scaling_mode_and_cpu_target_are_sent_on_create_and_a_switch_sends_the_mode_alone(self):
        scaling = {"mode": "cpu", "target_in_flight": 8, "target_cpu_percent": 60}
        self.api.on("POST", "/v1/deployments", (201, dict(self.DEPLOYMENT, scaling=scaling)))
        self.api.on("PATCH", "/v1/deployments/churn", (200, dict(self.DEPLOYMENT, scaling=dict(scaling, mode="in_flight"))))
        deployed = self.client.deploy("churn@2", scaling_mode="cpu", target_cpu_percent=60)
        self.assertEqual({"mode": "cpu", "target_cpu_percent": 60}, self.api.sent("POST")[0].json()["scaling"])
        self.assertEqual("cpu", deployed.scaling["mode"])
        deployed.update(scaling_mode="in_flight")
        self.assertEqual({"scaling": {"mode": "in_flight"}}, self.api.sent("PATCH")[0].json())
        self.assertEqual(("in_flight", 60), (deployed.scaling["mode"], deployed.scaling["target_cpu_percent"]))

    def test_wait_ready_polls_until_a_replica_serves(self):
        self.api.on("GET", "/v1/deployments/churn", (200, dict(self.DEPLOYMENT, status="pending", ready_replicas=0)),
                    (200, self.DEPLOYMENT))
        strata.DeployedModel(self.client, self.DEPLOYMENT).wait_ready(poll_interval=0.01)
        self.assertEqual(2, len(self.api.sent("GET")))

    def test_usage_sends_utc_times(self):
        import datetime
        self.api.on("GET", "/v1/usage", (200, {"total": 0}))
        self.client.usage(datetime.datetime(2026, 1, 1), "2026-02-01T00:00:00Z")
        self.assertEqual("/v1/usage?from=2026-01-01T00%3A00%3A00%2B00%3A00&to=2026-02-01T00%3A00%3A00Z",
                         self.api.sent()[0].path)


class PagingTests(FakeTestCase):
    def test_jobs_list_follows_the_next_links(self):
        page2 = self.api.url + "/v1/jobs/training?status=running&page_token=p2"
        self.api.on("GET", "/v1/jobs/training",
                    (200, [dict(JOB, id="a"), dict(JOB, id="b")], {"Link": f'</v1/jobs/training?status=running&page_token=p1>; rel="next"'}),
                    (200, [dict(JOB, id="c")], {"Link": f'<{page2}>; rel="next"'}),
                    (200, [dict(JOB, id="d")], {}))
        ids = [job.id for job in self.client.jobs.list(status="running")]
        self.assertEqual(["a", "b", "c", "d"], ids)
        paths = [r.path for r in self.api.sent()]
        self.assertEqual(["/v1/jobs/training?status=running", "/v1/jobs/training?status=running&page_token=p1",
                          "/v1/jobs/training?status=running&page_token=p2"], paths)

    def test_pages_are_read_as_they_are_needed(self):
        self.api.on("GET", "/v1/jobs/training", (200, [dict(JOB, id="a")], {"Link": '</v1/jobs/training?page_token=p1>; rel="next"'}),
                    (200, [dict(JOB, id="b")], {}))
        first = next(iter(self.client.jobs.list()))
        self.assertEqual("a", first.id)
        self.assertEqual(1, len(self.api.sent()))

    def test_a_repeated_link_ends_the_listing(self):
        self.api.on("GET", "/v1/models", (200, [{"name": "m"}], {"Link": '</v1/models?page_token=same>; rel="next"'}))
        self.assertEqual(2, len(list(self.client.models.list())))

    def test_metrics_are_paged_too(self):
        self.api.on("GET", "/v1/jobs/training/j1/metrics",
                    (200, [{"name": "auc", "value": 0.5, "step": 1}], {"Link": '</v1/jobs/training/j1/metrics?name=auc&page_token=x>; rel="next"'}),
                    (200, [{"name": "auc", "value": 0.6, "step": 2}], {}))
        job = strata.TrainingJob(self.client, JOB)
        self.assertEqual([0.5, 0.6], [p["value"] for p in job.metrics("auc")])


class JobTests(FakeTestCase):
    def test_wait_raises_job_failed_with_the_reason(self):
        self.api.on("GET", "/v1/jobs/training/j1", (200, dict(JOB, status="running")),
                    (200, dict(JOB, status="failed", status_reason="out_of_memory", error_message="killed at 2 GiB")))
        job = strata.TrainingJob(self.client, JOB)
        with self.assertRaises(strata.JobFailedError) as caught:
            job.wait(poll_interval=0.01)
        self.assertEqual("out_of_memory", caught.exception.status_reason)
        self.assertEqual("killed at 2 GiB", caught.exception.error_message)

    def test_wait_returns_the_succeeded_job(self):
        self.api.on("GET", "/v1/jobs/training/j1", (200, dict(JOB, status="succeeded", output={"model_version": "churn@3"},
                                                           spec={"model_output_path": "/out"})))
        job = strata.TrainingJob(self.client, JOB).wait()
        self.assertEqual("churn@3", job.model_version)
        self.assertEqual("/out", job.output_path)

    def test_wait_times_out(self):
        self.api.on("GET", "/v1/jobs/training/j1", (200, dict(JOB, status="running")))
        with self.assertRaises(strata.WaitTimeoutError):
            strata.TrainingJob(self.client, JOB).wait(timeout=0.05, poll_interval=0.02)

    def test_logs_are_lines(self):
        self.api.on("GET", "/v1/jobs/training/j1/logs", (200, "one\ntwo\r\nthree"))
        lines = list(strata.TrainingJob(self.client, JOB).logs(follow=True, tail=3))
        self.assertEqual(["one", "two", "three"], lines)
        self.assertIn("follow=true", self.api.sent()[0].path)
        self.assertIn("tail=3", self.api.sent()[0].path)

    def test_a_followed_log_resumes_after_a_break_without_repeating_a_line(self):
        self.api.on("GET", "/v1/jobs/training/j1", (200, dict(JOB, status="running", attempts=2)))
        self.api.on("GET", "/v1/jobs/training/j1/logs", (PARTIAL, "one\ntwo\nthr", 100), DROP,
                    (200, "one\ntwo\nthree\nfour\n"))
        lines = list(strata.TrainingJob(self.client, JOB).logs(follow=True))
        self.assertEqual(["one", "two", "three", "four"], lines)
        paths = [r.path for r in self.api.sent("GET", "/v1/jobs/training/j1/logs")]
        self.assertEqual(3, len(paths))
        self.assertTrue(all("attempt=2" in p and "follow=true" in p for p in paths), paths)

    def test_a_log_that_is_not_followed_is_not_resumed(self):
        self.api.on("GET", "/v1/jobs/training/j1/logs", (PARTIAL, "one\ntw", 100), (200, "one\ntwo\n"))
        lines = []
        with self.assertRaises(strata.StrataConnectionError):
            for line in strata.TrainingJob(self.client, JOB).logs():
                lines.append(line)
        self.assertEqual(["one"], lines)

    def test_cancel_deletes(self):
        self.api.on("DELETE", "/v1/jobs/training/j1", (202, JOB))
        strata.TrainingJob(self.client, JOB).cancel()
        self.assertEqual(1, len(self.api.sent("DELETE")))

    def test_train_uploads_local_data_and_builds_the_spec(self):
        import os
        import tempfile
        folder = temporary_folder(self)
        data = os.path.join(folder, "churn.csv")
        with open(data, "w") as f:
            f.write("a,b\n1,2\n")
        self.api.on("POST", "/v1/artifacts", (201, {"uri": "artifact://d1", "size_bytes": 8, "sha256": "ab"}))
        self.api.on("POST", "/v1/jobs/training", (201, JOB))
        self.client.train(model="lightgbm", data=data, label="b", compute="cpu-2-4gb", hyperparameters={"num_leaves": 7},
                          workers=None, priority=3)
        upload = self.api.sent("POST", "/v1/artifacts")[0]
        self.assertEqual(b"a,b\n1,2\n", upload.body)
        self.assertIn("name=churn.csv", upload.path)
        spec = self.api.sent("POST", "/v1/jobs/training")[0].json()
        self.assertEqual({"name": "churn", "model": "lightgbm", "label": "b", "data_path": "artifact://d1",
                          "compute": {"type": "cpu", "cpu_cores": 2, "memory_gb": 4},
                          "hyperparameters": {"num_leaves": 7}, "priority": 3}, spec)

    def test_train_packs_the_working_folder_with_train_py(self):
        import io
        import os
        import tarfile
        import tempfile
        folder = temporary_folder(self)
        for name, text in {"train.py": "print(1)", ".gitignore": "*.log\n", "run.log": "x"}.items():
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
        self.api.on("POST", "/v1/artifacts", (201, {"uri": "artifact://c1"}))
        self.api.on("POST", "/v1/jobs/training", (201, JOB))
        before = os.getcwd()
        os.chdir(folder)
        try:
            self.client.train(name="seed", image="pytorch/pytorch:latest", data="s3://data/train.csv", compute="gpu-1x-v100")
        finally:
            os.chdir(before)
        upload = self.api.sent("POST", "/v1/artifacts")[0]
        self.assertIn("kind=archive", upload.path)
        with tarfile.open(fileobj=io.BytesIO(upload.body), mode="r:gz") as tar:
            self.assertEqual([".gitignore", "train.py"], tar.getnames())
        spec = self.api.sent("POST", "/v1/jobs/training")[0].json()
        self.assertEqual({"name": "seed", "docker_image": "pytorch/pytorch:latest", "data_path": "s3://data/train.csv",
                          "compute": {"type": "gpu", "gpu_count": 1, "gpu_type": "tesla-v100"},
                          "code_artifact": "artifact://c1"}, spec)

    def test_a_packed_folder_with_requirements_txt_asks_for_an_environment_built_from_it(self):
        import os
        folder = temporary_folder(self)
        for name in ("train.py", "requirements.txt"):
            with open(os.path.join(folder, name), "w") as f:
                f.write("pandas\n")
        self.api.on("POST", "/v1/artifacts", (201, {"uri": "artifact://c1"}))
        self.api.on("POST", "/v1/jobs/training", (201, JOB))
        self.client.train(name="with-env", code=folder)
        self.client.train(name="without-env", code=folder, environment={})
        with_env, without_env = [sent.json() for sent in self.api.sent("POST", "/v1/jobs/training")]
        self.assertEqual({"requirements": "requirements.txt"}, with_env["environment"])
        self.assertNotIn("environment", without_env)

    def test_a_code_folder_without_train_py_needs_an_entrypoint(self):
        import tempfile
        with self.assertRaises(ValueError) as caught:
            self.client.train(name="x", code=temporary_folder(self))
        self.assertIn("train.py", str(caught.exception))
        self.assertEqual([], self.api.sent())

    def test_train_refuses_an_unknown_keyword(self):
        with self.assertRaises(TypeError):
            self.client.train(name="x", imagee="y")


if __name__ == "__main__":
    unittest.main()
