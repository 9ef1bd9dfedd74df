import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTargetHost, type AddressPolicy, type Resolver } from '../../src/delivery/address-guard.js';
import { MAX_TARGET_URL_LENGTH, parseTargetUrl, redactUrl } from '../../src/delivery/target-url.js';

const DEFAULT_POLICY: AddressPolicy = { allowPrivateTargets: false, allowCidrs: [] };

/** IP literal hosts must be checked without any DNS lookup. */
const failingResolver: Resolver = async (hostname) => {
  throw new Error(`resolver called for ${hostname}, but IP literals must not be resolved`);
};

function rejectionMessage(input: unknown): string {
  const result = parseTargetUrl(input);
  assert.equal(result.ok, false, `expected ${JSON.stringify(input)} to be rejected`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.error.field, 'url');
  return result.error.message;
}

describe('parseTargetUrl rejections', () => {
  const longUrl = `https://example.com/${'a'.repeat(MAX_TARGET_URL_LENGTH)}`;
  const cases: Array<[name: string, input: unknown, expected: RegExp]> = [
    ['number', 42, /expected a string .* got number/],
    ['null', null, /got null/],
    ['undefined', undefined, /got undefined/],
    ['object', { url: 'https://example.com' }, /got object/],
    ['array', ['https://example.com'], /got an array/],
    ['empty string', '', /got an empty string/],
    ['too long', longUrl, /at most 2048 characters, got 2068/],
    ['leading space', ' https://example.com/', /a space \(U\+0020\) at position 0.*not trimmed/],
    ['trailing space', 'https://example.com/ ', /a space \(U\+0020\) at position 20/],
    ['inner space', 'https://exa mple.com/', /a space \(U\+0020\) at position 11/],
    ['tab', 'https://example.com/\tx', /a tab \(U\+0009\)/],
    ['line feed', 'https://example.com/\nx', /a line feed \(U\+000A\)/],
    ['carriage return', 'https://example.com\r/', /a carriage return \(U\+000D\)/],
    ['NUL', 'https://example.com/\u0000', /a NUL character \(U\+0000\)/],
    ['DEL', 'https://example.com/\u007f', /U\+007F/],
    ['next line', 'https://example.com/\u0085', /U\+0085/],
    ['no-break space', 'https://example.com/\u00a0', /a no-break space \(U\+00A0\)/],
    ['redacted user name', 'https://REDACTED@example.com/', /the real user name, got the placeholder REDACTED/],
    ['redacted password', 'https://deploy:REDACTED@example.com/', /the real password, got the placeholder REDACTED/],
    ['redacted path segment', 'https://example.com/hooks/REDACTED', /the real path, got the placeholder REDACTED/],
    ['redacted path parameter', 'https://example.com/app;v=1;jsessionid=REDACTED/hook', /the real path, got the placeholder REDACTED/],
    ['redacted query value', 'https://example.com/hook?token=REDACTED', /the real query, got the placeholder REDACTED.*leave url out/],
    ['em space', 'https://example.com/\u2003', /U\+2003/],
    ['ideographic space', 'https://example.com/\u3000', /U\+3000/],
    ['line separator', 'https://example.com/\u2028', /U\+2028/],
    ['zero-width space in host', 'https://exa\u200bmple.com/', /a zero-width space \(U\+200B\)/],
    ['byte order mark', '\ufeffhttps://example.com/', /a byte order mark \(U\+FEFF\) at position 0/],
    ['right-to-left override', 'https://example.com/\u202egpj', /U\+202E/],
    ['lone surrogate', 'https://example.com/\ud800', /U\+D800/],
    ['javascript scheme', 'javascript:alert(1)', /expected the scheme http or https, got "javascript"/],
    ['file scheme', 'file:///etc/passwd', /got "file"/],
    ['ftp scheme', 'ftp://example.com/', /got "ftp"/],
    ['data scheme', 'data:text/plain,hello', /got "data"/],
    ['websocket scheme', 'ws://example.com/', /got "ws"/],
    ['gopher scheme', 'gopher://example.com:70/', /got "gopher"/],
    ['no scheme', 'example.com/hook', /without a scheme/],
    ['host and port without scheme', 'localhost:8080/hook', /without a scheme/],
    ['scheme-relative', '//example.com/hook', /without a scheme/],
    ['missing slashes', 'http:example.com', /expected "http:\/\/" at the start/],
    ['one slash', 'https:/example.com', /expected "https:\/\/" at the start/],
    ['backslashes instead of slashes', 'http:\\\\example.com', /expected "http:\/\/" at the start/],
    ['backslash in authority', 'http://example.com\\@attacker.test/', /expected no backslash, got one at position 18/],
    ['fragment', 'https://example.com/hook#section', /expected no fragment, got "#" at position 24/],
    ['empty fragment', 'https://example.com/hook#', /expected no fragment/],
    ['no host', 'http://', /expected a host after "http:\/\/"/],
    ['empty authority', 'http:///example.com', /expected a host/],
    ['only user info', 'http://user@/hook', /expected a host/],
    ['only query', 'http://?x=1', /expected a host/],
    ['port zero', 'http://example.com:0/', /expected a port from 1 to 65535, got 0/],
    ['port too large', 'http://example.com:65536/', /could not be parsed/],
    ['port not a number', 'http://example.com:http/', /could not be parsed/],
    ['unclosed IPv6 bracket', 'http://[::1/', /could not be parsed/],
    ['IPv6 zone id', 'http://[fe80::1%25eth0]/', /could not be parsed/],
    ['invalid host character', 'http://a!b.example/', /expected a host name of dot-separated labels/],
    ['empty label', 'http://a..example/', /dot-separated labels/],
    ['label too long', `http://${'a'.repeat(64)}.example/`, /1 to 63 characters each/],
  ];

  for (const [name, input, expected] of cases) {
    it(`rejects ${name}`, () => {
      assert.match(rejectionMessage(input), expected);
    });
  }

  it('uses the given field name', () => {
    const result = parseTargetUrl('ftp://example.com/', 'hooks[3].url');
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.field, 'hooks[3].url');
  });

  it('never echoes credentials of a rejected URL', () => {
    const message = rejectionMessage('https://user:hunter2-secret@example.com/#frag');
    assert.doesNotMatch(message, /hunter2/);
  });
});

