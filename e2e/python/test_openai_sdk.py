"""The official `openai` Python SDK against the gateway, with the mock as every provider."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from conftest import PROVIDER_KEY, body_of

HELLO = [{"role": "user", "content": "Hello there"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

# A 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "google": "gemini-2.5-flash"}

# Upstream path each provider's chat request must reach on the mock.
CHAT_PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "google": "/v1beta/models/gemini-2.5-flash:generateContent",
}


# --- chat ------------------------------------------------------------------------------------


def test_chat_non_stream(openai_client, mock):
    client = openai_client(**{"x-portkey-trace-id": "e2e-chat-1"})
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini+content=hello world+usage=10,5", messages=HELLO
    )
    resp = raw.parse()
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-4o-mini"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "hello world"
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (10, 5)
    assert resp.usage.total_tokens == 15

    assert raw.status_code == 200
    assert raw.headers["x-portkey-provider"] == "openai"
    assert raw.headers["x-portkey-last-used-option-index"] == "config"
    assert raw.headers["x-portkey-retry-attempt-count"] == "0"
    assert raw.headers["x-portkey-trace-id"] == "e2e-chat-1"
    assert "x-portkey-cache-status" in raw.headers

    seen = mock.only_request()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    sent = body_of(seen)
    assert sent["model"] == "gpt-4o-mini+content=hello world+usage=10,5"
    assert sent["messages"] == HELLO
    # Gateway headers stay at the gateway.
    assert not any(h.startswith("x-portkey-") for h in seen["headers"])


def test_chat_stream_joins_content(openai_client):
    client = openai_client()
    stream = client.chat.completions.create(
        model="gpt-4o-mini+content=one two three+chunks=3", messages=HELLO, stream=True
    )
    pieces, finish = [], None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    assert "".join(pieces) == "one two three"
    assert len(pieces) == 3
    assert finish == "stop"


def test_chat_stream_include_usage_gives_final_usage_chunk(openai_client, mock):
    client = openai_client()
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini+usage=12,7+chunks=2",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        12,
        7,
        19,
    )
    # Only the last chunk carries usage.
    assert all(c.usage is None for c in chunks[:-1])
    assert body_of(mock.only_request())["stream_options"] == {"include_usage": True}


def test_stream_response_headers(openai_client):
    client = openai_client(**{"x-portkey-trace-id": "e2e-stream-headers"})
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=True
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["x-portkey-provider"] == "openai"
        assert raw.headers["x-portkey-trace-id"] == "e2e-stream-headers"
        text = "".join(
            c.choices[0].delta.content or "" for c in raw.parse() if c.choices
        )
    assert text.startswith("Hello!")


# --- tools -----------------------------------------------------------------------------------


def test_tool_call_non_stream(openai_client, mock):
    client = openai_client()
    resp = client.chat.completions.create(
        model='gpt-4o-mini+tool=get_weather+args={"city":"Paris"}',
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert body_of(mock.only_request())["tools"] == [WEATHER_TOOL]


def test_tool_call_stream_deltas_assemble(openai_client):
    client = openai_client()
    stream = client.chat.completions.create(
        model='gpt-4o-mini+tool=get_weather+args={"city":"Paris","unit":"celsius"}+chunks=4',
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    deltas = 0
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                deltas += 1
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert deltas > 1, "arguments should arrive in several deltas"


def test_tool_result_round_trip(openai_client, mock):
    """A follow-up turn with the assistant's tool call and the tool result is accepted."""
    client = openai_client("anthropic")
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
    ]
    resp = client.chat.completions.create(
        model="claude-sonnet-4-5+content=It is 21C", messages=messages, tools=[WEATHER_TOOL]
    )
    assert resp.choices[0].message.content == "It is 21C"
    sent = body_of(mock.only_request())
    kinds = [
        [block["type"] for block in m["content"]] if isinstance(m["content"], list) else ["text"]
        for m in sent["messages"]
    ]
    assert kinds[1] == ["tool_use"]
    assert kinds[2] == ["tool_result"]


