"""The Strata client: :class:`Client` and the resources it returns."""
from __future__ import annotations

import datetime
import http.client as http_client
import os
import re
import sys
import tarfile
import tempfile
import time
import urllib.parse
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, TextIO, Union

from . import compute as _compute
from . import config as _config
from . import errors, packing
from ._http import Retry, Transport

#: The script a folder must hold to be packed and run without ``code`` or ``entrypoint`` (as ``strata run``).
CONVENTIONAL_SCRIPT = "train.py"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

ComputeLike = Union[None, str, _compute.Compute, Dict[str, Any]]
Json = Dict[str, Any]

# The job spec's fields, which train() also takes by their own names.
_SPEC_FIELDS = frozenset({"name", "tenant_id", "docker_image", "entrypoint", "code_repo", "code_commit", "code_artifact",
                          "data_path", "compute", "hyperparameters", "env_vars", "model_output_path", "model", "label",
                          "task", "priority", "distributed", "retry", "timeout_seconds", "on_quota_exceeded",
                          "environment"})


def _scaling(mode: Optional[str], target_in_flight: Optional[float], target_cpu_percent: Optional[int]) -> Optional[Json]:
    """The ``scaling`` object of a deployment's body with only the fields given; None when none is."""
    given = {"mode": mode, "target_in_flight": target_in_flight, "target_cpu_percent": target_cpu_percent}
    return {k: v for k, v in given.items() if v is not None} or None


def _quote(segment: str) -> str:
    return urllib.parse.quote(str(segment), safe="")


