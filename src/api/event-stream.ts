/**
 * Server-Sent Events stream of a repository's events. Each message's `id` is
 * the event's sequence number and its `event` field the event name, so a
 * client that reconnects with Last-Event-ID receives every event it missed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import type { ApiContext } from './context.js';
import { eventView } from './views.js';
import { ApiError, invalidRequest } from '../errors.js';
import { EVENT_STREAM_PAYLOAD_BYTES } from '../store/event-page.js';

/** How often an open stream looks for new events, in ms. Polling also finds events that other processes stored. */
const STREAM_POLL_MS = 250;

/** Bytes a stream's response may hold unsent before it stops reading events, about one stream read. */
const STREAM_BUFFER_BYTES = 1024 * 1024;
/** Reconnection delay sent to clients in the `retry` field, in ms. */
const CLIENT_RETRY_MS = 2000;
/** Events read from the store per query while a stream catches up. */
const PAGE_SIZE = 100;

/** Functions that end each open stream, per API context, so that shutdown can end them all. */
const openStreams = new WeakMap<ApiContext, Set<() => void>>();
/** Open streams per token id, per API context. */
const tokenStreams = new WeakMap<ApiContext, Map<number, number>>();

function streamsOf(context: ApiContext): Set<() => void> {
  let streams = openStreams.get(context);
  if (!streams) {
    streams = new Set();
    openStreams.set(context, streams);
  }
  return streams;
}

function tokenStreamsOf(context: ApiContext): Map<number, number> {
  let counts = tokenStreams.get(context);
  if (!counts) {
    counts = new Map();
    tokenStreams.set(context, counts);
  }
  return counts;
}

/**
 * Ends every open stream when the server closes, and counts open streams in
 * the `dits_webhook_event_streams_open` gauge. Call it once per server.
 */
export function trackEventStreams(app: FastifyInstance, context: ApiContext): void {
  const streams = streamsOf(context);
  new Gauge({
    name: 'dits_webhook_event_streams_open',
    help: 'Event streams (Server-Sent Events) open on this process.',
    registers: [context.metrics.registry],
    collect() {
      this.set(streams.size);
    },
  });
  // A stream is never an idle connection, so without this the HTTP server would wait for every client to leave before it closes.
  app.addHook('preClose', (done) => {
    for (const end of [...streams]) end();
    done();
  });
}

