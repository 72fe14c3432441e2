"""The `portkey-ai` Python SDK used the way Portkey's docs show, with the gateway as base_url."""

from __future__ import annotations

from collections import Counter

import pytest
from portkey_ai import Portkey, createHeaders

from conftest import PROVIDER_KEY, body_of

HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def portkey(gateway_url, mock):
    """`portkey(**kwargs)`: a Portkey client on the gateway; kwargs as in `Portkey(...)`."""

    def make(**kwargs) -> Portkey:
        return Portkey(base_url=f"{gateway_url}/v1", **kwargs)

    return make


def openai_target(mock, key: str, model: str, **extra) -> dict:
    return {
        "provider": "openai",
        "api_key": key,
        "custom_host": mock.base("openai"),
        "override_params": {"model": model},
        **extra,
    }


def test_chat_with_provider_and_custom_host(portkey, mock):
    client = portkey(
        provider="openai",
        Authorization=f"Bearer {PROVIDER_KEY}",
        custom_host=mock.base("openai"),
        trace_id="pk-trace-1",
    )
    resp = client.chat.completions.create(
        model="gpt-4o-mini+content=hello portkey", messages=HELLO
    )
    assert resp.choices[0].message.content == "hello portkey"
    headers = resp.get_headers()
    assert headers["provider"] == "openai"
    assert headers["trace-id"] == "pk-trace-1"
    assert headers["last-used-option-index"] == "config"
    seen = mock.only_request()
    assert seen["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert seen["path"] == "/v1/chat/completions"


def test_stream(portkey, mock):
    client = portkey(
        provider="openai", Authorization=PROVIDER_KEY, custom_host=mock.base("openai")
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini+content=streamed via portkey+chunks=3",
        messages=HELLO,
        stream=True,
    )
    assert stream.response.headers["x-portkey-provider"] == "openai"
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "streamed via portkey"
    # createHeaders' Authorization adds the Bearer prefix when missing.
    assert mock.only_request()["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_fallback_config_dict(portkey, mock):
    config = {
        "strategy": {"mode": "fallback", "on_status_codes": [429, 503]},
        "targets": [
            openai_target(mock, "sk-a", "gpt-4o-mini+status=429"),
            openai_target(mock, "sk-b", "gpt-4o-mini+content=fallback answer"),
        ],
    }
    resp = portkey(config=config).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert resp.choices[0].message.content == "fallback answer"
    assert resp.get_headers()["last-used-option-index"] == "config.targets[1]"
    keys = [r["headers"]["authorization"] for r in mock.requests()]
    assert keys == ["Bearer sk-a", "Bearer sk-b"]


def test_fallback_stops_on_status_outside_on_status_codes(portkey, mock):
    config = {
        "strategy": {"mode": "fallback", "on_status_codes": [429]},
        "targets": [
            openai_target(mock, "sk-a", "gpt-4o-mini+status=400"),
            openai_target(mock, "sk-b", "gpt-4o-mini"),
        ],
    }
    # Portkey raises the error classes of the OpenAI SDK it vendors.
    with pytest.raises(Exception) as exc:
        portkey(config=config).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert type(exc.value).__name__ == "BadRequestError"
    assert exc.value.status_code == 400
    assert len(mock.requests()) == 1


def test_loadbalance_config_dict(portkey, mock):
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            openai_target(mock, "sk-never", "gpt-4o-mini+content=never", weight=0),
            openai_target(mock, "sk-one", "gpt-4o-mini+content=one", weight=1),
            openai_target(mock, "sk-two", "gpt-4o-mini+content=two", weight=1),
        ],
    }
    client = portkey(config=config)
    answers = Counter()
    indexes = set()
    for _ in range(24):
        resp = client.chat.completions.create(model="gpt-4o", messages=HELLO)
        answers[resp.choices[0].message.content] += 1
        indexes.add(resp.get_headers()["last-used-option-index"])
    assert answers["never"] == 0
    # Equal weights: both are picked (the chance of 24 identical picks is ~1e-7).
    assert answers["one"] > 0 and answers["two"] > 0, answers
    assert indexes == {"config.targets[1]", "config.targets[2]"}


