"""Generated requests from the server's own /openapi.json (schemathesis; issue 10, suite 3).

On each backend, every operation gets ``scale(40, 3000)`` generated cases (seeded and derandomized in CI,
random in the soak) with the credential it is meant for: no server error, every answer matches the
documented schema (status, content type, body, headers), and after the run nothing invalid is stored
(tests/stored_rules.py). Cases, server errors and schema mismatches are counted and recorded.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from reliability import SOAK, record, scale
from server_fixtures import *  # noqa: F403
from stored_rules import invalid_rows

pytestmark = pytest.mark.reliability

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
#: Generated cases per operation: in CI enough to reach the edges (dates, control characters, huge numbers)
#: while the run stays short; in the soak tens of thousands per backend.
EXAMPLES = scale(40, 3_000)
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_server_openapi_fuzz.py"


def _credentials(server, path: str) -> dict:
    """The credential each operation is meant for: a device token for batches, none to enrol, else an admin's."""
    if path.endswith("/batches"):
        return {"Authorization": f"Bearer {server.enroll().token}"}
    if path.endswith("/enroll") or path == "/healthz":
        return {}
    return server.admin_headers()


def _settings(function):
    function = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not SOAK,
                        suppress_health_check=list(HealthCheck))(function)
    return function if SOAK else seed(20261125)(function)


def test_generated_requests_get_documented_answers_and_no_server_error(start_server, server_db_url):
    # Rate limits would answer most generated batches 429 (documented, but nothing behind it is tried).
    server = start_server(rate_limit_per_s=1_000_000.0, rate_limit_burst=1_000_000)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/reports/summary", "/api/v1/ratings", "/api/v1/batches"}
    cases, server_errors, mismatches = 0, [], []
    for operation in operations:
        headers = _credentials(server, operation.path)

        @_settings
        @given(case=operation.as_strategy())
        def check(case):
            nonlocal cases
            cases += 1
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as failures:
                found = server_errors if response.status_code >= 500 else mismatches
                found.append(f"{operation.method.upper()} {operation.path} -> {response.status_code}: "
                             f"{'; '.join(sorted({f.title for f in failures.exceptions}))}")

        check()
    invalid = invalid_rows(server.engine)
    backend = "SQLite" if server_db_url.startswith("sqlite") else "PostgreSQL"
    record(f"Generated API requests ({backend})", cases=cases, server_errors=len(server_errors),
           schema_mismatches=len(mismatches), invalid_stored=len(invalid), operations=len(operations),
           command=COMMAND)
    assert not server_errors, "\n".join(server_errors[:20])
    assert not mismatches, "\n".join(mismatches[:20])
    assert not invalid, "\n".join(invalid[:20])
    assert cases >= EXAMPLES * len(operations) // 2