# --- multimodal and JSON mode across providers ----------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_image_input_data_url(openai_client, mock, provider):
    client = openai_client(provider)
    mock.enqueue({"content": f"an image via {provider}"})
    resp = client.chat.completions.create(
        model=MODELS[provider],
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
                ],
            }
        ],
    )
    assert resp.choices[0].message.content == f"an image via {provider}"
    seen = mock.only_request()
    assert seen["path"] == CHAT_PATHS[provider]
    sent = body_of(seen)
    b64 = base64.b64encode(PNG_1X1).decode()
    if provider == "openai":
        part = sent["messages"][0]["content"][1]
        assert part == {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}
    elif provider == "anthropic":
        blocks = sent["messages"][0]["content"]
        image = next(b for b in blocks if b["type"] == "image")
        assert image["source"] == {"type": "base64", "media_type": "image/png", "data": b64}
        assert seen["headers"]["x-api-key"] == PROVIDER_KEY
    else:
        parts = sent["contents"][0]["parts"]
        inline = next(p.get("inlineData") or p.get("inline_data") for p in parts if "text" not in p)
        assert inline.get("mimeType", inline.get("mime_type")) == "image/png"
        assert inline["data"] == b64


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_json_mode_schema(openai_client, mock, provider):
    client = openai_client(provider)
    mock.enqueue({"content": '{"city": "Paris", "temp_c": 21}'})
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
        "required": ["city", "temp_c"],
        "additionalProperties": False,
    }
    resp = client.chat.completions.create(
        model=MODELS[provider],
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "weather", "schema": schema, "strict": True},
        },
    )
    assert json.loads(resp.choices[0].message.content) == {"city": "Paris", "temp_c": 21}
    sent = body_of(mock.only_request())
    if provider == "openai":
        assert sent["response_format"]["json_schema"]["schema"] == schema
    elif provider == "anthropic":
        assert sent["output_config"]["format"] == {"type": "json_schema", "schema": schema}
    else:
        cfg = sent["generationConfig"]
        assert cfg["responseMimeType"] == "application/json"
        assert "responseJsonSchema" in cfg or "responseSchema" in cfg


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_json_mode_object(openai_client, mock, provider):
    client = openai_client(provider)
    mock.enqueue({"content": '{"ok": true}'})
    resp = client.chat.completions.create(
        model=MODELS[provider],
        max_tokens=64,
        messages=[{"role": "user", "content": "Reply with a JSON object"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(resp.choices[0].message.content) == {"ok": True}
    sent = body_of(mock.only_request())
    if provider == "openai":
        assert sent["response_format"] == {"type": "json_object"}
    elif provider == "anthropic":
        # No native JSON-object mode: the gateway asks for JSON in the system prompt.
        system = sent["system"]
        text = system if isinstance(system, str) else " ".join(b["text"] for b in system)
        assert "JSON" in text
        assert "response_format" not in sent
    else:
        assert sent["generationConfig"]["responseMimeType"] == "application/json"


@pytest.mark.parametrize("provider", ["anthropic", "google"])
def test_translated_stream(openai_client, provider):
    """Anthropic and Gemini streams come back as OpenAI chunks, usage last."""
    client = openai_client(provider)
    chunks = list(
        client.chat.completions.create(
            model=f"{MODELS[provider]}+content=streamed-{provider}+chunks=3+usage=9,4",
            max_tokens=64,
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"streamed-{provider}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert usage and (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (9, 4)


# --- other endpoints -------------------------------------------------------------------------


def test_embeddings(openai_client, mock):
    client = openai_client()
    # The SDK asks for base64 by default and decodes it; a float list must come back either way.
    resp = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert resp.object == "list"
    assert [d.index for d in resp.data] == [0, 1]
    dims = {len(d.embedding) for d in resp.data}
    assert len(dims) == 1 and dims.pop() > 0
    assert all(isinstance(x, float) for x in resp.data[0].embedding)
    assert resp.usage.prompt_tokens > 0
    seen = mock.only_request()
    assert seen["path"] == "/v1/embeddings"
    assert body_of(seen)["input"] == ["alpha", "beta"]

    floats = client.embeddings.create(
        model="text-embedding-3-small", input="alpha", encoding_format="float", dimensions=8
    )
    assert len(floats.data[0].embedding) == 8
    sent = body_of(mock.requests()[-1])
    assert (sent["encoding_format"], sent["dimensions"]) == ("float", 8)


def test_embeddings_google(openai_client, mock):
    client = openai_client("google")
    resp = client.embeddings.create(
        model="gemini-embedding-001", input=["alpha", "beta"], encoding_format="float"
    )
    assert len(resp.data) == 2
    assert len(resp.data[0].embedding) == len(resp.data[1].embedding) > 0
    seen = mock.only_request()
    assert seen["path"].endswith("/models/gemini-embedding-001:batchEmbedContents")


def test_legacy_completions(openai_client, mock):
    client = openai_client()
    resp = client.completions.create(
        model="gpt-3.5-turbo-instruct+content=Hi there", prompt="Say hi", max_tokens=5
    )
    assert resp.object == "text_completion"
    assert resp.choices[0].text == "Hi there"
    assert mock.only_request()["path"] == "/v1/completions"


def test_legacy_completions_stream(openai_client):
    client = openai_client()
    stream = client.completions.create(
        model="gpt-3.5-turbo-instruct+content=a b c+chunks=3", prompt="Say abc", stream=True
    )
    assert "".join(c.choices[0].text for c in stream if c.choices) == "a b c"


def test_models_list_with_provider_header(openai_client, mock):
    client = openai_client()
    models = client.models.list()
    ids = [m.id for m in models]
    assert ids, "the provider's model list should not be empty"
    assert all(m.object == "model" for m in models)
    seen = mock.only_request()
    assert (seen["method"], seen["path"]) == ("GET", "/v1/models")
    assert seen["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_at_slug_model_selects_provider(gateway_url, mock):
    """`model: "@openai/<model>"` selects the provider without x-portkey-provider."""
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key=PROVIDER_KEY,
        default_headers={"x-portkey-custom-host": mock.base("openai")},
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="@openai/gpt-4o-mini+content=slug", messages=HELLO
    )
    assert raw.parse().choices[0].message.content == "slug"
    assert raw.headers["x-portkey-provider"] == "openai"
    assert body_of(mock.only_request())["model"] == "gpt-4o-mini+content=slug"


# --- errors ----------------------------------------------------------------------------------


def test_429_raises_rate_limit_error(openai_client, mock):
    client = openai_client()
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(
            model="gpt-4o-mini+status=429+retry_after=1", messages=HELLO
        )
    err = exc.value
    assert err.status_code == 429
    assert err.response.headers.get("retry-after") == "1"
    assert err.response.headers["x-portkey-provider"] == "openai"
    assert len(mock.requests()) == 1, "max_retries=0: exactly one upstream call"


def test_stream_429_raises_before_iteration(openai_client):
    client = openai_client()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4o-mini+status=429+retry_after=1", messages=HELLO, stream=True
        )


def test_401_raises_authentication_error(openai_client):
    client = openai_client()
    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model="gpt-4o-mini+status=401", messages=HELLO)
    assert exc.value.status_code == 401


def test_500_raises_internal_server_error(openai_client):
    client = openai_client()
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(model="gpt-4o-mini+status=500", messages=HELLO)
    assert exc.value.status_code == 500


def test_bad_config_raises_bad_request_with_portkey_message(gateway_url, mock):
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key=PROVIDER_KEY,
        default_headers={"x-portkey-config": "{not json"},
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert exc.value.status_code == 400
    assert "Invalid config passed" in str(exc.value)
    assert mock.requests() == []


def test_missing_provider_raises_bad_request(gateway_url, mock):
    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=PROVIDER_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert "x-portkey-provider" in str(exc.value)
    assert mock.requests() == []


def test_request_timeout_gives_408(openai_client, mock):
    client = openai_client(**{"x-portkey-request-timeout": "100"})
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="gpt-4o-mini+delay_ms=450", messages=HELLO)
    assert exc.value.status_code == 408
    assert "timeout" in str(exc.value).lower()


def test_mid_stream_drop_raises_while_iterating(openai_client, mock):
    client = openai_client()
    stream = client.chat.completions.create(
        model="gpt-4o-mini+content=a b c d e+chunks=5+drop_after=2", messages=HELLO, stream=True
    )
    received = []
    with pytest.raises((openai.APIError, httpx.TransportError)):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert 0 < len(received) <= 2, received


def test_mid_stream_error_event_raises(openai_client):
    client = openai_client()
    stream = client.chat.completions.create(
        model="gpt-4o-mini+chunks=4+error_after=1", messages=HELLO, stream=True
    )
    with pytest.raises((openai.APIError, httpx.TransportError)):
        for _ in stream:
            pass


# --- routing configs -------------------------------------------------------------------------


def test_fallback_config_returns_second_target(gateway_url, mock):
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "provider": "openai",
                "api_key": "sk-first",
                "custom_host": mock.base("openai"),
                "override_params": {"model": "gpt-4o-mini+status=503"},
            },
            {
                "provider": "anthropic",
                "api_key": "sk-second",
                "custom_host": mock.base("anthropic"),
                "override_params": {"model": "claude-sonnet-4-5+content=from the second target"},
            },
        ],
    }
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"x-portkey-config": json.dumps(config)},
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, max_tokens=32
    )
    assert raw.parse().choices[0].message.content == "from the second target"
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert raw.headers["x-portkey-provider"] == "anthropic"
    first, second = mock.requests()
    assert (first["path"], first["headers"]["authorization"]) == (
        "/v1/chat/completions",
        "Bearer sk-first",
    )
    assert (second["path"], second["headers"]["x-api-key"]) == ("/v1/messages", "sk-second")