describe('parseTargetUrl accepted URLs', () => {
  const cases: Array<[input: string, href: string, hostname: string]> = [
    ['https://example.com/hook', 'https://example.com/hook', 'example.com'],
    ['HTTPS://Example.COM:443/Hook', 'https://example.com/Hook', 'example.com'],
    ['http://example.com:8080', 'http://example.com:8080/', 'example.com'],
    ['https://example.com/hook?a=1&b=2', 'https://example.com/hook?a=1&b=2', 'example.com'],
    ['http://[::1]:8080/x', 'http://[::1]:8080/x', '[::1]'],
    ['http://[2001:DB8::1]/', 'http://[2001:db8::1]/', '[2001:db8::1]'],
    ['https://bücher.example/', 'https://xn--bcher-kva.example/', 'xn--bcher-kva.example'],
    ['https://_service.example.com/', 'https://_service.example.com/', '_service.example.com'],
    ['https://example.com./', 'https://example.com./', 'example.com.'],
  ];

  for (const [input, href, hostname] of cases) {
    it(`accepts ${input}`, () => {
      const result = parseTargetUrl(input);
      assert.equal(result.ok, true, result.ok ? '' : result.error.message);
      if (!result.ok) return;
      assert.equal(result.value.url.href, href);
      assert.equal(result.value.url.hostname, hostname);
    });
  }

  it('accepts a URL of exactly the maximum length', () => {
    const prefix = 'https://example.com/';
    const input = prefix + 'a'.repeat(MAX_TARGET_URL_LENGTH - prefix.length);
    assert.equal(input.length, MAX_TARGET_URL_LENGTH);
    assert.equal(parseTargetUrl(input).ok, true);
  });

  it('accepts credentials and redacts them', () => {
    const result = parseTargetUrl('https://deploy:s3cr3t-pass@example.com/hook?token=abc123&event=push');
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.value.url.username, 'deploy');
    assert.equal(result.value.url.password, 's3cr3t-pass');
    assert.equal(result.value.redacted, 'https://REDACTED:REDACTED@example.com/hook?token=REDACTED&event=push');
  });
});

describe('IP literal hosts normalised then blocked', () => {
  // WHATWG URL turns every IPv4 spelling into dotted decimal, so the address
  // guard sees the address that a socket would connect to.
  const cases: Array<[input: string, hostname: string, reason: string]> = [
    ['http://127.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://127.1/', '127.0.0.1', 'loopback'],
    ['http://2130706433/', '127.0.0.1', 'loopback'],
    ['http://0x7f000001/', '127.0.0.1', 'loopback'],
    ['http://0x7f.1/', '127.0.0.1', 'loopback'],
    ['http://0x7f.0x0.0x0.0x1/', '127.0.0.1', 'loopback'],
    ['http://0177.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://0177.1/', '127.0.0.1', 'loopback'],
    ['http://１２７.０.０.１/', '127.0.0.1', 'loopback'],
    ['http://0/', '0.0.0.0', 'unspecified'],
    ['http://0x0a.0.0.1/', '10.0.0.1', 'private'],
    ['http://167772161/', '10.0.0.1', 'private'],
    ['http://0xa9fea9fe/', '169.254.169.254', 'metadata'],
    ['http://2852039166/', '169.254.169.254', 'metadata'],
    ['http://[::1]/', '[::1]', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]', 'ipv4_mapped'],
    ['http://[::ffff:7f00:1]/', '[::ffff:7f00:1]', 'ipv4_mapped'],
    ['http://[::ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe]', 'metadata'],
    ['http://[64:ff9b::127.0.0.1]/', '[64:ff9b::7f00:1]', 'nat64'],
    ['http://[fd00:ec2::254]/', '[fd00:ec2::254]', 'metadata'],
  ];

  for (const [input, hostname, reason] of cases) {
    it(`blocks ${input} as ${reason}`, async () => {
      const result = parseTargetUrl(input);
      assert.equal(result.ok, true, result.ok ? '' : result.error.message);
      if (!result.ok) return;
      assert.equal(result.value.url.hostname, hostname);

      const decision = await checkTargetHost(result.value.url, DEFAULT_POLICY, failingResolver);
      assert.equal(decision.allowed, false);
      if (!decision.allowed) assert.equal(decision.reason, reason);
    });
  }
});

