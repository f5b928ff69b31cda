"""The real gateway's HTTP side: security headers on the page, a throttled /auth/ticket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import ServerProcess, run_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("http-hardening")) as process:
        yield process


def test__web_page__served_with_csp_nosniff_and_frame_ancestors(server: ServerProcess) -> None:
    response = httpx.get(f"{server.http}/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")
    assert response.headers.get("x-content-type-options") == "nosniff"


def test__auth_ticket__flood_from_one_client__429_with_retry_after(server: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {server.token('ticket-flood')}"}
    with httpx.Client() as client:
        answers = [client.post(f"{server.http}/auth/ticket", headers=headers) for _ in range(30)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited
    assert limited[0].headers["retry-after"].isdigit()
    assert all(a.status_code in {200, 429} for a in answers)


def test__page_import_map__allowed_by_its_hash_and_no_other_inline_script() -> None:
    import base64
    import hashlib
    import re

    from agentsocket.server.security_headers import content_security_policy, inline_script_hashes
    from agentsocket.web import static_dir

    page = (static_dir() / "index.html").read_text(encoding="utf-8")
    hashes = inline_script_hashes(page)
    body = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
    assert body is not None
    expected = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
    assert hashes == [f"sha256-{expected}"]  # the external app.js is not hashed
    policy = content_security_policy(hashes)
    assert f"script-src 'self' 'sha256-{expected}';" in policy
    assert "'unsafe-inline'" not in policy


def test__page_served__policy_allows_its_import_map(server: ServerProcess) -> None:
    from agentsocket.server.security_headers import inline_script_hashes

    page = httpx.get(f"{server.http}/")
    policy = page.headers["content-security-policy"]
    assert all(f"'{h}'" in policy for h in inline_script_hashes(page.text))
