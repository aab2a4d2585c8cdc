"""Where the SDK finds the server and the token when they are not given.

In order: the arguments; ``STRATA_API_URL`` (or the CLI's ``STRATA_URL``) and ``STRATA_TOKEN``;
inside a job, ``STRATA_JOB_TOKEN`` (the platform sets it with ``STRATA_API_URL``); then the CLI's
config file, which ``strata login`` and ``strata-py login`` write: ``$STRATA_CONFIG``, else
``$XDG_CONFIG_HOME/strata/config.json``, else ``~/.config/strata/config.json``.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Mapping, Optional, Tuple

DEFAULT_URL = "http://localhost:8080"


def config_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """The CLI's config file path for this environment."""
    env = os.environ if environ is None else environ
    if env.get("STRATA_CONFIG"):
        return os.path.abspath(env["STRATA_CONFIG"])
    home = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(home, "strata", "config.json")


def load_config(path: Optional[str] = None) -> Tuple[Optional[str], Optional[str]]:
    """The saved ``(url, token)``; ``(None, None)`` when there is no file. ValueError if it is not JSON."""
    path = path or config_path()
    if not os.path.isfile(path):
        return None, None
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f"the config file {path} is not valid JSON ({e}); fix it or log in again") from e
    return data.get("url") or None, data.get("token") or None


def save_config(url: str, token: Optional[str], path: Optional[str] = None) -> str:
    """Writes the config file readable by its owner only (0600, folder 0700), atomically; returns its path."""
    path = path or config_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    body = {"url": url}
    if token:
        body["token"] = token
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".config-", suffix=".tmp")  # created 0600
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=2)
    os.replace(temporary, path)
    return path


def resolve(api_url: Optional[str], token: Optional[str],
            environ: Optional[Mapping[str, str]] = None) -> Tuple[str, Optional[str]]:
    """The ``(url, token)`` a :class:`~strata.Client` uses, in the order the module describes."""
    env = os.environ if environ is None else environ
    saved_url, saved_token = (None, None)
    if not (api_url or env.get("STRATA_API_URL") or env.get("STRATA_URL")) or not (
            token or env.get("STRATA_TOKEN") or env.get("STRATA_JOB_TOKEN")):
        saved_url, saved_token = load_config(config_path(env))
    url = api_url or env.get("STRATA_API_URL") or env.get("STRATA_URL") or saved_url or DEFAULT_URL
    chosen = token or env.get("STRATA_TOKEN") or env.get("STRATA_JOB_TOKEN") or saved_token
    return url, chosen
