"""Every problem type the server has becomes its own exception class."""
import os
import re
import unittest

import strata
from strata import errors
from fake_api import FakeApi
from test_http import problem

# The server's problem types (src/Strata.Contracts/Problems.cs) and the class each becomes.
EXPECTED = {
    "validation": (400, strata.ValidationError),
    "malformed-request": (400, strata.MalformedRequestError),
    "payload-too-large": (413, strata.PayloadTooLargeError),
    "unsupported-media-type": (415, strata.UnsupportedMediaTypeError),
    "method-not-allowed": (405, strata.MethodNotAllowedError),
    "unauthenticated": (401, strata.AuthenticationError),
    "forbidden": (403, strata.PermissionDeniedError),
    "not-found": (404, strata.NotFoundError),
    "conflict": (409, strata.ConflictError),
    "idempotency-key-in-flight": (409, strata.IdempotencyKeyInFlightError),
    "ambiguous-reference": (409, strata.AmbiguousReferenceError),
    "idempotency-key-reused": (422, strata.IdempotencyKeyReusedError),
    "quota-exceeded": (429, strata.QuotaExceededError),
    "request-exceeds-quota": (422, strata.RequestExceedsQuotaError),
    "rate-limited": (429, strata.RateLimitedError),
    "unavailable": (503, strata.UnavailableError),
    "internal": (500, strata.ServerError),
}

PROBLEMS_CS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "src", "Strata.Contracts", "Problems.cs")


class ErrorMappingTests(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.close)
        self.client = strata.Client(api_url=self.api.url, token="t", output=None, retry=strata.Retry(max_attempts=1))

    def test_every_problem_type_of_the_server_has_a_class(self):
        if not os.path.isfile(PROBLEMS_CS):
            self.skipTest("the server's source is not next to the SDK")
        with open(PROBLEMS_CS) as f:
            server_types = set(re.findall(r'Prefix \+ "([a-z-]+)"', f.read()))
        self.assertEqual(server_types, set(EXPECTED))

    def test_each_answer_raises_its_class_with_type_detail_and_trace_id(self):
        for kind, (status, cls) in EXPECTED.items():
            with self.subTest(kind=kind):
                self.api.on("GET", "/v1/me", (status, problem(kind, status)))
                with self.assertRaises(cls) as caught:
                    self.client.me()
                error = caught.exception
                self.assertIs(cls, type(error))
                self.assertIsInstance(error, strata.APIError)
                self.assertEqual("urn:strata:problem:" + kind, error.type)
                self.assertEqual(kind + " detail", error.detail)
                self.assertEqual("00-trace-01", error.trace_id)
                self.assertEqual(status, error.status)

    def test_validation_errors_by_field(self):
        self.api.on("GET", "/v1/me", (400, problem("validation", 400, errors={"compute.gpu_type": ["no such device"],
                                                                           "name": ["required", "too long"]})))
        with self.assertRaises(strata.ValidationError) as caught:
            self.client.me()
        self.assertEqual({"compute.gpu_type": ["no such device"], "name": ["required", "too long"]}, caught.exception.errors)

    def test_quota_fields(self):
        for kind, status in (("quota-exceeded", 429), ("request-exceeds-quota", 422)):
            self.api.on("GET", "/v1/me", (status, problem(kind, status, resource="gpu_count", limit=4, used=3, requested=2)))
            with self.assertRaises(strata.QuotaExceededError) as caught:
                self.client.me()
            e = caught.exception
            self.assertEqual(("gpu_count", 4, 3, 2), (e.resource, e.limit, e.used, e.requested))

    def test_an_ambiguous_reference_lists_its_candidates(self):
        candidates = [{"id": "01a2-b", "name": "nightly", "status": "running", "created_at": "2026-12-07T19:00:01Z"},
                      {"id": "01a2-a", "name": "nightly", "status": "succeeded", "created_at": "2026-12-07T19:00:00Z"}]
        self.api.on("GET", "/v1/jobs/training/nightly", (409, problem("ambiguous-reference", 409, candidates=candidates, count=12)))
        with self.assertRaises(strata.AmbiguousReferenceError) as caught:
            self.client.jobs.get("nightly")
        self.assertIsInstance(caught.exception, strata.ConflictError)
        self.assertEqual((["01a2-b", "01a2-a"], 12), ([c["id"] for c in caught.exception.candidates], caught.exception.count))

    def test_rate_limited_retry_after(self):
        self.api.on("GET", "/v1/me", (429, problem("rate-limited", 429), {"Retry-After": "12"}))
        with self.assertRaises(strata.RateLimitedError) as caught:
            self.client.me()
        self.assertEqual(12.0, caught.exception.retry_after)

    def test_an_unknown_type_falls_back_to_the_status(self):
        self.assertIs(strata.UnprocessableError, type(errors.from_response(422, b'{"type":"urn:x:idempotency","detail":"d"}')))
        self.assertIs(strata.NotFoundError, type(errors.from_response(404, b"")))
        self.assertIs(strata.ServerError, type(errors.from_response(502, b"<html>bad gateway</html>")))
        self.assertEqual("<html>bad gateway</html>", errors.from_response(502, b"<html>bad gateway</html>").detail)
        self.assertIs(strata.APIError, type(errors.from_response(418, b"{}")))

    def test_the_retry_after_date_form(self):
        from strata._http import parse_retry_after
        self.assertEqual(0.0, parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"))
        self.assertEqual(5.0, parse_retry_after("5"))
        self.assertIsNone(parse_retry_after("soon"))


if __name__ == "__main__":
    unittest.main()
