import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';
import { eventView } from './views.js';

/** How often an open stream looks for new events, in ms; it also sees events stored by other processes. */
const STREAM_POLL_MS = 250;
/** Interval of comment lines that keep proxies from closing an idle stream, in ms. */
const HEARTBEAT_MS = 15_000;

/**
 * Streams a repository's new events as Server-Sent Events. Each message's id
 * is the event's sequence number, so a client that reconnects with
 * Last-Event-ID receives every event it missed.
 */
export async function streamEvents(context: ApiContext, request: FastifyRequest, reply: FastifyReply, repoId: number): Promise<void> {
  const header = request.headers['last-event-id'];
  let cursor: number;
  if (typeof header === 'string' && /^\d{1,15}$/.test(header.trim())) {
    cursor = Number(header.trim());
  } else {
    const latest = await context.store.listEvents({ repoId, limit: 1 });
    cursor = latest.items[0]?.seq ?? 0;
  }

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': connected\nretry: 2000\n\n');

  let closed = false;
  let polling = false;
  const poll = async () => {
    if (closed || polling) return;
    polling = true;
    try {
      for (;;) {
        const page = await context.store.listEvents({ repoId, afterSeq: cursor, limit: 100 });
        for (const event of page.items) {
          res.write(`id: ${event.seq}\nevent: ${event.event}\ndata: ${JSON.stringify(eventView(event))}\n\n`);
          cursor = event.seq;
        }
        if (page.items.length < 100 || closed) break;
      }
    } catch (err) {
      context.logger.error({ err, repo_id: repoId }, 'event stream poll failed');
    } finally {
      polling = false;
    }
  };
  const pollTimer = setInterval(() => void poll(), STREAM_POLL_MS);
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  const stop = () => {
    closed = true;
    clearInterval(pollTimer);
    clearInterval(heartbeat);
  };
  res.on('close', stop);
  request.raw.on('close', stop);
  await poll();
}
