"""Strata's Python SDK: train, track, register, deploy and predict without touching HTTP.

    from strata import Client
    client = Client()                       # STRATA_API_URL / STRATA_TOKEN, or the CLI's login
    job = client.train(model="lightgbm", data="churn.csv", label="churned")
    job.wait()
    endpoint = client.deploy(job.model_version).wait_ready()
    endpoint.predict(row)                   # a dict of the CSV's columns, without the label

Inside a job, :mod:`strata.job` reads the job's contract (hyperparameters, paths) and reports metrics.
"""
from ._http import Retry
from .client import (Artifacts, Client, DeployedModel, Deployments, Jobs, Models, TrainingJob)
from .compute import Compute
from .errors import (AmbiguousReferenceError, APIError, AuthenticationError, ConflictError, IdempotencyKeyInFlightError,
                     IdempotencyKeyReusedError, JobFailedError, MalformedRequestError,
                     MethodNotAllowedError, NotFoundError, PayloadTooLargeError, PermissionDeniedError,
                     QuotaExceededError, RateLimitedError, RequestExceedsQuotaError, ServerError,
                     StrataConnectionError, StrataError, UnavailableError, UnprocessableError,
                     UnsupportedMediaTypeError, ValidationError, WaitTimeoutError)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousReferenceError", "APIError", "Artifacts", "AuthenticationError", "Client", "Compute", "ConflictError", "DeployedModel",
    "Deployments", "IdempotencyKeyInFlightError", "IdempotencyKeyReusedError", "JobFailedError", "Jobs", "MalformedRequestError", "MethodNotAllowedError", "Models",
    "NotFoundError", "PayloadTooLargeError", "PermissionDeniedError", "QuotaExceededError", "RateLimitedError",
    "RequestExceedsQuotaError", "Retry", "ServerError", "StrataConnectionError", "StrataError", "TrainingJob",
    "UnavailableError", "UnprocessableError", "UnsupportedMediaTypeError", "ValidationError", "WaitTimeoutError",
]
