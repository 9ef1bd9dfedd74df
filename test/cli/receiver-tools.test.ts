import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { UsageError } from '../../src/cli/errors.js';
import { forwardedHeaders, forwardRequest, isLoopbackHost, parseForwardTarget } from '../../src/cli/forward.js';
import { checkHubSignature, checkStandardSignature, describeChecks } from '../../src/cli/signature-check.js';
import { Receiver } from '../support/receiver.js';

describe('isLoopbackHost', () => {
  const cases: [string, boolean][] = [
    ['localhost', true],
    ['api.localhost', true],
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['[::1]', true],
    ['[0:0:0:0:0:0:0:1]', true],
    ['[::ffff:127.0.0.1]', true],
    [new URL('http://[::ffff:127.0.0.1]/').hostname, true],
    [new URL('http://[::ffff:10.0.0.1]/').hostname, false],
    ['localhost.', true],
    ['127.0.0.1.', false],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['[::2]', false],
    ['[::ffff:10.0.0.1]', false],
    ['example.com', false],
    ['localhost.example.com', false],
  ];
  for (const [host, expected] of cases) {
    test(host, () => assert.equal(isLoopbackHost(host), expected));
  }
});

describe('parseForwardTarget', () => {
  test('accepts loopback, and remote only when allowed', () => {
    assert.equal(parseForwardTarget('http://127.0.0.1:3000/hook', false).href, 'http://127.0.0.1:3000/hook');
    assert.equal(parseForwardTarget('https://example.com/hook', true).host, 'example.com');
  });

  const rejected: [string, RegExp][] = [
    ['http://example.com/hook', /--forward example\.com is not a loopback address; .* pass --allow-remote-forward/],
    ['ftp://127.0.0.1/', /--forward must use http or https, got ftp/],
    ['not a url', /--forward must be an absolute http or https URL/],
  ];
  for (const [value, message] of rejected) {
    test(`rejects ${value}`, () =>
      assert.throws(() => parseForwardTarget(value, false), (error: unknown) => error instanceof UsageError && message.test(error.message)));
  }
});

test('forwardedHeaders keeps delivery and signature headers only', () => {
  const picked = forwardedHeaders({
    'content-type': 'application/json',
    'x-dits-event': 'push',
    'x-dits-delivery': 'd',
    'x-hub-signature-256': 'sha256=ab',
    'webhook-signature': 'v1,a v1,b',
    authorization: 'Bearer secret',
    host: '127.0.0.1:9000',
    'content-length': '2',
  });
  assert.deepEqual(Object.keys(picked).sort(), ['content-type', 'webhook-signature', 'x-dits-delivery', 'x-dits-event', 'x-hub-signature-256']);
});

describe('forwardRequest', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await Receiver.start();
  });
  after(() => receiver.close());

  test('sends identical bytes and returns the status', async () => {
    receiver.respondStatus(204);
    const body = Buffer.from('{"b":1,  "a":[2]}\n');
    const outcome = await forwardRequest(new URL(receiver.url), body, { 'x-dits-event': 'push', 'content-type': 'application/json' });
    assert.deepEqual(outcome, { status: 204 });
    assert.ok(receiver.requests[0].body.equals(body));
    assert.equal(receiver.requests[0].headers['x-dits-event'], 'push');
  });

  test('reports a refused connection', async () => {
    const closed = await Receiver.start();
    const url = new URL(closed.url);
    await closed.close();
    assert.deepEqual(await forwardRequest(url, Buffer.from('{}'), {}), { error: 'connection refused' });
  });
});

describe('signature checks', () => {
  const secret = 'whsec_' + Buffer.alloc(32, 3).toString('base64');
  const body = Buffer.from('{"event":"ping"}');
  const hub = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const signature = new Webhook(secret).sign('msg_1', new Date(now * 1000), body.toString());
  const standardHeaders = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(now), 'webhook-signature': signature };

  test('hub scheme', () => {
    assert.deepEqual(checkHubSignature(secret, body, hub), { result: 'ok' });
    assert.equal(checkHubSignature(secret, body, undefined).result, 'missing');
    assert.match((checkHubSignature(secret, body, 'sha1=abc') as { reason: string }).reason, /must look like sha256=<64 hex digits>/);
    assert.equal(checkHubSignature(secret, Buffer.from('{"event": "ping"}'), hub).result, 'invalid');
  });

  test('standard scheme', () => {
    assert.deepEqual(checkStandardSignature(secret, body, standardHeaders, 300), { result: 'ok' });
    assert.equal(checkStandardSignature(secret, body, {}, 300).result, 'missing');
    const old = checkStandardSignature(secret, body, standardHeaders, 300, now + 3600);
    assert.match((old as { reason: string }).reason, /outside the tolerance window; .*--tolerance 0/);
    assert.deepEqual(checkStandardSignature(secret, body, standardHeaders, Infinity, now + 3600), { result: 'ok' });
    assert.equal(checkStandardSignature('whsec_' + Buffer.alloc(32, 4).toString('base64'), body, standardHeaders, 300).result, 'invalid');
  });

  test('describeChecks', () => {
    assert.equal(describeChecks({ result: 'ok' }, { result: 'ok' }), 'hub ok, standard ok');
    assert.equal(describeChecks({ result: 'invalid', reason: 'x' }, { result: 'missing', reason: 'y' }), 'hub INVALID, standard missing');
  });
});