class Client:
    """A connection to a Strata server with one token. Thread-safe; nothing to close.

    Args:
        api_url: the server's URL (without ``/v1``). Default: see :mod:`strata.config`.
        token: the bearer token. Default: see :mod:`strata.config`.
        timeout: seconds each request may wait for the server (every method also takes ``timeout=``).
        retry: the retry policy (:class:`~strata.Retry`); ``Retry(max_attempts=1)`` turns retries off.
        output: where progress lines go ("Uploaded ...", "Packed ..."): a stream, ``"stderr"`` (the
            default: whatever ``sys.stderr`` is when a line is written, as in a notebook) or None (silent).

    Example::

        client = Client(api_url="http://localhost:8080", token="...")
        job = client.train(name="my-model", data="churn.csv", compute="cpu-2")
        job.wait()
    """

    def __init__(self, api_url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = 30.0,
                 retry: Optional[Retry] = None, output: Union[None, str, TextIO] = "stderr") -> None:
        url, chosen = _config.resolve(api_url, token)
        self._http = Transport(url, chosen, timeout=timeout, retry=retry)
        self._output = output
        #: Training jobs of the tenant.
        self.jobs = Jobs(self)
        #: The tenant's model registry.
        self.models = Models(self)
        #: The tenant's deployments.
        self.deployments = Deployments(self)
        #: Uploaded files and archives.
        self.artifacts = Artifacts(self)

    @property
    def api_url(self) -> str:
        """The server's URL."""
        return self._http.base_url

    def _say(self, line: str) -> None:
        if self._output == "stderr":
            print(line, file=sys.stderr, flush=True)
        elif self._output is not None and not isinstance(self._output, str):
            print(line, file=self._output, flush=True)

    # --- training ---------------------------------------------------------------------------------

    def train(self, name: Optional[str] = None, *, image: Optional[str] = None, data: Optional[str] = None,
              compute: ComputeLike = None, code: Optional[str] = None, entrypoint: Optional[str] = None,
              model: Optional[str] = None, label: Optional[str] = None, task: Optional[str] = None,
              hyperparameters: Optional[Dict[str, Any]] = None, env: Optional[Dict[str, str]] = None,
              output_path: Optional[str] = None, workers: Optional[int] = None, retry: Optional[Dict[str, Any]] = None,
              timeout_seconds: Optional[int] = None, priority: Optional[int] = None,
              on_quota_exceeded: Optional[str] = None, idempotency_key: Optional[str] = None,
              timeout: Optional[float] = None, **spec_fields: Any) -> "TrainingJob":
        """Submits a training job and returns it (without waiting).

        Every field of the job spec is a keyword: the friendly names here (``image`` is
        ``docker_image``, ``data`` is ``data_path``, ``output_path`` is ``model_output_path``, ``env``
        is ``env_vars``, ``workers`` is ``distributed.num_workers``) or the spec's own names
        (``code_repo=``, ``code_artifact=``, ``tenant_id=``...).

        - ``compute``: a shorthand (``cpu-4``, ``cpu-4-16gb``, ``gpu-1x-v100``), a :class:`Compute` or a dict.
        - ``data``/``code``: a local file or folder is uploaded first (a folder as a tar.gz); a URI
          (``s3://``, ``artifact://``) or a server-side path is passed as it is.
        - With no ``code``, ``code_repo``, ``entrypoint`` or ``model``, and a ``train.py`` in the working
          folder, that folder is packed as ``strata run`` packs it (``.gitignore``, ``.strataignore``,
          never ``.git/``, links skipped), uploaded, and ``python train.py`` runs in a copy of it.
        - ``model``: a built-in trainer (``lightgbm``, ``fasttree``, ``logistic_regression``,
          ``linear_regression``) with ``label`` and ``data``.
        - ``environment``: the job's Python (docs/environments.md), e.g. ``{"requirements": ["pandas"]}``. A packed
          folder with a ``requirements.txt`` at its top gets ``{"requirements": "requirements.txt"}`` unless
          ``environment`` is given (``environment={}`` for none), as ``strata run`` does.

        The submission carries an ``Idempotency-Key`` (a new one per call unless given), so it is
        retried safely and never creates two jobs.

        Raises:
            ValidationError, QuotaExceededError, ConflictError, PermissionDeniedError, ...
        """
        spec: Json = {}
        for key, value in spec_fields.items():
            if key not in _SPEC_FIELDS:
                raise TypeError(f"train() got an unexpected keyword {key!r}")
            spec[key] = value
        given = {"name": name, "docker_image": image, "data_path": data, "entrypoint": entrypoint, "model": model,
                 "label": label, "task": task, "hyperparameters": hyperparameters, "env_vars": env,
                 "model_output_path": output_path, "retry": retry, "timeout_seconds": timeout_seconds,
                 "priority": priority, "on_quota_exceeded": on_quota_exceeded}
        spec.update({k: v for k, v in given.items() if v is not None})
        if compute is not None:
            spec["compute"] = _compute.to_spec(compute)
        elif isinstance(spec.get("compute"), (str, _compute.Compute)):
            spec["compute"] = _compute.to_spec(spec["compute"])
        if workers is not None:
            spec["distributed"] = {"num_workers": workers}

        folder: Optional[str] = None
        if code is not None:
            if "://" in code:
                spec["code_artifact"] = code
            elif os.path.isdir(code):
                folder = code
            elif os.path.isfile(code):
                spec["code_artifact"] = self.artifacts.upload(code, kind="archive" if _is_archive(code) else None,
                                                              timeout=timeout)["uri"]
            else:
                raise ValueError(f"code {code!r} is neither a folder, a file nor a URI")
        elif not any(spec.get(k) for k in ("code_artifact", "code_repo", "entrypoint", "model")) \
                and os.path.isfile(CONVENTIONAL_SCRIPT):
            folder = os.getcwd()

        if not spec.get("name"):
            if spec.get("model") and isinstance(spec.get("data_path"), str) and "://" not in spec["data_path"]:
                spec["name"] = _label(os.path.splitext(os.path.basename(spec["data_path"].rstrip("/")))[0], suffix=False)
            else:
                spec["name"] = _label(os.path.basename(os.path.abspath(folder or os.getcwd())), suffix=True)
        if folder is not None:
            if not spec.get("entrypoint") and not os.path.isfile(os.path.join(folder, CONVENTIONAL_SCRIPT)):
                raise ValueError(f"{os.path.abspath(folder)} has no {CONVENTIONAL_SCRIPT}; add one or pass entrypoint=")
            spec["code_artifact"] = self._pack_and_upload(folder, spec["name"], timeout)
            if "environment" not in spec and os.path.isfile(os.path.join(folder, "requirements.txt")):
                self._say("Using requirements.txt for the job's Python environment (environment={} skips it)")
                spec["environment"] = {"requirements": "requirements.txt"}
            elif spec.get("environment") == {}:
                del spec["environment"]
        if isinstance(spec.get("data_path"), str):
            spec["data_path"] = self._upload_if_local(spec["data_path"], timeout)

        answer = self._http.request("POST", "/v1/jobs/training", json_body=spec,
                                    idempotency_key=idempotency_key or str(uuid.uuid4()), timeout=timeout)
        return TrainingJob(self, answer.json())

    def _pack_and_upload(self, folder: str, job_name: str, timeout: Optional[float]) -> str:
        packed = packing.pack(folder)
        try:
            self._say(f"Packed {packed.files} files ({_bytes(packed.bytes)}) from {os.path.abspath(folder)}")
            for link in packed.skipped_links:
                self._say(f"Skipped the symbolic link {link} (links are not packed)")
            return self.artifacts.upload(packed.archive_path, name=job_name + ".tar.gz", kind="archive",
                                         timeout=timeout)["uri"]
        finally:
            os.remove(packed.archive_path)

    def _upload_if_local(self, path: str, timeout: Optional[float]) -> str:
        """A local file or folder is uploaded (a folder as a tar.gz) and becomes its ``artifact://`` URI."""
        if not path or "://" in path:
            return path
        if os.path.isfile(path):
            return self.artifacts.upload(path, timeout=timeout)["uri"]
        if os.path.isdir(path):
            handle, archive = tempfile.mkstemp(prefix="strata-data-", suffix=".tar.gz")
            os.close(handle)
            try:
                with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
                    for entry in sorted(os.listdir(path)):
                        tar.add(os.path.join(path, entry), arcname=entry)
                name = (os.path.basename(os.path.abspath(path)) or "data") + ".tar.gz"
                return self.artifacts.upload(archive, name=name, kind="archive", timeout=timeout)["uri"]
            finally:
                os.remove(archive)
        return path

    def job(self, job_id: str) -> "TrainingJob":
        """The job with this id (read now)."""
        return self.jobs.get(job_id)

    # --- serving ----------------------------------------------------------------------------------

    def deploy(self, model: str, name: Optional[str] = None, *, min_replicas: Optional[int] = None,
               max_replicas: Optional[int] = None, cpu_cores: Optional[float] = None, memory_gb: Optional[float] = None,
               target_in_flight: Optional[float] = None, scaling_mode: Optional[str] = None,
               target_cpu_percent: Optional[int] = None, canary: Optional[Dict[str, Any]] = None,
               idempotency_key: Optional[str] = None, timeout: Optional[float] = None) -> "DeployedModel":
        """Deploys a registered model (``churn@1``, ``churn@production``, ``churn``) as a prediction endpoint.

        ``name`` defaults to the model's name. ``scaling_mode`` is ``in_flight`` (the default: the platform's
        autoscaler aims at ``target_in_flight`` requests per replica) or ``cpu`` (a HorizontalPodAutoscaler aims
        at ``target_cpu_percent``, 70 by default; the Kubernetes runtime only). The creation carries an
        ``Idempotency-Key``, so it is retried safely. Call :meth:`DeployedModel.wait_ready` before predicting.
        """
        body: Json = {"name": name or model.split("@", 1)[0], "model": model}
        if min_replicas is not None:
            body["min_replicas"] = min_replicas
        if max_replicas is not None:
            body["max_replicas"] = max_replicas
        resources = {k: v for k, v in {"cpu_cores": cpu_cores, "memory_gb": memory_gb}.items() if v is not None}
        if resources:
            body["compute"] = resources
        scaling = _scaling(scaling_mode, target_in_flight, target_cpu_percent)
        if scaling:
            body["scaling"] = scaling
        if canary is not None:
            body["canary"] = canary
        answer = self._http.request("POST", "/v1/deployments", json_body=body,
                                    idempotency_key=idempotency_key or str(uuid.uuid4()), timeout=timeout)
        return DeployedModel(self, answer.json())

    # --- the tenant -------------------------------------------------------------------------------

    def quota(self, *, timeout: Optional[float] = None) -> Json:
        """The tenant's quota: limit, used and pending per resource (``GET /v1/quota``)."""
        return self._http.get("/v1/quota", timeout=timeout)

    def usage(self, from_: Union[None, str, datetime.datetime] = None, to: Union[None, str, datetime.datetime] = None,
              *, timeout: Optional[float] = None) -> Json:
        """The tenant's usage and its price between two times (``GET /v1/usage``); datetimes or ISO 8601 strings."""
        return self._http.get("/v1/usage", params={"from": _iso(from_), "to": _iso(to)}, timeout=timeout)

    def recommend_compute(self, dataset_size_gb: float, model_params: int, framework: Optional[str] = None,
                          *, timeout: Optional[float] = None) -> Json:
        """Which compute a workload should ask for (``POST /v1/recommendations/compute``).

        The answer's ``kind`` is ``shared``, ``dedicated`` or ``distributed``; its ``compute`` (and
        ``distributed``) can be passed to :meth:`train` as they are, and ``reasons`` say why, refined by the
        tenant's similar jobs (docs/recommendations.md).
        """
        body: Dict[str, Any] = {"dataset_size_gb": dataset_size_gb, "model_params": model_params}
        if framework is not None:
            body["framework"] = framework
        # It changes nothing, so it is retried like a read.
        return self._http.request("POST", "/v1/recommendations/compute", json_body=body, safe=True, timeout=timeout).json()

    def me(self, *, timeout: Optional[float] = None) -> Json:
        """Who the token belongs to (``GET /v1/me``)."""
        return self._http.get("/v1/me", timeout=timeout)

    def health(self, *, timeout: Optional[float] = None) -> Json:
        """The server's health (``GET /v1/health``)."""
        return self._http.get("/v1/health", timeout=timeout)


