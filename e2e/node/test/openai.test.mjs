// The official OpenAI Node SDK against the gateway, with the mock provider upstream.
// e2e/run.sh exports PORTCULLIS_URL (gateway root) and MOCK_URL (mock root).

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

const GATEWAY = (process.env.PORTCULLIS_URL ?? '').replace(/\/$/, '');
const MOCK = (process.env.MOCK_URL ?? '').replace(/\/$/, '');
if (!GATEWAY || !MOCK) {
  throw new Error('PORTCULLIS_URL and MOCK_URL must be set; run through e2e/run.sh');
}

const KEY = 'sk-test-node';
const HELLO = [{ role: 'user', content: 'Hello there' }];

function client(extraHeaders = {}) {
  return new OpenAI({
    apiKey: KEY,
    baseURL: `${GATEWAY}/v1`,
    maxRetries: 0,
    timeout: 20_000,
    defaultHeaders: {
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${MOCK}/v1`,
      ...extraHeaders,
    },
  });
}

async function mockRequests() {
  const resp = await fetch(`${MOCK}/__mock/requests`);
  assert.equal(resp.status, 200);
  return resp.json();
}

beforeEach(async () => {
  for (const what of ['requests', 'replies']) {
    const resp = await fetch(`${MOCK}/__mock/${what}`, { method: 'DELETE' });
    assert.equal(resp.status, 204);
  }
});

describe('openai node sdk through portcullis', () => {
  test('chat completion', async () => {
    const { data, response } = await client({ 'x-portkey-trace-id': 'node-1' })
      .chat.completions.create({ model: 'gpt-4o-mini+content=hello node+usage=7,2', messages: HELLO })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'gpt-4o-mini');
    assert.equal(data.choices[0].message.content, 'hello node');
    assert.deepEqual([data.usage.prompt_tokens, data.usage.completion_tokens], [7, 2]);
    assert.equal(response.headers.get('x-portkey-provider'), 'openai');
    assert.equal(response.headers.get('x-portkey-trace-id'), 'node-1');
    const [seen] = await mockRequests();
    assert.equal(seen.path, '/v1/chat/completions');
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
  });

  test('stream with usage', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini+content=one two three+chunks=3+usage=5,3',
      messages: HELLO,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces = [];
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        if (choice.delta.content) pieces.push(choice.delta.content);
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(pieces.join(''), 'one two three');
    assert.equal(finish, 'stop');
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.total_tokens], [5, 3, 8]);
  });

  test('tool call (non-stream and stream)', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const model = 'gpt-4o-mini+tool=get_weather+args={"city":"Paris"}+chunks=3';
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const resp = await client().chat.completions.create({ model, messages, tools });
    const call = resp.choices[0].message.tool_calls[0];
    assert.equal(resp.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

    const stream = await client().chat.completions.create({ model, messages, tools, stream: true });
    let name = '';
    let args = '';
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        name += tc.function?.name ?? '';
        args += tc.function?.arguments ?? '';
      }
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  });

  test('embeddings', async () => {
    const resp = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    assert.equal(resp.data.length, 2);
    assert.ok(resp.data[0].embedding.length > 0);
    assert.equal(typeof resp.data[0].embedding[0], 'number');
    assert.equal(resp.data[0].embedding.length, resp.data[1].embedding.length);
  });

  test('429 rejects with RateLimitError', async () => {
    await assert.rejects(
      client().chat.completions.create({
        model: 'gpt-4o-mini+status=429+retry_after=1',
        messages: HELLO,
      }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 429);
        return true;
      },
    );
    assert.equal((await mockRequests()).length, 1);
  });

  test('mid-stream drop rejects the async iterator', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini+content=a b c d e+chunks=5+drop_after=2',
      messages: HELLO,
      stream: true,
    });
    const pieces = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) pieces.push(text);
      }
    });
    assert.ok(pieces.length > 0 && pieces.length <= 2, `received ${JSON.stringify(pieces)}`);
  });
});
