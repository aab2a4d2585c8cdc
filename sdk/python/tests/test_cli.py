"""strata-py: login and jobs list."""
import contextlib
import io
import json
import os
import unittest
from unittest import mock

from strata import cli
from fake_api import FakeApi, temporary_folder


class CliTests(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.close)
        self.config = os.path.join(temporary_folder(self), "config.json")
        patcher = mock.patch.dict(os.environ, {"STRATA_CONFIG": self.config}, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def test_login_checks_the_token_and_saves_the_clis_config(self):
        self.api.on("GET", "/v1/me", (200, {"subject": "ada", "tenant_id": "acme", "role": "owner"}))
        code, out, _ = self.run_cli("login", self.api.url, "--token", "tok")
        self.assertEqual(0, code)
        self.assertIn("as ada (tenant acme)", out)
        with open(self.config) as f:
            self.assertEqual({"server": self.api.url, "token": "tok"}, json.load(f)["contexts"]["default"])
        self.assertEqual("Bearer tok", self.api.sent()[0].headers["authorization"])

    def test_a_bad_token_is_not_saved(self):
        self.api.on("GET", "/v1/me", (401, {"type": "urn:strata:problem:unauthenticated", "detail": "bad token"}))
        code, _, err = self.run_cli("login", self.api.url, "--token", "nope")
        self.assertEqual(1, code)
        self.assertIn("bad token", err)
        self.assertFalse(os.path.exists(self.config))

    def test_jobs_list_uses_the_saved_login_and_every_page(self):
        with open(self.config, "w") as f:
            json.dump({"url": self.api.url, "token": "saved"}, f)
        job = {"id": "j1", "status": "running", "spec": {"name": "churn"}, "created_at": "2026-01-01T00:00:00Z"}
        self.api.on("GET", "/v1/jobs/training", (200, [job], {"Link": '</v1/jobs/training?status=running&page_token=2>; rel="next"'}),
                    (200, [dict(job, id="j2")], {}))
        code, out, _ = self.run_cli("jobs", "list", "--status", "running")
        self.assertEqual(0, code)
        self.assertIn("j1", out)
        self.assertIn("j2", out)
        self.assertIn("status=running", self.api.sent()[0].path)
        self.assertEqual("Bearer saved", self.api.sent()[0].headers["authorization"])


if __name__ == "__main__":
    unittest.main()