def test_retry_config_recovers_after_429(gateway_url, mock):
    mock.enqueue(
        {"status": 429, "path": "/chat/completions", "headers": {"retry-after-ms": "50"}}
    )
    config = {
        "provider": "openai",
        "api_key": "sk-retry",
        "custom_host": mock.base("openai"),
        "retry": {"attempts": 2, "on_status_codes": [429], "use_retry_after_header": True},
    }
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"x-portkey-config": json.dumps(config)},
        max_retries=0,
    )
    # `retry-after-ms` (honoured with use_retry_after_header) keeps the wait short.
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini+content=recovered", messages=HELLO, timeout=10
    )
    assert raw.parse().choices[0].message.content == "recovered"
    assert raw.headers["x-portkey-retry-attempt-count"] == "1"
    assert len(mock.requests()) == 2


def test_retries_exhausted_reports_minus_one(gateway_url, mock):
    fast_429 = {"status": 429, "path": "/chat/completions", "headers": {"retry-after-ms": "20"}}
    mock.enqueue(fast_429, fast_429)
    config = {
        "provider": "openai",
        "api_key": "sk-retry",
        "custom_host": mock.base("openai"),
        "retry": {"attempts": 1, "on_status_codes": [429], "use_retry_after_header": True},
    }
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"x-portkey-config": json.dumps(config)},
        max_retries=0,
    )
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert exc.value.response.headers["x-portkey-retry-attempt-count"] == "-1"
    assert len(mock.requests()) == 2