class Jobs:
    """Training jobs of the tenant (``client.jobs``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, job_id: str, *, timeout: Optional[float] = None) -> "TrainingJob":
        """One job, by its id, a unique prefix of its id (4+ characters) or its name (docs/tracking.md).

        NotFoundError when the tenant has no such job; AmbiguousReferenceError, listing the candidates, when a
        prefix or a name names several. The job returned is then followed by its full id.
        """
        return TrainingJob(self._client, self._client._http.get(f"/v1/jobs/training/{_quote(job_id)}", timeout=timeout))

    def list(self, status: Optional[str] = None, *, page_size: Optional[int] = None,
             timeout: Optional[float] = None) -> Iterator["TrainingJob"]:
        """Every job (of one ``status``: pending, running, succeeded, failed, cancelled), newest first, page by page."""
        params = {"status": status, "limit": page_size}
        for item in self._client._http.paginate("/v1/jobs/training", params, timeout=timeout):
            yield TrainingJob(self._client, item)


class TrainingJob:
    """A training job. ``status`` and the other properties are as last read; :meth:`refresh` reads again."""

    def __init__(self, client: Client, data: Json) -> None:
        self._client = client
        #: The job resource as the server last answered it.
        self.data: Json = data

    def __repr__(self) -> str:
        return f"TrainingJob(id={self.id!r}, name={self.name!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        """The job's id."""
        return str(self.data["id"])

    @property
    def name(self) -> Optional[str]:
        """The job's name."""
        return (self.data.get("spec") or {}).get("name")

    @property
    def status(self) -> str:
        """``pending``, ``running``, ``succeeded``, ``failed``, ``cancelling`` or ``cancelled``."""
        return str(self.data.get("status"))

    @property
    def status_reason(self) -> Optional[str]:
        """Why it is in its status (``waiting_for_quota``, ``out_of_memory``...)."""
        return self.data.get("status_reason")

    @property
    def error_message(self) -> Optional[str]:
        """What went wrong, when it failed."""
        return self.data.get("error_message")

    @property
    def output_path(self) -> Optional[str]:
        """Where the job writes its model (``MODEL_OUTPUT_PATH``)."""
        return (self.data.get("spec") or {}).get("model_output_path")

    @property
    def model_version(self) -> Optional[str]:
        """The model version it registered, as ``name@version`` (built-in trainers), else None."""
        return (self.data.get("output") or {}).get("model_version")

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    def refresh(self, *, timeout: Optional[float] = None) -> "TrainingJob":
        """Reads the job again; returns itself."""
        self.data = self._client._http.get(f"/v1/jobs/training/{_quote(self.id)}", timeout=timeout)
        return self

    def wait(self, timeout: Optional[float] = None, *, poll_interval: float = 2.0,
             on_change: Optional[Callable[["TrainingJob"], None]] = None) -> "TrainingJob":
        """Waits until the job ends; returns itself when it succeeded.

        Raises:
            JobFailedError: it failed or was cancelled (with ``status_reason`` and ``error_message``).
            WaitTimeoutError: ``timeout`` seconds passed first (the job goes on).
        """
        ends = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            self.refresh()
            state = (self.status, self.status_reason, self.data.get("attempts"))
            if on_change is not None and state != last:
                on_change(self)
            last = state
            if self.done:
                if self.status != "succeeded":
                    raise errors.JobFailedError(self.id, self.status, self.status_reason, self.error_message)
                return self
            if ends is not None and time.monotonic() + poll_interval > ends:
                raise errors.WaitTimeoutError(f"job {self.id} did not end within {timeout:g} s; it is {self.status}")
            time.sleep(poll_interval)

    def logs(self, follow: bool = False, *, tail: Optional[int] = None, attempt: Optional[int] = None,
             rank: Optional[str] = None, timeout: Optional[float] = None) -> Iterator[str]:
        """The job's output line by line (without line ends). With ``follow``, lines as they come, until the attempt ends.

        A followed stream that breaks (a server restart) is opened again and resumes after the last line
        it gave, so no line is given twice; without ``tail``, the attempt is pinned for that. ``timeout``
        bounds each wait for data (default: the client's; none when following).
        """
        http = self._client._http
        read_timeout = timeout if timeout is not None else (None if follow else http.timeout)
        resumable = follow and tail is None
        if resumable and attempt is None:
            # Pinned, so that a reconnect reads the same attempt's log from its start again.
            attempt = max(1, int(self.refresh().data.get("attempts") or 0))
        given = 0
        reconnects = 0
        while True:
            params = {"follow": follow, "tail": tail, "attempt": attempt, "rank": rank}
            answer = http.open("GET", f"/v1/jobs/training/{_quote(self.id)}/logs", params=params,
                               timeout=read_timeout, headers={"Accept": "text/plain"})
            skip = given
            partial = b""
            try:
                with answer:
                    for raw in answer:
                        if not raw.endswith(b"\n"):
                            partial = raw  # given only at the end: a broken stream sends it again
                            continue
                        if skip:
                            skip -= 1
                            continue
                        given += 1
                        yield raw.decode("utf-8", "replace").rstrip("\r\n")
                    if getattr(answer, "length", None):  # the connection closed before the announced length
                        raise http_client.IncompleteRead(partial, answer.length)
                if partial and not skip:
                    yield partial.decode("utf-8", "replace").rstrip("\r")
                return
            except (OSError, http_client.HTTPException) as e:
                if not resumable or reconnects + 1 >= http.retry.max_attempts:
                    raise errors.StrataConnectionError(answer.url, f"the log stream broke off: {e}") from e
                reconnects += 1
                http._sleep(http._random(0.0, min(http.retry.max_backoff, http.retry.backoff * 2 ** reconnects)))

    def metrics(self, name: Optional[str] = None, *, timeout: Optional[float] = None) -> List[Json]:
        """Every metric point (``name``, ``value``, ``step``, ``time``) in the order recorded, or those of one name."""
        return list(self._client._http.paginate(f"/v1/jobs/training/{_quote(self.id)}/metrics", {"name": name},
                                                timeout=timeout))

    def attempts(self, *, timeout: Optional[float] = None) -> List[Json]:
        """The job's attempts: number, status, exit code, reason, usage..."""
        return self._client._http.get(f"/v1/jobs/training/{_quote(self.id)}/attempts", timeout=timeout)

    def cancel(self, *, timeout: Optional[float] = None) -> None:
        """Asks the platform to cancel the job (it becomes ``cancelling``, then ``cancelled``)."""
        self._client._http.request("DELETE", f"/v1/jobs/training/{_quote(self.id)}", timeout=timeout)


