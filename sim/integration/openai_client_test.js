// The official OpenAI client (npm `openai`) against bench-sim: a streamed chat completion and a
// streamed completion with usage, a non-streamed chat completion, the model list and a 404 error.
// Usage: SIM_URL=http://127.0.0.1:PORT/v1 NODE_PATH=tests/node/node_modules node openai_client_test.js
'use strict';
const assert = require('assert');
const {OpenAI} = require('openai');

async function main() {
  const client = new OpenAI({baseURL: process.env.SIM_URL, apiKey: 'unused', maxRetries: 0});

  // Streamed chat completion with usage. ignore_eos (a vLLM extension) makes the length exact.
  const chat = await client.chat.completions.create({
    model: 'sim-model',
    messages: [{role: 'user', content: 'Say hello to the world'}],
    max_tokens: 8,
    ignore_eos: true,
    stream: true,
    stream_options: {include_usage: true},
  });
  let role = null;
  let text = '';
  let finish = null;
  let usage = null;
  let contentChunks = 0;
  for await (const chunk of chat) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, 'sim-model');
    assert.match(chunk.id, /^chatcmpl-[0-9a-f]{32}$/);
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) {
        text += choice.delta.content;
        contentChunks += 1;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(finish, 'length');
  assert.equal(contentChunks, 8);
  assert.equal(text.split(' ').length, 8, `eight words expected, got "${text}"`);
  assert.deepEqual(usage, {
    prompt_tokens: 5, total_tokens: 13, completion_tokens: 8,
    prompt_tokens_details: {cached_tokens: 0},
  });
  console.log(`ok: streamed chat: "${text}" usage ${JSON.stringify(usage)}`);

  // Streamed completion with usage.
  const completion = await client.completions.create({
    model: 'sim-model',
    prompt: 'Once upon a time',
    max_tokens: 6,
    ignore_eos: true,
    stream: true,
    stream_options: {include_usage: true},
  });
  let completionText = '';
  let completionUsage = null;
  let completionFinish = null;
  for await (const chunk of completion) {
    assert.equal(chunk.object, 'text_completion');
    if (chunk.usage) completionUsage = chunk.usage;
    for (const choice of chunk.choices) {
      completionText += choice.text;
      if (choice.finish_reason) completionFinish = choice.finish_reason;
    }
  }
  assert.equal(completionFinish, 'length');
  assert.equal(completionUsage.prompt_tokens, 4);
  assert.equal(completionUsage.completion_tokens, 6);
  assert.equal(completionText.split(' ').length, 6);
  console.log(`ok: streamed completion: "${completionText}" usage ${JSON.stringify(completionUsage)}`);

  // Not streamed.
  const whole = await client.chat.completions.create({
    model: 'sim-model',
    messages: [{role: 'system', content: 'Be brief.'}, {role: 'user', content: 'Hi!'}],
    max_completion_tokens: 4,
    ignore_eos: true,
  });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(whole.choices[0].message.content.split(' ').length, 4);
  assert.equal(whole.usage.prompt_tokens, 5);  // Be brief . Hi !
  assert.equal(whole.usage.completion_tokens, 4);
  console.log(`ok: chat completion: "${whole.choices[0].message.content}"`);

  const models = await client.models.list();
  assert.deepEqual(models.data.map((model) => model.id), ['sim-model']);

  await assert.rejects(
      client.chat.completions.create({model: 'other', messages: [{role: 'user', content: 'x'}]}),
      (error) => {
        assert.ok(error instanceof OpenAI.NotFoundError, `NotFoundError expected: ${error}`);
        assert.equal(error.status, 404);
        assert.match(error.message, /does not exist/);
        return true;
      });
  console.log('ok: models list and a 404 error');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