# --- cross-provider details ------------------------------------------------------------------

TWO_TOOLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": {"tz": "CET"}},
]


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_parallel_tool_calls_across_providers(openai_client, mock, provider, stream):
    mock.enqueue({"tool_calls": TWO_TOOLS, "chunks": 3})
    client = openai_client(provider)
    kwargs = dict(
        model=MODELS[provider],
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    if not stream:
        msg = client.chat.completions.create(**kwargs).choices[0].message
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls]
    else:
        slots: dict[int, list] = {}
        for chunk in client.chat.completions.create(stream=True, **kwargs):
            for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                slot = slots.setdefault(tc.index, [None, "", ""])
                slot[0] = tc.id or slot[0]
                slot[1] += (tc.function.name or "") if tc.function else ""
                slot[2] += (tc.function.arguments or "") if tc.function else ""
        assert sorted(slots) == [0, 1]
        calls = [(s[0], s[1], json.loads(s[2])) for _, s in sorted(slots.items())]
    assert [(name, args) for _, name, args in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    ids = [i for i, _, _ in calls]
    assert all(ids) and len(set(ids)) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_cached_token_usage_across_providers(openai_client, provider):
    client = openai_client(provider)
    resp = client.chat.completions.create(
        model=f"{MODELS[provider]}+usage=100,20+cached=40", max_tokens=64, messages=HELLO
    )
    u = resp.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (100, 20, 120)
    assert u.prompt_tokens_details.cached_tokens == 40


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_multibyte_text_survives_streaming(openai_client, mock, provider):
    text = "héllo wörld 🌍 日本語 — ok"
    mock.enqueue({"content": text, "chunks": 9})
    client = openai_client(provider)
    stream = client.chat.completions.create(
        model=MODELS[provider], max_tokens=64, messages=HELLO, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text


def test_large_response_body(openai_client):
    client = openai_client()
    resp = client.chat.completions.create(model="gpt-4o-mini+bytes=300000", messages=HELLO)
    assert len(resp.choices[0].message.content) >= 300_000
    streamed = client.chat.completions.create(
        model="gpt-4o-mini+bytes=300000+chunks=50", messages=HELLO, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == resp.choices[0].message.content


def test_concurrent_async_streams(gateway_url, mock):
    """Many interleaved streams through one AsyncOpenAI client keep their own content."""
    import asyncio

    async def main():
        client = openai.AsyncOpenAI(
            base_url=f"{gateway_url}/v1",
            api_key=PROVIDER_KEY,
            default_headers={
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": mock.base("openai"),
            },
            max_retries=0,
        )

        async def one(i: int) -> str:
            stream = await client.chat.completions.create(
                model=f"gpt-4o-mini+content=stream number {i}+chunks=4+chunk_delay_ms=20",
                messages=HELLO,
                stream=True,
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        try:
            return await asyncio.gather(*(one(i) for i in range(12)))
        finally:
            await client.close()

    results = asyncio.run(main())
    assert results == [f"stream number {i}" for i in range(12)]
    assert len(mock.requests()) == 12


def test_models_retrieve_passthrough(openai_client, mock):
    client = openai_client()
    model = client.models.retrieve("gpt-4o")
    assert model.id == "gpt-4o"
    seen = mock.only_request()
    assert (seen["method"], seen["path"]) == ("GET", "/v1/models/gpt-4o")


def test_untrusted_custom_host_is_rejected(gateway_url, mock):
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key=PROVIDER_KEY,
        default_headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": "http://169.254.169.254/latest",
        },
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert "custom host" in str(exc.value).lower()
    assert mock.requests() == []


# --- cancellation and fault handling ----------------------------------------------------------


def _wait_for(predicate, timeout=2.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_closing_stream_cancels_upstream(openai_client, mock):
    before = mock.stats()["cancelled_streams"]
    client = openai_client()
    stream = client.chat.completions.create(
        model="gpt-4o-mini+chunks=40+chunk_delay_ms=50", messages=HELLO, stream=True
    )
    it = iter(stream)
    next(it), next(it)
    stream.close()
    assert _wait_for(lambda: mock.stats()["cancelled_streams"] > before), mock.stats()
    assert mock.stats()["open_streams"] == 0


def test_client_timeout_cancels_upstream_request(openai_client, mock):
    before = mock.stats()["cancelled_requests"]
    client = openai_client()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(
            model="gpt-4o-mini+delay_ms=5000", messages=HELLO, timeout=0.3
        )
    assert _wait_for(lambda: mock.stats()["cancelled_requests"] > before), mock.stats()


def test_fallback_on_timeout(gateway_url, mock):
    config = {
        "strategy": {"mode": "fallback", "on_status_codes": [408, 429, 500, 502, 503, 504]},
        "targets": [
            {
                "provider": "openai",
                "api_key": "sk-slow",
                "custom_host": mock.base("openai"),
                "request_timeout": 150,
                "override_params": {"model": "gpt-4o-mini+delay_ms=2000"},
            },
            {
                "provider": "google",
                "api_key": "gk-fast",
                "custom_host": mock.base("google"),
                "override_params": {"model": "gemini-2.5-flash+content=fast"},
            },
        ],
    }
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"x-portkey-config": json.dumps(config)},
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    assert raw.parse().choices[0].message.content == "fast"
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert raw.headers["x-portkey-provider"] == "google"


def test_streaming_fallback(gateway_url, mock):
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "provider": "anthropic",
                "api_key": "sk-down",
                "custom_host": mock.base("anthropic"),
                "override_params": {"model": "claude-sonnet-4-5+status=529"},
            },
            {
                "provider": "openai",
                "api_key": "sk-up",
                "custom_host": mock.base("openai"),
                "override_params": {"model": "gpt-4o-mini+content=streamed fallback+chunks=3"},
            },
        ],
    }
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"x-portkey-config": json.dumps(config)},
        max_retries=0,
    )
    with client.chat.completions.with_streaming_response.create(
        model="m", max_tokens=32, messages=HELLO, stream=True
    ) as raw:
        assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "streamed fallback"


