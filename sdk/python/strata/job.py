"""Helpers for code that runs inside a Strata job.

The platform hands a job its contract as environment variables (docs/artifacts.md, docs/tracking.md,
docs/distributed.md): ``DATA_PATH``, ``MODEL_OUTPUT_PATH``, ``HYPERPARAM_<NAME>``,
``STRATA_CHECKPOINT_DIR``, ``RANK``/``WORLD_SIZE``, and ``STRATA_API_URL``, ``STRATA_JOB_ID`` and
``STRATA_JOB_TOKEN`` for the API. These functions read them, so a script runs unchanged on a laptop
(where they fall back to defaults) and in a job::

    from strata import job

    params = job.hyperparameters()
    for epoch in range(params.get("epochs", 10)):
        job.log_metric("loss", loss, step=epoch)
    job.register_model("churn", os.path.join(job.output_path(), "model.onnx"))
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote

from . import errors
from ._http import Retry, Transport

_METRIC_PREFIX = "STRATA_METRIC "


def _env(environ: Optional[Mapping[str, str]]) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def in_job(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this process runs as a Strata job (``STRATA_JOB_ID`` is set)."""
    return bool(_env(environ).get("STRATA_JOB_ID"))


def job_id(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The job's id, or None outside a job."""
    return _env(environ).get("STRATA_JOB_ID") or None


def _api(environ: Optional[Mapping[str, str]]) -> Optional[Transport]:
    env = _env(environ)
    url, token, job = env.get("STRATA_API_URL"), env.get("STRATA_JOB_TOKEN"), env.get("STRATA_JOB_ID")
    if not (url and token and job):
        return None
    # A metric is not worth stalling training for: one try, then the log line.
    return Transport(url, token, timeout=10.0, retry=Retry(max_attempts=1))


def log_metric(name: str, value: float, step: Optional[int] = None, *,
               environ: Optional[Mapping[str, str]] = None) -> None:
    """Records a metric point of this job.

    Through the API with the job's token when the job has one; otherwise (no API, or it cannot be
    reached or refuses the point) as a ``STRATA_METRIC {...}`` line on standard output, which the
    platform reads from the job's log. Both land in the same history (docs/tracking.md). Outside a
    job it prints the line.
    """
    point: Dict[str, Any] = {"name": name, "value": float(value)}
    if step is not None:
        point["step"] = int(step)
    api = _api(environ)
    if api is not None:
        try:
            api.request("POST", f"/v1/jobs/training/{quote(_env(environ)['STRATA_JOB_ID'], safe='')}/metrics", json_body=[point])
            return
        except errors.StrataError as e:
            # Metrics must never stop training: the log line reaches the platform another way.
            print(f"strata: metric not posted ({e}); printed instead", file=sys.stderr, flush=True)
    print(_METRIC_PREFIX + json.dumps(point), flush=True)


def hyperparameters(environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The job's hyperparameters from ``HYPERPARAM_<NAME>``, typed: names lowercased; numbers, booleans,
    lists and objects parsed as JSON; anything else a string."""
    values: Dict[str, Any] = {}
    for key, raw in _env(environ).items():
        if key.startswith("HYPERPARAM_") and len(key) > len("HYPERPARAM_"):
            values[key[len("HYPERPARAM_"):].lower()] = _typed(raw)
    return values


def _typed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def data_path(default: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Where the job's data is (``DATA_PATH``), or ``default``."""
    return _env(environ).get("DATA_PATH") or default


def output_path(default: str = "output", environ: Optional[Mapping[str, str]] = None) -> str:
    """The folder to write the model to (``MODEL_OUTPUT_PATH``, else ``default``); created if missing."""
    path = _env(environ).get("MODEL_OUTPUT_PATH") or default
    os.makedirs(path, exist_ok=True)
    return path


def checkpoint_dir(default: str = "checkpoints", environ: Optional[Mapping[str, str]] = None) -> str:
    """The folder kept across the attempts of a job (``STRATA_CHECKPOINT_DIR``, else ``default``); created if missing.

    Save checkpoints here and resume from the newest at start: a retried or preempted attempt finds them.
    """
    path = _env(environ).get("STRATA_CHECKPOINT_DIR") or default
    os.makedirs(path, exist_ok=True)
    return path


def rank(environ: Optional[Mapping[str, str]] = None) -> int:
    """This process's rank in a distributed job (``RANK``; 0 when not distributed)."""
    return int(_env(environ).get("RANK") or 0)


def world_size(environ: Optional[Mapping[str, str]] = None) -> int:
    """How many processes a distributed job has (``WORLD_SIZE``; 1 when not distributed)."""
    return int(_env(environ).get("WORLD_SIZE") or 1)


def register_model(name: str, path: str, *, format: Optional[str] = None, metrics: Optional[Dict[str, float]] = None,
                   input_schema: Optional[Dict[str, Any]] = None, description: Optional[str] = None,
                   environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Registers the model file at ``path`` as the next version of model ``name``, with this job as its lineage.

    ``format`` (``onnx`` or ``mlnet``) defaults from the extension. Without ``metrics`` the version
    takes the job's latest tracked metrics. Returns the version (``model_name``, ``version``, ...).

    Raises:
        RuntimeError: not inside a job with API access (``STRATA_API_URL``/``STRATA_JOB_TOKEN``).
        ValidationError, PermissionDeniedError: as the API answers.
    """
    api = _api(environ)
    if api is None:
        raise RuntimeError("register_model needs a job's API access (STRATA_API_URL, STRATA_JOB_ID and "
                           "STRATA_JOB_TOKEN); outside a job use Client().models.register")
    body = {"path": os.path.abspath(path), "format": format, "metrics": metrics, "input_schema": input_schema,
            "description": description}
    answer = api.request("POST", f"/v1/models/{quote(name, safe='')}/versions",
                         json_body={k: v for k, v in body.items() if v is not None})
    version = answer.json()
    print(f"registered {version.get('model_name')}@{version.get('version')}", file=sys.stderr, flush=True)
    return version
