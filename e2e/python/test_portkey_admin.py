"""The `portkey-ai` SDK's admin resources against Portcullis, used the way Portkey's docs show:
workspaces, API keys, integrations (+ workspace grants), providers, configs and virtual keys are
created with `Portkey(api_key=<admin key>)`, and the keys, providers and configs they create are
then used for inference through the same SDK.

Runs against the admin gateway e2e/run.sh starts (PORTCULLIS_ADMIN_URL, bootstrap organisation
key PORTCULLIS_ADMIN_KEY): once workspace keys exist it serves no open mode. Every test makes its
own uniquely named objects and the `world` fixture deletes them again (and fails if it cannot).
The mock provider is shared with the other suites; the autouse `mock` fixture empties it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any, Callable

import httpx
import pytest
from portkey_ai import Portkey
from portkey_ai._vendor import openai as pk_openai  # data-plane errors (the vendored OpenAI SDK)
from portkey_ai.api_resources import exceptions as pk_errors  # admin-API errors

from conftest import Mock, body_of

HELLO = [{"role": "user", "content": "Hello there"}]
DATA_SCOPES = ["completions.write", "logs.view"]


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def is_uuid(s: Any) -> bool:
    try:
        uuid.UUID(str(s))
        return True
    except ValueError:
        return False


def dump(model: Any) -> str:
    """Everything a response object carries (extra fields included), as text."""
    return json.dumps(model.model_dump() if hasattr(model, "model_dump") else model, default=str)


RETRYABLE = (AssertionError, pytest.fail.Exception, pk_openai.APIStatusError, pk_errors.APIStatusError)


def eventually(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    """`check()` until it passes. The gateway reloads its catalog snapshot right after an admin
    change, asynchronously; this bounds how long a change may take to reach the data plane."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except RETRYABLE:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class World:
    """Admin-API objects one test creates, deleted again (contents first) at teardown."""

    def __init__(self, admin: Portkey, admin_url: str, mock: Mock) -> None:
        self.admin = admin
        self.url = admin_url
        self.mock = mock
        self.workspace_ids: list[str] = []
        self.integration_slugs: list[str] = []

    # --- clients ---------------------------------------------------------------------------

    def client(self, api_key: str, **kwargs: Any) -> Portkey:
        """The SDK as an application holding a gateway key uses it."""
        return Portkey(api_key=api_key, base_url=f"{self.url}/v1", **kwargs)

    # --- objects ---------------------------------------------------------------------------

    def workspace(self, name: str | None = None, **kwargs: Any):
        ws = self.admin.admin.workspaces.create(name=name or uniq("e2e-ws"), **kwargs)
        self.workspace_ids.append(ws.id)
        return ws

    def integration(self, key: str, **kwargs: Any):
        kwargs.setdefault("name", uniq("e2e-openai"))
        kwargs.setdefault("ai_provider_id", "openai")
        kwargs.setdefault("configurations", {"custom_host": self.mock.base("openai")})
        created = self.admin.integrations.create(key=key, **kwargs)
        self.integration_slugs.append(created.slug)
        return created

    def catalog(self, ws) -> tuple[str, str, str]:
        """An organisation integration (OpenAI, pointed at the mock), granted to `ws`, and a
        provider of `ws` drawing on it: `(integration slug, provider slug, provider key)`."""
        provider_key = f"sk-e2e-{uuid.uuid4().hex}"
        integ = self.integration(provider_key)
        self.admin.integrations.workspaces.update(
            slug=integ.slug, workspaces=[{"id": ws.id, "enabled": True}]
        )
        prov = self.admin.providers.create(
            name=uniq("e2e-provider"), integration_id=integ.slug, workspace_id=ws.id
        )
        return integ.slug, prov.slug, provider_key

    def api_key(self, ws, scopes: list[str] | None = None, **kwargs: Any):
        kwargs.setdefault("name", uniq("e2e-key"))
        return self.admin.api_keys.create(
            type="workspace",
            sub_type="service",
            workspace_id=ws.id,
            scopes=DATA_SCOPES if scopes is None else scopes,
            **kwargs,
        )

    # --- teardown --------------------------------------------------------------------------

    def cleanup(self) -> None:
        gone = (pk_errors.NotFoundError,)
        a = self.admin

        def each(rows, delete):
            for row in rows or []:
                try:
                    delete(row)
                except gone:
                    pass

        for ws in reversed(self.workspace_ids):
            try:
                a.admin.workspaces.retrieve(workspace_id=ws)
            except gone:
                continue  # the test deleted it
            each(a.api_keys.list(workspace_id=ws).data, lambda r: a.api_keys.delete(id=r["id"]))
            each(
                a.virtual_keys.list(workspace_id=ws).data,
                lambda r: a.virtual_keys.delete(slug=r["slug"]),
            )
            each(
                a.providers.list(workspace_id=ws).data,
                lambda r: a.providers.delete(slug=r["slug"], workspace_id=ws),
            )
            each(a.configs.list(workspace_id=ws).data, lambda r: a.configs.delete(slug=r["slug"]))
        each(self.integration_slugs, lambda s: a.integrations.delete(slug=s))
        each(reversed(self.workspace_ids), lambda w: a.admin.workspaces.delete(workspace_id=w))