def test_google_key_sent_as_goog_api_key(openai_client, mock):
    client = openai_client("google")
    client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    seen = mock.only_request()
    assert seen["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen["headers"].get("x-goog-api-key") == PROVIDER_KEY or f"key={PROVIDER_KEY}" in (
        seen["query"] or ""
    )
    assert "authorization" not in seen["headers"]


def test_forward_headers(openai_client, mock):
    client = openai_client(
        **{"x-portkey-forward-headers": "x-tenant, x-request-tag", "x-tenant": "acme"}
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, extra_headers={"x-request-tag": "t-1"}
    )
    headers = mock.only_request()["headers"]
    assert (headers.get("x-tenant"), headers.get("x-request-tag")) == ("acme", "t-1")


def test_anthropic_cache_control_thinking_and_beta_reach_upstream(openai_client, mock):
    """Portkey issue #1579: `cache_control` on content parts must not be dropped."""
    client = openai_client("anthropic")
    ephemeral = {"type": "ephemeral"}
    client.chat.completions.create(
        model="claude-sonnet-4-5",
        max_tokens=2048,
        messages=[
            {
                "role": "system",
                "content": [{"type": "text", "text": "Long system prompt", "cache_control": ephemeral}],
            },
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": ephemeral}]},
        ],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    seen = mock.only_request()
    sent = body_of(seen)
    assert sent["system"] == [
        {"type": "text", "text": "Long system prompt", "cache_control": ephemeral}
    ]
    assert sent["messages"][0]["content"][0]["cache_control"] == ephemeral
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert seen["headers"]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
