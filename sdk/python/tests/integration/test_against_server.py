"""The SDK against a real server process (the Release build), as a user would run it.

Run by sdk/python/tests/run.py in a fresh venv with the package installed by pip, so ``strata`` here
is the installed package, not the source tree.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import strata
from strata import Client, Retry

from integration.server import REPO, THROTTLED, Server, why_not_runnable

SERVER = None
SEED = '''from strata import Client
client = Client(api_url="http://localhost:8080", token="…")
job = client.train(name="my-model", image="pytorch/pytorch:latest", data="s3://data/train.csv",
                   compute="gpu-1x-v100")
job.wait()
print(f"Model saved to: {job.output_path}")
'''
CHURN = os.path.join(REPO, "examples", "churn", "churn.csv")
ONE_CUSTOMER = {"tenure_months": 10, "plan": "premium", "contract": "month-to-month", "monthly_charges": 103.22,
                "total_charges": 1055.07, "support_calls": 2, "region": "south", "paperless_billing": "yes"}


def setUpModule():
    global SERVER
    reason = why_not_runnable()
    if reason:
        raise unittest.SkipTest(reason)
    SERVER = Server()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class ServerTestCase(unittest.TestCase):
    tenant = None
    token = None

    @classmethod
    def setUpClass(cls):
        cls.tenant = "t" + uuid.uuid4().hex[:8]
        cls.token = SERVER.tenant(cls.tenant)
        cls.client = Client(api_url=SERVER.url, token=cls.token, output=None)

    def project(self, files):
        """A project folder holding ``files``, removed after the test."""
        folder = tempfile.mkdtemp(prefix="strata-pysdk-project-")
        self.addCleanup(shutil.rmtree, folder)
        for name, text in files.items():
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        return folder

    def ended(self, job):
        """Cancels the job when it is still going and waits for its end (its worker leaves with it)."""
        if not job.refresh().done:
            try:
                job.cancel()
            except strata.errors.ConflictError:
                pass  # it ended between the look and the cancel
        while not job.refresh().done:
            time.sleep(0.2)


class SeedTests(ServerTestCase):
    def test_the_installed_package_is_under_test(self):
        if os.environ.get("STRATA_SDK_TEST_VENV") != "1":
            self.skipTest("run outside tests/run.py's venv: the source tree's package is under test")
        self.assertNotIn(os.path.join(REPO, "sdk", "python", "strata"), strata.__file__)

    def test_the_seed_snippet_runs_from_a_folder_with_train_py(self):
        folder = self.project({"train.py": "import os\n"
                                      "out = os.environ['MODEL_OUTPUT_PATH']\n"
                                      "os.makedirs(out, exist_ok=True)\n"
                                      "open(os.path.join(out, 'model.txt'), 'w').write('trained on ' + os.environ['DATA_PATH'])\n",
                          ".gitignore": "scratch/\n", "scratch/big.bin": "x" * 1000})
        script = SEED.replace("http://localhost:8080", SERVER.url).replace("…", self.token).replace("gpu-1x-v100", "cpu-1")
        # The package this test imports (installed in run.py's venv, or the source tree's).
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(strata.__file__)))
        run = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(0, run.returncode, run.stderr)
        self.assertIn("Packed 2 files", run.stderr)  # train.py and .gitignore; scratch/ ignored
        saved = run.stdout.strip().split("Model saved to: ", 1)[1]
        with open(os.path.join(saved, "model.txt")) as f:
            self.assertEqual("trained on s3://data/train.csv", f.read())


class BuiltInTrainingTests(ServerTestCase):
    def test_train_deploy_predict(self):
        job = self.client.train(model="lightgbm", data=CHURN, label="churned", compute="cpu-1")
        self.assertEqual("churn", job.name)
        job.wait(timeout=180, poll_interval=0.5)
        self.assertEqual("churn@1", job.model_version)
        version = self.client.models.get("churn@1")
        self.assertEqual(1, version["version"])
        self.assertGreater(version["metrics"]["auc"], 0.7)
        self.client.models.set_alias("churn", "production", 1)
        self.assertEqual(1, self.client.models.get("churn", "production")["version"])

        deployed = self.client.deploy("churn@production", min_replicas=1, max_replicas=2)
        self.addCleanup(deployed.delete)
        deployed.wait_ready(timeout=120, poll_interval=0.5)
        self.assertTrue(deployed.endpoint.startswith(SERVER.url))
        one = deployed.predict(ONE_CUSTOMER)
        self.assertIn(one["prediction"]["predicted_label"], (True, False))
        self.assertEqual("1", str(one["version"]))
        both = deployed.predict([ONE_CUSTOMER, dict(ONE_CUSTOMER, tenure_months=70, contract="two-year")])
        self.assertEqual(2, len(both))
        self.assertEqual(["churn"], [d.name for d in self.client.deployments.list()])

        better = self.client.train(model="lightgbm", data=CHURN, label="churned", compute="cpu-1",
                                   hyperparameters={"num_leaves": 15, "learning_rate": 0.05})
        self.assertEqual("churn@2", better.wait(timeout=180, poll_interval=0.5).model_version)
        deployed.update(model="churn@2")
        self.assertEqual(2, deployed.wait_ready(timeout=120, poll_interval=0.5).model_version)
        deployed.rollback()
        self.assertEqual((1, 2), (deployed.model_version, deployed.data["previous_model_version"]))


class QuickstartTests(ServerTestCase):
    def test_the_quickstart_example_trains_deploys_and_predicts(self):
        script = os.path.join(REPO, "examples", "python", "quickstart.py")
        env = dict(os.environ, STRATA_API_URL=SERVER.url, STRATA_TOKEN=self.token,
                   PYTHONPATH=os.path.dirname(os.path.dirname(strata.__file__)))
        run = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(0, run.returncode, run.stdout + run.stderr)
        self.assertIn("Model: churn@1", run.stdout)
        self.assertIn("A batch: [", run.stdout)
        self.assertEqual([], list(self.client.deployments.list()))


class TypedErrorTests(ServerTestCase):
    def test_400_validation_names_the_field(self):
        with self.assertRaises(strata.ValidationError) as caught:
            self.client.train(name="x", entrypoint="true", priority=10_000)
        self.assertIn("priority", caught.exception.errors)
        self.assertTrue(caught.exception.trace_id)

    def test_404(self):
        with self.assertRaises(strata.NotFoundError) as caught:
            self.client.jobs.get("01a2511a-0000-7000-8000-000000000000")
        self.assertEqual("urn:strata:problem:not-found", caught.exception.type)

    def test_403(self):
        with self.assertRaises(strata.PermissionDeniedError) as caught:
            self.client.train(name="x", entrypoint="true", tenant_id="someone-else")
        self.assertEqual(403, caught.exception.status)

    def test_401(self):
        with self.assertRaises(strata.AuthenticationError):
            Client(api_url=SERVER.url, token="not-a-token", output=None).me()

    def test_429_rate_limited(self):
        token = SERVER.tenant(THROTTLED)
        impatient = Client(api_url=SERVER.url, token=token, output=None, retry=Retry(max_attempts=1))
        with self.assertRaises(strata.RateLimitedError) as caught:
            for _ in range(5):
                impatient.me()
        self.assertGreater(caught.exception.retry_after, 0)
        # The default policy waits for it, but not past its deadline.
        patient = Client(api_url=SERVER.url, token=token, output=None, retry=Retry(deadline=5))
        with self.assertRaises(strata.RateLimitedError):
            patient.me()

    def test_429_quota_exceeded_and_422_request_exceeds_quota(self):
        tenant = "q" + uuid.uuid4().hex[:8]
        client = Client(api_url=SERVER.url, token=SERVER.tenant(tenant, quota={"cpu_cores": 1}), output=None)
        with self.assertRaises(strata.RequestExceedsQuotaError) as caught:
            client.train(name="big", entrypoint="true", compute="cpu-2")  # this machine may have only 2 cores
        e = caught.exception
        self.assertEqual((422, "cpu_cores", 1, 2), (e.status, e.resource, e.limit, e.requested))
        running = client.train(name="holds-the-core", entrypoint="sleep 60", compute="cpu-1")
        self.addCleanup(self.ended, running)
        with self.assertRaises(strata.QuotaExceededError) as caught:
            client.train(name="one-more", entrypoint="true", compute="cpu-1")
        self.assertEqual((429, "cpu_cores"), (caught.exception.status, caught.exception.resource))

    def test_422_a_key_reused_with_another_body(self):
        key = str(uuid.uuid4())
        first = self.client.train(name="same-key", entrypoint="true", idempotency_key=key)
        self.addCleanup(self.ended, first)
        with self.assertRaises(strata.IdempotencyKeyReusedError) as caught:
            self.client.train(name="same-key-other-body", entrypoint="true", idempotency_key=key)
        self.assertEqual(422, caught.exception.status)
        self.assertTrue(caught.exception.type and caught.exception.trace_id)


class IdempotencyTests(ServerTestCase):
    def test_a_retry_with_the_same_key_gives_the_same_job(self):
        key = str(uuid.uuid4())
        first = self.client.train(name="once", entrypoint="true", idempotency_key=key)
        self.addCleanup(self.ended, first)
        again = self.client.train(name="once", entrypoint="true", idempotency_key=key)
        self.assertEqual(first.id, again.id)


class RecommendationTests(ServerTestCase):
    def test_a_recommendation_is_a_compute_that_train_takes(self):
        answer = self.client.recommend_compute(dataset_size_gb=2, model_params=5_000_000, framework="sklearn")
        self.assertIn(answer["kind"], ("shared", "dedicated", "distributed"))
        self.assertTrue(answer["reasons"])
        job = self.client.train(name="recommended", entrypoint="true", compute=answer["compute"])
        self.addCleanup(self.ended, job)
        self.assertEqual(answer["compute"]["cpu_cores"], job.data["spec"]["compute"]["cpu_cores"])
        with self.assertRaises(strata.ValidationError) as caught:
            self.client.recommend_compute(dataset_size_gb=-1, model_params=5)
        self.assertIn("dataset_size_gb", caught.exception.errors)


class StrataPyTests(ServerTestCase):
    def test_the_installed_command_logs_in_and_lists_jobs(self):
        command = os.path.join(os.path.dirname(sys.executable), "strata-py")
        if not os.path.isfile(command):
            self.skipTest("strata-py is installed only in tests/run.py's venv")
        job = self.client.train(name="listed", entrypoint="true")
        self.addCleanup(self.ended, job)
        home = tempfile.mkdtemp(prefix="strata-pysdk-home-")
        self.addCleanup(shutil.rmtree, home)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))
        login = subprocess.run([command, "login", SERVER.url, "--token", self.token], env=env, capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(0, login.returncode, login.stderr)
        self.assertTrue(os.path.isfile(os.path.join(home, ".config", "strata", "config.json")))
        listing = subprocess.run([command, "jobs", "list"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(0, listing.returncode, listing.stderr)
        self.assertIn(job.id, listing.stdout)


class CrossTenantTests(ServerTestCase):
    def test_another_tenants_job_model_and_deployment_are_not_found(self):
        job = self.client.train(name="mine", entrypoint="true")
        self.addCleanup(self.ended, job)
        other = Client(api_url=SERVER.url, token=SERVER.tenant("o" + uuid.uuid4().hex[:8]), output=None)
        with self.assertRaises(strata.NotFoundError):
            other.jobs.get(job.id)
        with self.assertRaises(strata.NotFoundError):
            list(strata.TrainingJob(other, {"id": job.id}).logs())
        with self.assertRaises(strata.NotFoundError):
            other.models.get("churn")
        with self.assertRaises(strata.NotFoundError):
            other.deployments.get("churn")
        self.assertNotIn(job.id, [j.id for j in other.jobs.list()])


class LogTests(ServerTestCase):
    def test_logs_follow_a_running_job_to_its_end(self):
        script = "import time\nfor i in range(6):\n    print('line', i, flush=True)\n    time.sleep(0.4)\n"
        job = self.client.train(name="chatty", code=self.project({"train.py": script}))
        while job.refresh().status == "pending":
            time.sleep(0.2)
        self.assertEqual("running", job.status)
        lines = list(job.logs(follow=True))
        self.assertEqual([f"line {i}" for i in range(6)], [line for line in lines if line.startswith("line")])
        self.assertEqual("succeeded", job.wait(timeout=60, poll_interval=0.2).status)


class InJobHelperTests(ServerTestCase):
    def test_a_job_logs_metrics_and_registers_its_model_with_strata_job(self):
        script = ("import os\nfrom strata import job\n"
                  "params = job.hyperparameters()\n"
                  "for step in range(1, params['epochs'] + 1):\n"
                  "    job.log_metric('loss', 1.0 / step, step=step)\n"
                  "path = os.path.join(job.output_path(), 'model.onnx')\n"
                  "open(path, 'wb').write(bytes([8, 7]))\n"  # starts as an ONNX ModelProto does
                  "job.register_model('pyjob', path, metrics={'loss': 1.0 / params['epochs']})\n"
                  "print('rank', job.rank(), 'of', job.world_size(), 'data', job.data_path('none'))\n")
        folder = self.project({"train.py": script})
        # The job's sandbox sees only its own code: the package travels with it.
        shutil.copytree(os.path.dirname(strata.__file__), os.path.join(folder, "strata"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        job = self.client.train(name="pyjob", code=folder, hyperparameters={"epochs": 3})
        job.wait(timeout=120, poll_interval=0.3)
        points = job.metrics("loss")
        self.assertEqual([(1, 1.0), (2, 0.5), (3, 1 / 3)], [(p["step"], p["value"]) for p in points])
        version = self.client.models.get("pyjob", 1)
        self.assertEqual(job.id, version["lineage"]["job_id"])
        self.assertAlmostEqual(1 / 3, version["metrics"]["loss"])
        self.assertIn("rank 0 of 1 data none", list(job.logs()))


if __name__ == "__main__":
    unittest.main()