/** Returns the sequence number in a Last-Event-ID header, or null when the header is absent or not a sequence number. */
export function parseLastEventId(header: unknown): number | null {
  if (typeof header !== 'string') return null;
  const value = header.trim();
  return /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/** Formats one event as an SSE message; JSON.stringify never emits a newline, so `data` stays one line. */
export function formatEventMessage(seq: number, event: string, data: unknown): string {
  return `id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

async function newestSeq(context: ApiContext, repoId: number): Promise<number> {
  const latest = await context.store.listEvents({ repoId, limit: 1 });
  return latest.items[0]?.seq ?? 0;
}

/**
 * Streams a repository's new events until the client disconnects or the
 * server closes. Without Last-Event-ID the stream starts after the newest
 * stored event.
 */
/** Time between checks that the stream's token is still valid, in ms; a revoked token's stream ends at the next check. */
const TOKEN_RECHECK_MS = 2000;

/** Response headers of an event stream; `x-accel-buffering: no` keeps nginx from holding messages back. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

export async function streamEvents(context: ApiContext, request: FastifyRequest, reply: FastifyReply, repoId: number): Promise<void> {
  const header = request.headers['last-event-id'];
  const resumeAfter = parseLastEventId(header);
  // An id this stream never sent would silently restart from the newest event, so it is rejected instead.
  if (resumeAfter === null && header !== undefined && !(typeof header === 'string' && header.trim() === '')) {
    throw invalidRequest([
      { field: 'Last-Event-ID', message: 'must be the id of an event this stream sent, a whole number of at most 15 digits; leave the header out to start after the newest event' },
    ]);
  }
  if (resumeAfter !== null) {
    // An id past every stored event (a database reset, another server) would skip the events up to it without a word.
    const newest = await context.store.newestEventSeq();
    if (resumeAfter > newest) {
      throw invalidRequest([
        { field: 'Last-Event-ID', message: `${resumeAfter} is newer than every stored event (the newest is ${newest}); leave the header out to start after the newest event` },
      ]);
    }
  }
  if (request.method === 'HEAD') {
    // Node sends a HEAD response's headers only when the response ends, so a HEAD gets the stream's headers and no stream.
    reply.code(200).headers(STREAM_HEADERS).send();
    return;
  }
  let cursor = resumeAfter ?? (await newestSeq(context, repoId));
  const tokenId = request.token?.id ?? null;
  const streamsPerToken = tokenStreamsOf(context);
  const limit = context.config.eventStreamsPerToken;
  if (tokenId !== null && (streamsPerToken.get(tokenId) ?? 0) >= limit) {
    throw new ApiError(
      'too_many_streams',
      `Token ${request.token!.name} already has ${limit} open event streams on this server process, the maximum; close one first, or raise eventStreamsPerToken (DITS_WEBHOOKS_EVENT_STREAMS_PER_TOKEN).`,
    );
  }

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, STREAM_HEADERS);
  res.write(`: connected\nretry: ${CLIENT_RETRY_MS}\n\n`);

  let closed = false;
  let polling = false;
  // Writing after the response ended would emit an error event on it, so every write checks first.
  const write = (text: string) => {
    if (!closed && !res.writableEnded) res.write(text);
  };

  // A client that does not read fills the response buffer, and nothing more is read from the store until it has
  // room again. Reading then goes on at once, not at the next poll.
  let waitingForDrain = false;
  const bufferFull = () => res.writableLength >= STREAM_BUFFER_BYTES;
  const waitForDrain = () => {
    if (waitingForDrain) return;
    waitingForDrain = true;
    res.once('drain', () => {
      waitingForDrain = false;
      void poll();
    });
  };

  let lastTokenCheck = Date.now();
  const poll = async () => {
    if (closed || polling || waitingForDrain) return;
    polling = true;
    try {
      let tokenChecked = false;
      for (;;) {
        const page = await context.store.listEvents({ repoId, afterSeq: cursor, limit: PAGE_SIZE, payloadBudget: EVENT_STREAM_PAYLOAD_BYTES });
        // The token is checked again before events are written, so events found after a revocation are not sent,
        // and every TOKEN_RECHECK_MS on a quiet stream, so that its connection ends soon after the revocation.
        if (request.token && !tokenChecked && (page.items.length > 0 || Date.now() - lastTokenCheck >= TOKEN_RECHECK_MS)) {
          tokenChecked = true;
          lastTokenCheck = Date.now();
          const token = await context.store.findTokenByHash(request.token.hash);
          if (!token || token.revokedAt !== null) {
            end();
            return;
          }
        }
        for (const event of page.items) {
          write(formatEventMessage(event.seq, event.event, eventView(event)));
          cursor = event.seq;
          // A deleted repository has no further events, so its stream ends here.
          if (event.event === 'repo.deleted') {
            end();
            return;
          }
          // The rest of the page is read again after the client has taken what was written.
          if (bufferFull()) break;
        }
        if (bufferFull()) {
          waitForDrain();
          break;
        }
        // A page that the payload budget cut short has fewer events than PAGE_SIZE, so only an empty page means caught up.
        if (page.items.length === 0 || closed) break;
      }
    } catch (err) {
      if (!closed) context.logger.error({ err, repo_id: repoId }, 'event stream poll failed; retrying at the next poll');
    } finally {
      polling = false;
    }
  };

  const streams = streamsOf(context);
  const pollTimer = setInterval(() => void poll(), STREAM_POLL_MS);
  // A heartbeat is written only when nothing else waits to be sent. A client that stopped reading then gets no
  // further write, so the idle limit of connections closes its stream.
  const heartbeat = setInterval(() => {
    if (res.writableLength === 0) write(': heartbeat\n\n');
  }, context.config.eventStreamHeartbeatMs);
  const stop = () => {
    if (closed) return;
    closed = true;
    clearInterval(pollTimer);
    clearInterval(heartbeat);
    streams.delete(end);
    if (tokenId !== null) {
      const open = (streamsPerToken.get(tokenId) ?? 1) - 1;
      if (open > 0) streamsPerToken.set(tokenId, open);
      else streamsPerToken.delete(tokenId);
    }
  };
  // Used at shutdown: finish the response, then close the connection so that the server need not wait for the client.
  const end = () => {
    stop();
    res.end();
    res.socket?.end();
  };
  streams.add(end);
  if (tokenId !== null) streamsPerToken.set(tokenId, (streamsPerToken.get(tokenId) ?? 0) + 1);
  res.on('close', stop);
  await poll();
}
