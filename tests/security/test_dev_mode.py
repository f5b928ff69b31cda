"""``serve --dev`` must refuse to start where its tokens would be valid (issue 12, item 11).

Dev mode mints a token for any user who asks; it used to sign them with the
deployment's own secret, and to run in production.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.harness import SECRET, free_port


@pytest.mark.xfail(
    strict=True,
    reason="needs the cli.py hook calling server.auth.dev_mode_refusal (lead, at merge); "
    "drop this marker with that change",
)
@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"AGENTSOCKET_ENVIRONMENT": "production"}, "environment 'production'"),
        ({"AGENTSOCKET_JWT_SECRET": SECRET}, "a JWT secret configured"),
    ],
    ids=["production", "configured-secret"],
)
def test__serve_dev__refuses_to_start(env: dict[str, str], reason: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSOCKET_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "agentsocket", "serve", "--dev", "--port", str(free_port())],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=15,  # a refusal exits at once; a started server would run until killed
        )
    except subprocess.TimeoutExpired:
        pytest.fail("serve --dev started")
    assert done.returncode == 2
    assert reason in done.stderr