describe('redactUrl', () => {
  const cases: Array<[name: string, input: string, expected: string]> = [
    ['user and password', 'https://user:pw@example.com/x', 'https://REDACTED:REDACTED@example.com/x'],
    ['user name only', 'https://tok_abc@example.com/', 'https://REDACTED@example.com/'],
    ['password only', 'https://:pw@example.com/', 'https://:REDACTED@example.com/'],
    [
      'secret-like query names',
      'https://example.com/h?token=a&x=1&api_key=b&X-Amz-Signature=c&sig=d&password=e&pwd=f&passwd=g&auth=h&client_secret=i&code=j&credential=k',
      'https://example.com/h?token=REDACTED&x=1&api_key=REDACTED&X-Amz-Signature=REDACTED&sig=REDACTED&password=REDACTED&pwd=REDACTED&passwd=REDACTED&auth=REDACTED&client_secret=REDACTED&code=REDACTED&credential=REDACTED',
    ],
    ['case-insensitive names', 'https://example.com/?ACCESS_TOKEN=a&Key=b', 'https://example.com/?ACCESS_TOKEN=REDACTED&Key=REDACTED'],
    ['session and hmac names', 'https://example.com/h?pass=a&session=b&hmac=c&jwt=d&page=2&session_id=e', 'https://example.com/h?pass=REDACTED&session=REDACTED&hmac=REDACTED&jwt=REDACTED&page=2&session_id=REDACTED'],
    ['words that contain pass kept', 'https://example.com/h?passenger=3&bypass=1&compass=n&passage=a', 'https://example.com/h?passenger=3&bypass=1&compass=n&passage=a'],
    ['path parameters', 'https://example.com/app;jsessionid=ABC123;v=2/hook', 'https://example.com/app;jsessionid=REDACTED;v=2/hook'],
    ['percent-encoded name', 'https://example.com/?access%5Ftoken=a', 'https://example.com/?access%5Ftoken=REDACTED'],
    ['parameter without value', 'https://example.com/?token&x=1', 'https://example.com/?token&x=1'],
    ['ordinary query kept', 'https://example.com/a?b=c&d=e%20f', 'https://example.com/a?b=c&d=e%20f'],
    ['token-like path segment', 'https://hooks.example.com/services/T0123/B0456/a1B2c3D4e5F6g7H8i9J0k1L2', 'https://hooks.example.com/services/T0123/B0456/REDACTED'],
    ['UUID path segment', 'https://example.com/w/550e8400-e29b-41d4-a716-446655440000', 'https://example.com/w/REDACTED'],
    ['readable path kept', 'https://example.com/release-notes-2024/ci_build_hook_v2', 'https://example.com/release-notes-2024/ci_build_hook_v2'],
    ['fragment', 'https://example.com/cb#access_token=abc', 'https://example.com/cb#REDACTED'],
    ['nothing to redact', 'https://example.com/hook', 'https://example.com/hook'],
    ['unparseable text', 'not a url with password hunter2', '[invalid URL]'],
  ];

  for (const [name, input, expected] of cases) {
    it(`redacts ${name}`, () => {
      assert.equal(redactUrl(input), expected);
    });
  }

  it('accepts a URL object and leaves it unchanged', () => {
    const url = new URL('https://user:pw@example.com/?token=abc');
    assert.equal(redactUrl(url), 'https://REDACTED:REDACTED@example.com/?token=REDACTED');
    assert.equal(url.href, 'https://user:pw@example.com/?token=abc');
  });

  it('leaves no secret value in the output', () => {
    const secrets = ['u53rname', 'pa55word', 'tok3nvalue', 's1gvalue'];
    const redacted = redactUrl(`https://${secrets[0]}:${secrets[1]}@example.com/?access_token=${secrets[2]}&signature=${secrets[3]}`);
    for (const secret of secrets) assert.equal(redacted.includes(secret), false, `${secret} appears in ${redacted}`);
  });
});