@pytest.fixture
def world(admin_client, admin_url, mock):
    w = World(admin_client, admin_url, mock)
    yield w
    w.cleanup()


def chat(client: Portkey, model: str, **kwargs: Any):
    return client.chat.completions.create(model=model, messages=HELLO, **kwargs)


def code_of(err: pk_errors.APIStatusError) -> str:
    """The admin envelope's `error.code` (the SDK keeps only `error.message` as `body`)."""
    return err.response.json()["error"]["code"]


def assert_no_secret(text: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in text, f"secret {s[:6]}… leaked"


# --- workspaces ----------------------------------------------------------------------------------


def test_workspace_lifecycle(world):
    ws_api = world.admin.admin.workspaces
    tag = uniq("e2e-ws")
    made = [
        world.workspace(f"{tag} {i}", description=f"team {i}", defaults={"metadata": {"team": f"t{i}"}})
        for i in range(3)
    ]
    w = made[0]
    assert is_uuid(w.id) and w.slug.startswith("ws-") and w.object == "workspace"
    assert w.name == f"{tag} 0" and w.description == "team 0"
    assert w.defaults["metadata"] == {"team": "t0"}
    assert isinstance(w.created_at, str) and w.created_at.endswith("Z")

    # The Python SDK pages with camelCase `pageSize` / `currentPage` (0-indexed).
    first = ws_api.list(name=tag, page_size=2, current_page=0)
    second = ws_api.list(name=tag, page_size=2, current_page=1)
    assert first.total == 3 and second.total == 3
    assert len(first.data) == 2 and len(second.data) == 1
    assert {x.id for x in first.data} | {x.id for x in second.data} == {m.id for m in made}
    assert [x.id for x in ws_api.list(exact_name=f"{tag} 1").data] == [made[1].id]

    got = ws_api.retrieve(workspace_id=w.id)
    assert (got.id, got.slug, got.name) == (w.id, w.slug, w.name)
    assert ws_api.retrieve(workspace_id=w.slug).id == w.id  # by slug too

    ws_api.update(workspace_id=w.id, name=f"{tag} renamed", description="renamed")
    got = ws_api.retrieve(workspace_id=w.slug)
    assert (got.name, got.description) == (f"{tag} renamed", "renamed")

    ws_api.delete(workspace_id=w.id, name=f"{tag} renamed")
    with pytest.raises(pk_errors.NotFoundError):
        ws_api.retrieve(workspace_id=w.id)
    assert {x.id for x in ws_api.list(name=tag).data} == {made[1].id, made[2].id}


def test_workspace_errors(world, admin_url):
    ws_api = world.admin.admin.workspaces
    missing = str(uuid.uuid4())
    with pytest.raises(pk_errors.NotFoundError) as exc:
        ws_api.retrieve(workspace_id=missing)
    assert exc.value.status_code == 404
    assert code_of(exc.value) == "AB08", exc.value.body
    assert missing in str(exc.value)

    with pytest.raises(pk_errors.NotFoundError):
        ws_api.update(workspace_id=missing, name="nope")

    # A workspace that still holds objects is not deleted.
    ws = world.workspace()
    world.admin.configs.create(name=uniq("e2e-cfg"), config={"retry": {"attempts": 1}}, workspace_id=ws.id)
    with pytest.raises(pk_errors.ConflictError) as exc:
        ws_api.delete(workspace_id=ws.id)
    assert code_of(exc.value) == "AB07", exc.value.body
    assert ws_api.retrieve(workspace_id=ws.id).id == ws.id

    bad = Portkey(api_key="pc-not-a-real-admin-key-0123456789abcdef", base_url=f"{admin_url}/v1")
    with pytest.raises(pk_errors.AuthenticationError) as exc:
        bad.admin.workspaces.list()
    assert code_of(exc.value) == "AB05", exc.value.body


# --- API keys, integrations, providers ---------------------------------------------------------


def test_api_key_lifecycle_and_inference(world, admin_key):
    admin = world.admin
    ws = world.workspace()
    integ_slug, prov_slug, provider_key = world.catalog(ws)

    # The integration keeps the provider key to itself; custom_host is not a secret.
    integ = admin.integrations.retrieve(slug=integ_slug)
    assert integ.ai_provider_id == "openai"
    assert integ.masked_key and "*" in integ.masked_key
    assert integ.configurations["custom_host"] == world.mock.base("openai")
    assert_no_secret(dump(integ), provider_key)
    grants = admin.integrations.workspaces.list(slug=integ_slug)
    assert [(g.id, g.enabled) for g in grants.workspaces] == [(ws.slug, True)]
    prov = admin.providers.retrieve(slug=prov_slug, workspace_id=ws.id)
    assert prov.integration_id == integ_slug and prov.ai_provider_name == "openai"

    created = world.api_key(
        ws,
        name="ci-bot",
        description="e2e",
        scopes=DATA_SCOPES,
        rate_limits=[{"type": "requests", "unit": "rpm", "value": 100}],
        usage_limits={"type": "cost", "credit_limit": 50, "alert_threshold": 40, "periodic_reset": "monthly"},
        defaults={"metadata": {"team": "search"}},
        alert_emails=["ops@example.com"],
    )
    secret = created.key
    assert is_uuid(created.id) and created.object == "api-key"
    assert isinstance(secret, str) and len(secret) >= 20

    # Shown once: reads mask it.
    got = admin.api_keys.retrieve(id=created.id)
    assert got.key != secret and "*****" in got.key
    assert_no_secret(dump(got), secret)
    assert (got.name, got.description, got.type, got.workspace_id, got.status) == (
        "ci-bot", "e2e", "workspace-service", ws.id, "active",
    )
    assert got.scopes == DATA_SCOPES
    assert got.rate_limits == [{"type": "requests", "unit": "rpm", "value": 100}]
    assert {k: got.usage_limits[k] for k in ("type", "credit_limit", "alert_threshold", "periodic_reset")} == {
        "type": "cost", "credit_limit": 50, "alert_threshold": 40, "periodic_reset": "monthly",
    }
    assert got.defaults["metadata"] == {"team": "search"}
    listed = admin.api_keys.list(workspace_id=ws.id)
    assert listed.total == 1 and [k["id"] for k in listed.data] == [created.id]
    assert listed.data[0]["key"] == got.key
    assert_no_secret(dump(listed), secret)

    admin.api_keys.update(id=created.id, name="ci-bot-2", scopes=DATA_SCOPES + ["configs.read"])
    got = admin.api_keys.retrieve(id=created.id)
    assert got.name == "ci-bot-2" and got.scopes == DATA_SCOPES + ["configs.read"]

    # The new key calls the workspace's provider; the mock sees the integration's key only.
    app = world.client(secret)
    resp = eventually(lambda: chat(app, f"@{prov_slug}/gpt-4o-mini+content=hello from the catalog"))
    assert resp.choices[0].message.content == "hello from the catalog"
    seen = world.mock.only_request()
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == f"Bearer {provider_key}"
    assert body_of(seen)["model"] == "gpt-4o-mini+content=hello from the catalog"
    assert_no_secret(json.dumps(seen), secret, admin_key)

    admin.api_keys.delete(id=created.id)
    with pytest.raises(pk_errors.NotFoundError):
        admin.api_keys.retrieve(id=created.id)

    def refused():
        with pytest.raises(pk_openai.AuthenticationError):
            chat(app, f"@{prov_slug}/gpt-4o-mini")

    eventually(refused)


def test_limit_validation(world):
    """Limits are checked on the way in; the error names the field (doc §0.6, §8.2)."""
    ws = world.workspace()

    def refused(field: str, **limits: Any) -> None:
        with pytest.raises(pk_errors.BadRequestError) as exc:
            world.api_key(ws, **limits)
        assert code_of(exc.value) == "AB01"
        assert field in str(exc.value), str(exc.value)

    refused("usage_limits.credit_limit", usage_limits={"type": "cost", "credit_limit": 0})
    refused(
        "usage_limits.alert_threshold",
        usage_limits={"type": "tokens", "credit_limit": 100, "alert_threshold": 150},
    )
    refused("rate_limits[0].unit", rate_limits=[{"type": "requests", "unit": "rpx", "value": 1}])
    refused("scopes", scopes=["completions.fly"])
    assert world.admin.api_keys.list(workspace_id=ws.id).data == []
    # The documented minimums ($1, 100 tokens), in the Python SDK's `usage_limits` object shape.
    key = world.api_key(ws, usage_limits={"type": "tokens", "credit_limit": 100, "alert_threshold": 80})
    got = world.admin.api_keys.retrieve(id=key.id).usage_limits
    assert (got["type"], got["credit_limit"], got["alert_threshold"]) == ("tokens", 100, 80)
    key = world.api_key(ws, usage_limits={"credit_limit": 1, "periodic_reset": "weekly"})
    got = world.admin.api_keys.retrieve(id=key.id).usage_limits
    assert (got["type"], got["credit_limit"], got["periodic_reset"]) == ("cost", 1, "weekly")


def test_rate_limited_key(world):
    ws = world.workspace()
    _, prov, _ = world.catalog(ws)
    key = world.api_key(ws, rate_limits=[{"type": "requests", "unit": "rpm", "value": 2}])
    app = world.client(key.key)
    for i in range(2):
        assert chat(app, f"@{prov}/gpt-4o-mini+content=ok {i}").choices[0].message.content == f"ok {i}"
    started = time.monotonic()
    with pytest.raises(pk_openai.RateLimitError) as exc:
        chat(app, f"@{prov}/gpt-4o-mini")
    assert exc.value.status_code == 429
    assert "rate limit" in str(exc.value).lower()
    assert len(world.mock.requests()) == 2, "the refused call must not reach the provider"
    assert time.monotonic() - started < 10, "the SDK should not be made to wait out the window"


def test_token_budget_exhausted(world):
    ws = world.workspace()
    _, prov, _ = world.catalog(ws)
    # 100 tokens is the documented minimum token budget.
    key = world.api_key(ws, usage_limits={"type": "tokens", "credit_limit": 100})
    app = world.client(key.key)
    # max_tokens keeps the pre-call estimate inside the budget; the mock reports 120 tokens used.
    resp = chat(app, f"@{prov}/gpt-4o-mini+usage=90,30+content=spent", max_tokens=16)
    assert resp.usage.total_tokens == 120

    def exhausted():
        with pytest.raises(pk_openai.APIStatusError) as exc:
            chat(app, f"@{prov}/gpt-4o-mini", max_tokens=16)
        return exc.value

    err = eventually(exhausted)
    assert err.status_code == 412
    assert "Usage Limit Exceeded" in str(err)
    assert len(world.mock.requests()) == 1

    # The admin API reports it once the spend is flushed to the store (every couple of seconds).
    def status():
        got = world.admin.api_keys.retrieve(id=key.id)
        assert got.status == "exhausted", got.model_dump()

    eventually(status, timeout=10)


def test_token_budget_allows_calls_until_exhausted(world):
    ws = world.workspace()
    _, prov, _ = world.catalog(ws)
    key = world.api_key(ws, usage_limits={"type": "tokens", "credit_limit": 100})
    app = world.client(key.key)
    # No max_tokens: the pre-call estimate is larger than the budget, yet the call is admitted
    # (as on Portkey, only an exhausted budget refuses).
    resp = chat(app, f"@{prov}/gpt-4o-mini+usage=5,5+content=fits")
    assert resp.choices[0].message.content == "fits"
    resp = chat(app, f"@{prov}/gpt-4o-mini+usage=80,20+content=last")
    assert resp.choices[0].message.content == "last"
    with pytest.raises(pk_openai.APIStatusError) as exc:
        chat(app, f"@{prov}/gpt-4o-mini")
    assert exc.value.status_code == 412
    assert len(world.mock.requests()) == 2


def test_scopes_and_workspace_isolation(world):
    admin = world.admin
    ws_a, ws_b = world.workspace(), world.workspace()
    _, prov, _ = world.catalog(ws_a)

    reader = world.api_key(ws_a, scopes=["configs.read"])
    with pytest.raises(pk_openai.PermissionDeniedError) as exc:
        chat(world.client(reader.key), f"@{prov}/gpt-4o-mini")
    assert exc.value.status_code == 403
    assert world.mock.requests() == []

    # The organisation admin key is for the admin API only.
    with pytest.raises(pk_openai.PermissionDeniedError):
        chat(world.client(world.admin.api_key), f"@{prov}/gpt-4o-mini")
    # Another workspace's key cannot call this workspace's provider.
    outsider = world.api_key(ws_b)
    with pytest.raises(pk_openai.BadRequestError) as exc:
        chat(world.client(outsider.key), f"@{prov}/gpt-4o-mini")
    assert f"@{prov}" in str(exc.value)
    assert world.mock.requests() == []

    manager = world.api_key(
        ws_a,
        scopes=[
            "workspace_service_api_keys.read",
            "workspace_service_api_keys.list",
            "workspaces.read",
        ],
    )
    other = world.api_key(ws_b)
    as_a = world.client(manager.key)
    assert as_a.api_keys.retrieve(id=reader.id).id == reader.id
    with pytest.raises(pk_errors.NotFoundError):
        as_a.api_keys.retrieve(id=other.id)
    ids = {k["id"] for k in as_a.api_keys.list().data}
    assert {reader.id, manager.id} <= ids and other.id not in ids
    with pytest.raises(pk_errors.NotFoundError):
        as_a.admin.workspaces.retrieve(workspace_id=ws_b.id)
    # A workspace key cannot create keys without the scope for it.
    with pytest.raises(pk_errors.PermissionDeniedError):
        as_a.api_keys.create(type="workspace", sub_type="service", name=uniq("x"), scopes=DATA_SCOPES)
    assert admin.api_keys.retrieve(id=other.id).workspace_id == ws_b.id


@pytest.mark.parametrize(
    "host", ["http://169.254.169.254/v1", "http://10.1.2.3/v1", "ftp://mock.example/v1"]
)
def test_integration_custom_host_is_checked(world, host):
    with pytest.raises(pk_errors.BadRequestError) as exc:
        world.integration(f"sk-e2e-{uuid.uuid4().hex}", configurations={"custom_host": host})
    assert "custom_host" in str(exc.value)


# --- configs -------------------------------------------------------------------------------------


def fallback_config(prov: str, answer: str) -> dict:
    return {
        "strategy": {"mode": "fallback", "on_status_codes": [503]},
        "targets": [
            {"provider": f"@{prov}", "override_params": {"model": "gpt-4o-mini+status=503"}},
            {"provider": f"@{prov}", "override_params": {"model": f"gpt-4o-mini+content={answer}"}},
        ],
    }


def test_config_lifecycle_and_routing(world):
    admin = world.admin
    ws = world.workspace()
    _, prov, provider_key = world.catalog(ws)
    key = world.api_key(ws)
    name = uniq("e2e-cfg")
    first = fallback_config(prov, "first%20version")

    created = admin.configs.create(name=name, config=first, workspace_id=ws.id)
    assert created.slug.startswith("pc-") and is_uuid(created.id) and is_uuid(created.version_id)

    listed = admin.configs.list(workspace_id=ws.id)
    assert [c["slug"] for c in listed.data] == [created.slug]
    assert "config" not in listed.data[0], "list items carry no config body"

    got = admin.configs.retrieve(slug=created.slug)
    assert isinstance(got.config, str), "retrieve returns the config as a JSON string"
    assert json.loads(got.config) == first
    assert (got.name, got.workspace_id, got.version_id) == (name, ws.id, created.version_id)

    second = fallback_config(prov, "second%20version")
    updated = admin.configs.update(slug=created.slug, name=f"{name}-v2", config=second)
    assert is_uuid(updated.version_id) and updated.version_id != created.version_id
    got = admin.configs.retrieve(slug=created.slug)
    assert json.loads(got.config) == second and got.name == f"{name}-v2"
    assert got.version_id == updated.version_id

    # The saved config, named by its slug, routes the call: first target 503, fallback answers.
    app = world.client(key.key, config=created.slug)
    resp = eventually(lambda: _answer(app, "second version"))
    assert resp.get_headers()["last-used-option-index"] == "config.targets[1]"
    seen = world.mock.requests()[-2:]
    assert [body_of(r)["model"] for r in seen] == [
        "gpt-4o-mini+status=503",
        "gpt-4o-mini+content=second%20version",
    ]
    assert all(r["headers"]["authorization"] == f"Bearer {provider_key}" for r in seen)

    admin.configs.delete(slug=created.slug)
    with pytest.raises(pk_errors.NotFoundError):
        admin.configs.retrieve(slug=created.slug)
    assert admin.configs.list(workspace_id=ws.id).data == []


def _answer(app: Portkey, want: str):
    resp = chat(app, "gpt-4o")
    assert resp.choices[0].message.content == want
    return resp


def test_invalid_config_is_rejected_with_its_path(world):
    admin = world.admin
    ws = world.workspace()
    bad = {
        "strategy": {"mode": "sideways"},
        "targets": [{"provider": "openai"}, {"provider": "openai", "custom_host": "ftp://x"}],
    }
    with pytest.raises(pk_errors.BadRequestError) as exc:
        admin.configs.create(name=uniq("e2e-bad"), config=bad, workspace_id=ws.id)
    msg = str(exc.value)
    assert "strategy,mode" in msg and "targets,1,custom_host" in msg, msg
    assert code_of(exc.value) == "AB01"
    assert admin.configs.list(workspace_id=ws.id).data == []

    good = admin.configs.create(name=uniq("e2e-ok"), config={"retry": {"attempts": 2}}, workspace_id=ws.id)
    with pytest.raises(pk_errors.BadRequestError) as exc:
        admin.configs.update(slug=good.slug, config={"retry": {"attempts": "many"}})
    assert "retry,attempts" in str(exc.value)
    got = admin.configs.retrieve(slug=good.slug)
    assert json.loads(got.config) == {"retry": {"attempts": 2}}
    assert got.version_id == good.version_id


# --- virtual keys (legacy) -----------------------------------------------------------------------


def make_virtual_key(world, ws):
    vk_key = f"sk-vk-{uuid.uuid4().hex}"
    vk = world.admin.virtual_keys.create(
        name=uniq("e2e-vk"),
        provider="openai",
        key=vk_key,
        note="legacy",
        workspace_id=ws.id,
        usage_limits={"type": "cost", "credit_limit": 10},
        # Where the account's API lives (the mock), like an integration's `custom_host`.
        model_config={"custom_host": world.mock.base("openai")},
    )
    return vk, vk_key


def test_virtual_key_lifecycle_and_routing(world):
    admin = world.admin
    ws = world.workspace()
    key = world.api_key(ws)
    vk, vk_key = make_virtual_key(world, ws)
    assert vk.slug and is_uuid(vk.id)

    listed = admin.virtual_keys.list(workspace_id=ws.id)
    assert [v["slug"] for v in listed.data] == [vk.slug]
    got = admin.virtual_keys.retrieve(slug=vk.slug)
    assert got.slug == vk.slug and got.note == "legacy"
    assert "*" in got.masked_api_key and not getattr(got, "key", "")
    assert got.usage_limits["credit_limit"] == 10
    assert_no_secret(dump(got) + dump(listed), vk_key)

    admin.virtual_keys.update(slug=vk.slug, name=f"{vk.slug}-renamed", note="renamed")
    got = admin.virtual_keys.retrieve(slug=vk.slug)
    assert (got.name, got.note) == (f"{vk.slug}-renamed", "renamed")

    # A virtual key is a provider of its workspace: `@<slug>/model` calls it with its own key.
    app = world.client(key.key)
    resp = eventually(lambda: chat(app, f"@{vk.slug}/gpt-4o-mini+content=via virtual key"))
    assert resp.choices[0].message.content == "via virtual key"
    assert world.mock.only_request()["headers"]["authorization"] == f"Bearer {vk_key}"

    admin.virtual_keys.delete(slug=vk.slug)
    with pytest.raises(pk_errors.NotFoundError):
        admin.virtual_keys.retrieve(slug=vk.slug)


def test_virtual_key_header_routing(world):
    ws = world.workspace()
    key = world.api_key(ws)
    vk, vk_key = make_virtual_key(world, ws)
    app = world.client(key.key, virtual_key=vk.slug)
    resp = chat(app, "gpt-4o-mini+content=via x-portkey-virtual-key")
    assert resp.choices[0].message.content == "via x-portkey-virtual-key"
    assert world.mock.only_request()["headers"]["authorization"] == f"Bearer {vk_key}"


# --- audit log -----------------------------------------------------------------------------------


def test_audit_log_records_changes_without_secrets(world, admin_url, admin_key):
    admin = world.admin
    ws = world.workspace()
    integ_slug, prov_slug, provider_key = world.catalog(ws)
    integ_id = admin.integrations.retrieve(slug=integ_slug).id
    key = world.api_key(ws)
    admin.api_keys.update(id=key.id, name=uniq("renamed"))
    cfg = admin.configs.create(name=uniq("e2e-cfg"), config={"retry": {"attempts": 2}}, workspace_id=ws.id)
    admin.configs.update(slug=cfg.slug, config={"retry": {"attempts": 3}})
    admin.configs.delete(slug=cfg.slug)
    admin.api_keys.delete(id=key.id)

    # Not in the SDK: plain HTTP with the admin key.
    resp = httpx.get(
        f"{admin_url}/v1/audit-logs",
        params={"page_size": 100},
        headers={"x-portkey-api-key": admin_key},
        timeout=10,
        trust_env=False,
    )
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["object"] == "list" and page["total"] >= len(page["data"]) > 0
    seen = {(e["action"], e["resource_type"], e["resource_id"]) for e in page["data"]}
    for want in [
        ("create", "workspace", ws.id),
        ("create", "integration", integ_id),
        ("create", "api_key", key.id),
        ("update", "api_key", key.id),
        ("delete", "api_key", key.id),
        ("create", "config", cfg.id),
        ("update", "config", cfg.id),
        ("delete", "config", cfg.id),
    ]:
        assert want in seen, f"{want} missing from the audit log"
    times = [e["created_at"] for e in page["data"]]
    assert times == sorted(times, reverse=True), "newest first"
    assert_no_secret(resp.text, provider_key, key.key, admin_key)

    # Workspace keys cannot read the organisation's audit log.
    other = world.api_key(ws)
    resp = httpx.get(
        f"{admin_url}/v1/audit-logs",
        headers={"x-portkey-api-key": other.key},
        timeout=10,
        trust_env=False,
    )
    assert resp.status_code == 403, resp.text

    log = os.environ.get("PORTCULLIS_ADMIN_LOG")
    if log and os.path.exists(log):
        with open(log, encoding="utf-8", errors="replace") as f:
            assert_no_secret(f.read(), provider_key, key.key, other.key, admin_key)


# --- request logs: export jobs and analytics ------------------------------------------------------


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"


LOG_SCOPES = DATA_SCOPES + ["logs.export", "logs.list", "analytics.view"]
GRAPHS = [
    "requests", "cost", "latency", "tokens", "users", "users_requests", "errors", "errors_rate",
    "errors_stacks", "errors_status_codes", "requests_rescued", "cache_hit_rate", "cache_latency",
    "feedbacks", "feedbacks_scores", "feedbacks_weighted", "feedbacks_ai_models",
]


def test_log_export_job_and_analytics_through_the_sdk(world):
    ws = world.workspace()
    _, prov, _ = world.catalog(ws)
    key = world.api_key(ws, scopes=LOG_SCOPES)
    user = uniq("e2e-user")
    app = world.client(key.key, metadata={"_user": user})
    for _ in range(3):
        chat(app, f"@{prov}/gpt-4o-mini")
    since, until = iso(time.time() - 120), iso(time.time() + 120)
    window = {"time_of_generation_min": since, "time_of_generation_max": until}
    analytics = world.client(key.key).analytics

    # Logs are written in the background: wait until the analytics see all three.
    def three_requests():
        got = analytics.graphs.requests(**window)
        assert got.object == "analytics-graph"
        assert got.summary["total"] == 3, dump(got)
        return got

    graph = eventually(three_requests, timeout=10)
    assert sum(p["total"] for p in graph.data_points) == 3
    for name in GRAPHS:
        got = getattr(analytics.graphs, name)(**window)
        assert got.object == "analytics-graph", name
        assert isinstance(got.data_points, list) and isinstance(got.summary, dict), name
    assert analytics.graphs.users(**window).summary["total"] == 1
    assert analytics.graphs.errors(**window).summary["total"] == 0
    cache = analytics.summary.cache(**window)
    assert cache.summary["total_requests"] == 3
    users = analytics.groups.users(**window)
    assert [(g["user"], g["requests"]) for g in users.data] == [(user, 3)]
    assert users.data[0]["object"] == "analytics-group"
    models = analytics.groups.ai_models(**window)
    assert sum(g["requests"] for g in models.data) == 3
    by_user = analytics.groups.metadata(metadata_key="_user", **window)
    assert by_user.data[0]["metadata_value"] == user

    # An export job: a draft, changed, started, then downloaded through its signed link.
    exports = world.client(key.key).logs.exports
    fields = ["id", "trace_id", "ai_model", "cost", "response_status_code", "metadata"]
    job = exports.create(
        filters={**window, "metadata": {"_user": user}},
        workspace_id=ws.id,
        description="e2e export",
        requested_data=["id"],
    )
    assert job.object == "export" and job.total == 3
    got = exports.retrieve(export_id=job.id)
    assert (got.status, got.description, got.workspace_id) == ("draft", "e2e export", ws.id)
    updated = exports.update(
        export_id=job.id,
        workspace_id=ws.id,
        filters={**window, "metadata": {"_user": user}, "status_code": "200"},
        requested_data=fields,
    )
    assert updated.total == 3
    assert [j["id"] for j in exports.list(workspace_id=ws.id).data] == [job.id]
    with pytest.raises(pk_errors.ConflictError):
        exports.download(export_id=job.id)
    started = exports.start(export_id=job.id)
    assert started.object == "export" and job.id in started.message

    def finished():
        got = exports.retrieve(export_id=job.id)
        assert got.status == "success", dump(got)
        return got

    assert eventually(finished, timeout=10).total_records == 3
    with pytest.raises(pk_errors.ConflictError) as exc:
        exports.start(export_id=job.id)
    assert code_of(exc.value) == "AB07"

    link = exports.download(export_id=job.id).signed_url
    assert link.startswith(world.url), link
    resp = httpx.get(link, timeout=10, trust_env=False)  # no API key: the link is the access
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in resp.text.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert list(row) == fields
        assert "gpt-4o-mini" in (row["ai_model"] or "") and row["response_status_code"] == 200
        assert row["metadata"]["_user"] == user
    tampered = httpx.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"), timeout=10, trust_env=False)
    assert tampered.status_code == 403, tampered.text

    # A draft can be cancelled; bad fields are refused.
    other = exports.create(filters=window, workspace_id=ws.id, requested_data=["id"])
    assert exports.cancel(export_id=other.id).object == "export"
    assert exports.retrieve(export_id=other.id).status == "stopped"
    with pytest.raises(pk_errors.BadRequestError) as exc:
        exports.create(filters=window, workspace_id=ws.id, requested_data=["colour"])
    assert exc.value.response.json()["error"]["param"] == "requested_data"
    # Another workspace's key sees neither the job nor its numbers.
    outsider = world.client(world.api_key(world.workspace(), scopes=LOG_SCOPES).key)
    with pytest.raises(pk_errors.NotFoundError):
        outsider.logs.exports.retrieve(export_id=job.id)
    assert outsider.analytics.graphs.requests(**window).summary["total"] == 0
