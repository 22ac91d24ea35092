"""Settings for the whole test session.

Every warehouse the tests build gets the same record-key salt (``ROSC_RECORD_KEY_SALT``, as a deployment
that rebuilds its warehouses sets it), so perturbed counts are the same on every run and a failure can
be reproduced. The tests of the salt itself (`tests/test_record_keys.py`) unset it.

The result cache dashboards share across workers (`dashboard.result_cache`) is off
(``ROSC_RESULT_CACHE=off``):
many tests spy on what the metric layer is asked, and a file shared by every `DashboardData` of the session
would answer them from another test's run. `tests/dashboard/test_result_cache.py` names its own file.
"""

from __future__ import annotations

import os

TEST_SALT = "one-record-key-salt-for-the-whole-test-session-0123456789"


def pytest_configure(config) -> None:
    os.environ.setdefault("ROSC_RECORD_KEY_SALT", TEST_SALT)
    os.environ.setdefault("ROSC_RESULT_CACHE", "off")
