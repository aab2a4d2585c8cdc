"""Where Client() finds its server and token."""
import json
import os
import stat
import unittest

from strata import config

from fake_api import temporary_folder


class ConfigTests(unittest.TestCase):
    def setUp(self):
        self.folder = temporary_folder(self)
        self.path = os.path.join(self.folder, "strata", "config.json")

    def test_arguments_then_environment_then_config_file(self):
        config.save_config("http://saved:1", "saved-token", self.path)
        env = {"STRATA_CONFIG": self.path}
        self.assertEqual(("http://saved:1", "saved-token"), config.resolve(None, None, env))
        env.update(STRATA_API_URL="http://env:2", STRATA_TOKEN="env-token")
        self.assertEqual(("http://env:2", "env-token"), config.resolve(None, None, env))
        self.assertEqual(("http://arg:3", "arg-token"), config.resolve("http://arg:3", "arg-token", env))

    def test_inside_a_job_the_job_token(self):
        env = {"STRATA_API_URL": "http://api:8080", "STRATA_JOB_TOKEN": "job", "STRATA_CONFIG": self.path}
        self.assertEqual(("http://api:8080", "job"), config.resolve(None, None, env))

    def test_the_cli_config_location(self):
        self.assertEqual("/x/strata/config.json", config.config_path({"XDG_CONFIG_HOME": "/x"}))
        self.assertEqual("/home/u/.config/strata/config.json", config.config_path({"HOME": "/home/u"}))

    def test_the_saved_file_is_the_owners_only(self):
        config.save_config("http://h:1", "t", self.path)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.path).st_mode))
        with open(self.path) as f:
            self.assertEqual({"url": "http://h:1", "token": "t"}, json.load(f))

    def test_a_broken_file_says_so(self):
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            f.write("{nope")
        with self.assertRaises(ValueError) as caught:
            config.load_config(self.path)
        self.assertIn(self.path, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