def test_metadata_drives_conditional_routing(portkey, mock):
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.plan": {"$eq": "paid"}}, "then": "premium"}],
            "default": "basic",
        },
        "targets": [
            {"name": "premium", **openai_target(mock, "sk-p", "gpt-4o+content=premium")},
            {"name": "basic", **openai_target(mock, "sk-b", "gpt-4o-mini+content=basic")},
        ],
    }
    paid = portkey(config=config, metadata={"plan": "paid", "_user": "u-1"})
    free = portkey(config=config, metadata={"plan": "free"})
    assert paid.chat.completions.create(model="x", messages=HELLO).choices[0].message.content == "premium"
    free_resp = free.chat.completions.create(model="x", messages=HELLO)
    assert free_resp.choices[0].message.content == "basic"
    assert free_resp.get_headers()["last-used-option-index"] == "config.targets[1]"
    # Metadata is routing input, never sent upstream.
    for seen in mock.requests():
        assert not any(h.startswith("x-portkey") for h in seen["headers"])


def test_conditional_on_request_params(portkey, mock):
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"params.model": {"$regex": "^fast"}}, "then": "cheap"}],
            "default": "big",
        },
        "targets": [
            {"name": "big", **openai_target(mock, "sk-1", "gpt-4o+content=big")},
            {"name": "cheap", **openai_target(mock, "sk-2", "gpt-4o-mini+content=cheap")},
        ],
    }
    client = portkey(config=config)
    assert client.chat.completions.create(model="fast-one", messages=HELLO).choices[0].message.content == "cheap"
    assert client.chat.completions.create(model="slow-one", messages=HELLO).choices[0].message.content == "big"


def test_create_headers_with_openai_sdk(gateway_url, mock):
    """The documented pattern: the plain OpenAI SDK plus `createHeaders(...)`."""
    import openai

    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=f"{gateway_url}/v1",
        default_headers=createHeaders(
            provider="openai",
            custom_host=mock.base("openai"),
            trace_id="ch-1",
            metadata={"team": "e2e"},
        ),
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini+content=via createHeaders", messages=HELLO
    )
    assert raw.parse().choices[0].message.content == "via createHeaders"
    assert raw.headers["x-portkey-trace-id"] == "ch-1"
    assert mock.only_request()["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_embeddings(portkey, mock):
    client = portkey(provider="openai", Authorization=PROVIDER_KEY, custom_host=mock.base("openai"))
    resp = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert len(resp.data) == 1 and len(resp.data[0].embedding) > 0
    assert body_of(mock.only_request())["input"] == "hello"


@pytest.mark.parametrize("provider", ["anthropic", "google"])
def test_sdk_default_is_non_strict_openai_compliance(portkey, mock, provider):
    """The Portkey SDK sends `x-portkey-strict-open-ai-compliance: false` by default, so
    answers keep provider extras: `content_blocks` (thinking first) and raw finish reasons."""
    client = portkey(provider=provider, Authorization=PROVIDER_KEY, custom_host=mock.base(provider))
    resp = client.chat.completions.create(
        model="some-model+content=thought through+reasoning=6", max_tokens=64, messages=HELLO
    )
    msg = resp.choices[0].message
    assert msg.content == "thought through"
    blocks = msg.content_blocks
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"]
    assert resp.choices[0].finish_reason == {"anthropic": "end_turn", "google": "STOP"}[provider]

    strict = portkey(
        provider=provider,
        Authorization=PROVIDER_KEY,
        custom_host=mock.base(provider),
        strict_open_ai_compliance=True,
    )
    resp = strict.chat.completions.create(
        model="some-model+content=thought through+reasoning=6", max_tokens=64, messages=HELLO
    )
    assert resp.choices[0].finish_reason == "stop"
    assert getattr(resp.choices[0].message, "content_blocks", None) is None


def test_request_timeout_option(portkey, mock):
    client = portkey(
        provider="openai",
        Authorization=PROVIDER_KEY,
        custom_host=mock.base("openai"),
        request_timeout=100,
    )
    with pytest.raises(Exception) as exc:
        client.chat.completions.create(model="gpt-4o-mini+delay_ms=450", messages=HELLO)
    assert getattr(exc.value, "status_code", None) == 408, repr(exc.value)