class Models:
    """The tenant's model registry (``client.models``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, timeout: Optional[float] = None) -> Iterator[Json]:
        """Every model, newest first."""
        return self._client._http.paginate("/v1/models", timeout=timeout)

    def versions(self, name: str, *, timeout: Optional[float] = None) -> Iterator[Json]:
        """Every version of a model, newest first."""
        return self._client._http.paginate(f"/v1/models/{_quote(name)}/versions", timeout=timeout)

    def get(self, name: str, version: Union[None, int, str] = None, *, timeout: Optional[float] = None) -> Json:
        """A model with its aliases; with ``version`` (a number or an alias) or ``name@version``, that version."""
        if version is None and "@" in name:
            name, version = name.split("@", 1)
        if version is None:
            return self._client._http.get(f"/v1/models/{_quote(name)}", timeout=timeout)
        return self._client._http.get(f"/v1/models/{_quote(name)}/versions/{_quote(str(version))}", timeout=timeout)

    def set_alias(self, name: str, alias: str, version: int, *, timeout: Optional[float] = None) -> Json:
        """Points ``alias`` (``production``, ``staging``) at a version; returns the model."""
        return self._client._http.request("PUT", f"/v1/models/{_quote(name)}/aliases/{_quote(alias)}",
                                          json_body={"version": version}, timeout=timeout).json()

    def delete_alias(self, name: str, alias: str, *, timeout: Optional[float] = None) -> None:
        """Removes an alias."""
        self._client._http.request("DELETE", f"/v1/models/{_quote(name)}/aliases/{_quote(alias)}", timeout=timeout)

    def register(self, name: str, path: str, *, format: Optional[str] = None, job_id: Optional[str] = None,
                 metrics: Optional[Dict[str, float]] = None, input_schema: Optional[Json] = None,
                 description: Optional[str] = None, timeout: Optional[float] = None) -> Json:
        """Registers the file at ``path`` (on the server's side) as the model's next version.

        ``format`` (``onnx`` or ``mlnet``) defaults from the extension. Inside a job, with the job's
        token, ``job_id`` is the job's own.
        """
        body = {"path": path, "format": format, "job_id": job_id, "metrics": metrics, "input_schema": input_schema,
                "description": description}
        return self._client._http.request("POST", f"/v1/models/{_quote(name)}/versions",
                                          json_body={k: v for k, v in body.items() if v is not None},
                                          timeout=timeout).json()


class Deployments:
    """The tenant's deployments (``client.deployments``); create one with :meth:`Client.deploy`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, name: str, *, timeout: Optional[float] = None) -> "DeployedModel":
        """One deployment."""
        return DeployedModel(self._client, self._client._http.get(f"/v1/deployments/{_quote(name)}", timeout=timeout))

    def list(self, *, timeout: Optional[float] = None) -> Iterator["DeployedModel"]:
        """Every deployment, newest first."""
        for item in self._client._http.paginate("/v1/deployments", timeout=timeout):
            yield DeployedModel(self._client, item)


class DeployedModel:
    """A deployment: a model behind a prediction endpoint. Properties are as last read; :meth:`refresh` reads again."""

    def __init__(self, client: Client, data: Json) -> None:
        self._client = client
        #: The deployment resource as the server last answered it.
        self.data: Json = data

    def __repr__(self) -> str:
        return f"DeployedModel(name={self.name!r}, model={self.data.get('model')!r}, status={self.status!r})"

    @property
    def name(self) -> str:
        """The deployment's name."""
        return str(self.data["name"])

    @property
    def status(self) -> str:
        """``pending``, ``progressing`` or ``ready``."""
        return str(self.data.get("status"))

    @property
    def endpoint(self) -> Optional[str]:
        """The prediction URL, absolute (``POST`` a JSON instance to it with a token)."""
        url = self.data.get("endpoint_url")
        return self._client._http.url(url) if url else None

    @property
    def model_version(self) -> Optional[int]:
        """The version served."""
        return self.data.get("model_version")

    @property
    def scaling(self) -> Json:
        """``{"mode": "in_flight" | "cpu", "target_in_flight": ..., "target_cpu_percent": ...}``."""
        return dict(self.data.get("scaling") or {})

    def refresh(self, *, timeout: Optional[float] = None) -> "DeployedModel":
        """Reads the deployment again; returns itself."""
        self.data = self._client._http.get(f"/v1/deployments/{_quote(self.name)}", timeout=timeout)
        return self

    def wait_ready(self, timeout: Optional[float] = 300.0, *, poll_interval: float = 1.0) -> "DeployedModel":
        """Waits until a replica serves; WaitTimeoutError after ``timeout`` seconds."""
        ends = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if self.status == "ready" and (self.data.get("ready_replicas") or 0) > 0:
                return self
            if ends is not None and time.monotonic() + poll_interval > ends:
                raise errors.WaitTimeoutError(f"deployment {self.name} was not ready within {timeout:g} s; "
                                              f"it is {self.status} ({self.data.get('events', [])[-1:]})")
            time.sleep(poll_interval)

    def predict(self, instance_or_instances: Union[Json, List[Any]], *, timeout: Optional[float] = None) -> Any:
        """Predicts one instance (a dict of column values: the answer's prediction) or a list (their predictions)."""
        batch = isinstance(instance_or_instances, list)
        body = {"instances": instance_or_instances} if batch else instance_or_instances
        # A prediction changes nothing, so it is retried like a read.
        answer = self._client._http.request("POST", f"/v1/deployments/{_quote(self.name)}/predict", json_body=body,
                                            safe=True, timeout=timeout).json()
        return answer.get("predictions", answer) if batch and isinstance(answer, dict) else answer

    def update(self, *, model: Optional[str] = None, min_replicas: Optional[int] = None,
               max_replicas: Optional[int] = None, cpu_cores: Optional[float] = None, memory_gb: Optional[float] = None,
               target_in_flight: Optional[float] = None, scaling_mode: Optional[str] = None,
               target_cpu_percent: Optional[int] = None, canary: Optional[Json] = None,
               timeout: Optional[float] = None) -> "DeployedModel":
        """Changes the model (rolling, ``churn@2``), the replicas, the scaling, the resources or the canary; returns itself.

        ``scaling_mode`` switches the autoscaler (``in_flight`` or ``cpu``); targets not given are kept.
        """
        body: Json = {k: v for k, v in {"model": model, "min_replicas": min_replicas, "max_replicas": max_replicas,
                                        "canary": canary}.items() if v is not None}
        resources = {k: v for k, v in {"cpu_cores": cpu_cores, "memory_gb": memory_gb}.items() if v is not None}
        if resources:
            body["compute"] = resources
        scaling = _scaling(scaling_mode, target_in_flight, target_cpu_percent)
        if scaling:
            body["scaling"] = scaling
        self.data = self._client._http.request("PATCH", f"/v1/deployments/{_quote(self.name)}", json_body=body,
                                               timeout=timeout).json()
        return self

    def rollback(self, to_version: Optional[int] = None, *, timeout: Optional[float] = None) -> "DeployedModel":
        """Goes back to the version served before the last change (or ``to_version``); returns itself."""
        version = to_version if to_version is not None else self.refresh().data.get("previous_model_version")
        if version is None:
            raise ValueError(f"deployment {self.name} has no previous version to roll back to")
        return self.update(model=f"{self.data['model_name']}@{version}", timeout=timeout)

    def delete(self, *, timeout: Optional[float] = None) -> None:
        """Stops the deployment's replicas and removes it."""
        self._client._http.request("DELETE", f"/v1/deployments/{_quote(self.name)}", timeout=timeout)


class Artifacts:
    """Uploaded files and archives (``client.artifacts``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def upload(self, path: str, *, name: Optional[str] = None, kind: Optional[str] = None,
               timeout: Optional[float] = None) -> Json:
        """Uploads a local file (``kind="archive"`` for a tar.gz to unpack); returns the artifact with its ``uri``."""
        name = name or os.path.basename(path)
        answer = self._client._http.request(
            "POST", "/v1/artifacts", params={"name": name, "kind": kind}, body=lambda: open(path, "rb"),
            content_type="application/octet-stream", headers={"Content-Length": str(os.path.getsize(path))},
            idempotency_key=str(uuid.uuid4()), timeout=timeout).json()
        self._client._say(f"Uploaded {name} ({_bytes(answer.get('size_bytes', 0))}, "
                          f"sha256 {str(answer.get('sha256', ''))[:12]}) as {answer.get('uri')}")
        return answer

    def get(self, artifact_id: str, *, timeout: Optional[float] = None) -> Json:
        """An artifact's metadata."""
        return self._client._http.get(f"/v1/artifacts/{_quote(artifact_id)}", timeout=timeout)

    def list(self, *, timeout: Optional[float] = None) -> Iterator[Json]:
        """Every artifact, newest first."""
        return self._client._http.paginate("/v1/artifacts", timeout=timeout)


def _is_archive(path: str) -> bool:
    return path.endswith((".tar.gz", ".tgz", ".zip"))


def _label(text: str, suffix: bool) -> str:
    """A job name from a folder's or file's name, as the CLI makes them (``strata run``)."""
    label = re.sub("[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(label) > 40:
        label = label[:40].rstrip("-")
    if not label or not ("a" <= label[0] <= "z"):
        label = "run" + ("" if not label else "-" + label)
    return f"{label}-{uuid.uuid4().hex[:6]}" if suffix else label


def _iso(value: Union[None, str, datetime.datetime]) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat()


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"
