"""Generated requests from the server's own /openapi.json (schemathesis): no server error, and every answer
matches the documented schema (status, content type, body, headers). A short, seeded run on each backend."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from server_fixtures import *  # noqa: F403

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
#: Generated cases per operation: enough to reach the edges (dates, control characters, huge numbers)
#: while the whole run stays short in CI.
EXAMPLES = 40


def _credentials(server, path: str) -> dict:
    """The credential each operation is meant for: a device token for batches, none to enrol, else an admin's."""
    if path.endswith("/batches"):
        return {"Authorization": f"Bearer {server.enroll().token}"}
    if path.endswith("/enroll") or path == "/healthz":
        return {}
    return server.admin_headers()


def test_generated_requests_get_documented_answers_and_no_server_error(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/reports/summary", "/api/v1/ratings", "/api/v1/batches"}
    for operation in operations:
        headers = _credentials(server, operation.path)

        @seed(20261125)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        check()
