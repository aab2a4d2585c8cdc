"""Where the SDK finds the server and the token when they are not given.

In order: the arguments; ``STRATA_API_URL`` (or the CLI's ``STRATA_URL``) and ``STRATA_TOKEN``;
inside a job, ``STRATA_JOB_TOKEN`` (the platform sets it with ``STRATA_API_URL``); then the CLI's
config file, which ``strata login`` and ``strata-py login`` write: ``$STRATA_CONFIG``, else
``$XDG_CONFIG_HOME/strata/config.json``, else ``~/.config/strata/config.json``. The file holds named
contexts, as the CLI's ``strata config`` shows them (``{"current_context": "default", "contexts":
{"default": {"server": ..., "token": ...}}}``); the SDK uses ``STRATA_CONTEXT``'s, else the current one. A
file of the format before contexts (``{"url": ..., "token": ...}``) is read as it is.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Mapping, Optional, Tuple

DEFAULT_URL = "http://localhost:8080"
DEFAULT_CONTEXT = "default"


def config_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """The CLI's config file path for this environment."""
    env = os.environ if environ is None else environ
    if env.get("STRATA_CONFIG"):
        return os.path.abspath(env["STRATA_CONFIG"])
    home = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(home, "strata", "config.json")


def _read(path: str) -> dict:
    """The file's contexts, an old single-server file turned into the context ``default``; {} when there is none."""
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f"the config file {path} is not valid JSON ({e}); fix it or log in again") from e
    if "contexts" not in data and ("url" in data or "token" in data):
        old = {key: value for key, value in (("server", data.get("url")), ("token", data.get("token"))) if value}
        return {"current_context": DEFAULT_CONTEXT, "contexts": {DEFAULT_CONTEXT: old}}
    return data


def load_config(path: Optional[str] = None,
                environ: Optional[Mapping[str, str]] = None) -> Tuple[Optional[str], Optional[str]]:
    """The saved ``(url, token)`` of ``STRATA_CONTEXT``'s context, else the current one; ``(None, None)`` when
    there is none. ValueError if the file is not JSON."""
    env = os.environ if environ is None else environ
    data = _read(path or config_path(env))
    name = env.get("STRATA_CONTEXT") or data.get("current_context")
    context = (data.get("contexts") or {}).get(name) or {}
    return context.get("server") or None, context.get("token") or None


def save_config(url: str, token: Optional[str], path: Optional[str] = None) -> str:
    """Saves the server and token in the current context (``default`` when there is none), keeping the other
    contexts; readable by its owner only (0600, folder 0700), written atomically. Returns the file's path."""
    path = path or config_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    body = _read(path)
    name = body.get("current_context") or DEFAULT_CONTEXT
    context = {"server": url}
    if token:
        context["token"] = token
    body["current_context"] = name
    body["contexts"] = dict(body.get("contexts") or {}, **{name: context})
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
        saved_url, saved_token = load_config(config_path(env), env)
    url = api_url or env.get("STRATA_API_URL") or env.get("STRATA_URL") or saved_url or DEFAULT_URL
    chosen = token or env.get("STRATA_TOKEN") or env.get("STRATA_JOB_TOKEN") or saved_token
    return url, chosen
