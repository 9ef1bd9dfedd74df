/**
 * Reports whether an Accept header requests a Server-Sent Events stream:
 * `text/event-stream` is named with a quality above 0 and at least the
 * quality of JSON (`application/json`, `application/*` or `*\/*`). A
 * header without it, or with `text/event-stream;q=0`, gets JSON.
 */
export function wantsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let stream = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const quality = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(quality)) continue;
    if (type === 'text/event-stream') stream = Math.max(stream, quality);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, quality);
  }
  return stream > 0 && stream >= json;
}
