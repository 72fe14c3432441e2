"""The official `anthropic` Python SDK against the gateway's `/v1/messages` routes."""

from __future__ import annotations

import anthropic
import httpx
import httpx2
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION

from conftest import body_of

HELLO = [{"role": "user", "content": "Hello there"}]
MODEL = "claude-sonnet-4-5"


def test_messages_create(anthropic_client, mock):
    raw = anthropic_client.messages.with_raw_response.create(
        model=f"{MODEL}+content=hi from claude+usage=11,3",
        max_tokens=64,
        system="Be brief.",
        messages=HELLO,
    )
    msg = raw.parse()
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.model == MODEL
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "hi from claude"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (11, 3)
    assert raw.headers["x-portkey-provider"] == "anthropic"

    seen = mock.only_request()
    assert seen["path"] == "/v1/messages"
    # The SDK authenticates with x-api-key and names an API version; both reach Anthropic.
    assert seen["headers"]["x-api-key"] == "sk-ant-test-e2e"
    assert seen["headers"]["anthropic-version"] == ANTHROPIC_API_VERSION
    sent = body_of(seen)
    assert sent["system"] == "Be brief."
    assert sent["max_tokens"] == 64
    assert sent["messages"] == HELLO


def test_messages_stream(anthropic_client):
    with anthropic_client.messages.stream(
        model=f"{MODEL}+content=streaming from claude+chunks=4+usage=8,4",
        max_tokens=64,
        messages=HELLO,
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "streaming from claude"
    assert len(pieces) == 4
    assert final.content[0].text == "streaming from claude"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4


def test_messages_tool_use(anthropic_client):
    msg = anthropic_client.messages.create(
        model=f'{MODEL}+tool=get_weather+args={{"city":"Paris"}}',
        max_tokens=64,
        tools=[
            {
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert msg.stop_reason == "tool_use"
    tool = next(b for b in msg.content if b.type == "tool_use")
    assert tool.name == "get_weather"
    assert tool.input == {"city": "Paris"}


def test_count_tokens(anthropic_client, mock):
    result = anthropic_client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert isinstance(result.input_tokens, int) and result.input_tokens > 0
    seen = mock.only_request()
    assert seen["path"] == "/v1/messages/count_tokens"
    assert seen["headers"]["x-api-key"] == "sk-ant-test-e2e"


def test_overloaded_529_raises_overloaded_error(anthropic_client, mock):
    with pytest.raises(anthropic.OverloadedError) as exc:
        anthropic_client.messages.create(
            model=f"{MODEL}+status=529", max_tokens=16, messages=HELLO
        )
    assert exc.value.status_code == 529
    assert len(mock.requests()) == 1


def test_rate_limit_raises_rate_limit_error(anthropic_client):
    with pytest.raises(anthropic.RateLimitError) as exc:
        anthropic_client.messages.create(
            model=f"{MODEL}+status=429+retry_after=1", max_tokens=16, messages=HELLO
        )
    assert exc.value.status_code == 429


def test_stream_drop_raises(anthropic_client):
    with pytest.raises((anthropic.APIError, httpx.TransportError, httpx2.TransportError)):
        with anthropic_client.messages.stream(
            model=f"{MODEL}+chunks=4+drop_after=1", max_tokens=32, messages=HELLO
        ) as stream:
            for _ in stream.text_stream:
                pass
