/**
 * The child side of the benchmark's parent-child protocol. The parent sends
 * `{ id, method, params }` over the IPC channel; the child replies with
 * `{ id, result }` or `{ id, error }`. A child exits when the parent goes
 * away, so that no benchmark process outlives the run.
 */

export type RpcHandlers = Record<string, (params: any) => unknown>;

interface RpcRequest {
  id: number;
  method: string;
  params: unknown;
}

/** Serves RPC calls from the parent process and sends the parent a ready message. */
export function serveRpc(handlers: RpcHandlers): void {
  if (!process.send) throw new Error('this benchmark process must be started by bench/run.ts with an IPC channel');
  const send = process.send.bind(process);
  process.on('message', (message: RpcRequest) => {
    const handler = handlers[message.method];
    if (!handler) {
      send({ id: message.id, error: `unknown method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params))
      .then(
        (result) => send({ id: message.id, result: result ?? null }),
        (err: unknown) => send({ id: message.id, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  });
  // The parent closing the channel (normal end, crash or kill) ends the child.
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
}

/** Reads the shared monotonic clock in milliseconds; every process on the machine reads the same clock. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Returns the CPU time (user plus system) this process has used, in microseconds. */
export function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
