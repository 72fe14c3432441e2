"""Shared fixtures: where the gateway and the mock provider run, and SDK clients aimed at them.

`e2e/run.sh` starts `portcullis serve` and `portcullis mock-provider` and exports
PORTCULLIS_URL (gateway root, e.g. http://127.0.0.1:41234) and MOCK_URL (mock root).
Every test starts with an empty mock: recorded requests and queued replies are cleared.
Tests share one mock, so they must not run in parallel.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anthropic
import httpx
import openai
import pytest

PROVIDER_KEY = "sk-test-e2e"


def _env(name: str) -> str:
    value = os.environ.get(name, "").rstrip("/")
    if not value:
        pytest.exit(
            f"{name} is not set; run the suite through e2e/run.sh "
            "(it starts the gateway and the mock provider)",
            returncode=2,
        )
    return value


class Mock:
    """The mock provider's control API (`/__mock/*`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0, trust_env=False)

    def reset(self) -> None:
        self.http.delete("/__mock/requests").raise_for_status()
        self.http.delete("/__mock/replies").raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        """Requests the mock received, oldest first (control calls excluded)."""
        resp = self.http.get("/__mock/requests")
        resp.raise_for_status()
        return resp.json()

    def only_request(self) -> dict[str, Any]:
        seen = self.requests()
        assert len(seen) == 1, f"expected exactly one upstream request, got {len(seen)}: {seen}"
        return seen[0]

    def enqueue(self, *specs: dict[str, Any]) -> None:
        """Queues scripted replies (fields as in the mock's `Reply`)."""
        self.http.post("/__mock/replies", json=list(specs)).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.http.get("/__mock/stats").json()

    def base(self, provider: str) -> str:
        """Custom-host base URL for a provider: Gemini takes the root, others `/v1`."""
        return self.url if provider == "google" else f"{self.url}/v1"


def body_of(recorded: dict[str, Any]) -> dict[str, Any]:
    return json.loads(recorded["body"])


@pytest.fixture(scope="session")
def gateway_url() -> str:
    return _env("PORTCULLIS_URL")


@pytest.fixture(scope="session")
def _mock_session() -> Mock:
    return Mock(_env("MOCK_URL"))


@pytest.fixture(autouse=True)
def mock(_mock_session: Mock) -> Mock:
    _mock_session.reset()
    return _mock_session


@pytest.fixture
def openai_client(gateway_url: str, mock: Mock):
    """`openai_client(provider="openai", **headers)`: an OpenAI SDK client that sends
    `x-portkey-provider` and points that provider at the mock with `x-portkey-custom-host`.
    SDK retries are off so status codes surface as-is."""

    def make(provider: str = "openai", **extra_headers: str) -> openai.OpenAI:
        headers = {
            "x-portkey-provider": provider,
            "x-portkey-custom-host": mock.base(provider),
            **extra_headers,
        }
        return openai.OpenAI(
            base_url=f"{gateway_url}/v1",
            api_key=PROVIDER_KEY,
            default_headers=headers,
            max_retries=0,
            timeout=20.0,
        )

    return make


@pytest.fixture
def anthropic_client(gateway_url: str, mock: Mock) -> anthropic.Anthropic:
    """The Anthropic SDK aimed at the gateway root (it appends `/v1/messages`)."""
    return anthropic.Anthropic(
        base_url=gateway_url,
        api_key="sk-ant-test-e2e",
        default_headers={
            "x-portkey-provider": "anthropic",
            "x-portkey-custom-host": mock.base("anthropic"),
        },
        max_retries=0,
        timeout=20.0,
    )


# --- the admin gateway (test_portkey_admin.py) ------------------------------------------------
# `e2e/run.sh` also starts a second `portcullis serve` with its own data directory and a random
# bootstrap admin key, and passes PORTCULLIS_ADMIN_URL and PORTCULLIS_ADMIN_KEY to pytest (and
# PORTCULLIS_ADMIN_LOG, that gateway's log file). Admin tests create workspace keys, which end
# open mode, so they never touch the gateway above.


@pytest.fixture(scope="session")
def admin_url() -> str:
    return _env("PORTCULLIS_ADMIN_URL")


@pytest.fixture(scope="session")
def admin_key() -> str:
    key = os.environ.get("PORTCULLIS_ADMIN_KEY", "").strip()
    if not key:
        _env("PORTCULLIS_ADMIN_KEY")
    return key


@pytest.fixture
def admin_client(admin_url: str, admin_key: str):
    """The `portkey-ai` SDK holding the organisation admin key, as an admin would use it."""
    from portkey_ai import Portkey

    return Portkey(api_key=admin_key, base_url=f"{admin_url}/v1")
