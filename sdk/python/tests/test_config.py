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
            self.assertEqual({"current_context": "default", "contexts": {"default": {"server": "http://h:1", "token": "t"}}}, json.load(f))

    def test_the_clis_contexts_the_current_one_or_strata_contexts(self):
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            json.dump({"current_context": "local", "contexts": {
                "local": {"server": "http://local:1", "token": "l"}, "prod": {"server": "https://prod:2", "token": "p"}}}, f)
        self.assertEqual(("http://local:1", "l"), config.resolve(None, None, {"STRATA_CONFIG": self.path}))
        self.assertEqual(("https://prod:2", "p"), config.resolve(None, None, {"STRATA_CONFIG": self.path, "STRATA_CONTEXT": "prod"}))
        # Logging in again changes the current context alone.
        config.save_config("http://local:3", "l2", self.path)
        with open(self.path) as f:
            saved = json.load(f)
        self.assertEqual({"server": "http://local:3", "token": "l2"}, saved["contexts"]["local"])
        self.assertEqual({"server": "https://prod:2", "token": "p"}, saved["contexts"]["prod"])

    def test_a_file_of_the_format_before_contexts_is_read_and_rewritten_as_the_context_default(self):
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            json.dump({"url": "http://old:1", "token": "o"}, f)
        self.assertEqual(("http://old:1", "o"), config.load_config(self.path, {}))
        config.save_config("http://old:1", "o2", self.path)
        with open(self.path) as f:
            self.assertEqual({"current_context": "default", "contexts": {"default": {"server": "http://old:1", "token": "o2"}}}, json.load(f))

    def test_a_broken_file_says_so(self):
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            f.write("{nope")
        with self.assertRaises(ValueError) as caught:
            config.load_config(self.path)
        self.assertIn(self.path, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
