import { createClient } from 'redis';
import type { FunctionContext, FunctionEvent } from 'kubefaas';

/**
 * Stores each request's body and arrival time as a JSON document in Redis: the workload of a
 * published comparison of FaaS frameworks. The Redis address comes from env (REDIS_URL, and
 * REDIS_PASSWORD from a Secret when set), never from code.
 */

type Client = ReturnType<typeof createClient>;
let client: Promise<Client> | undefined;

/** One connection per process, opened on first use and reused by every invocation. */
function redis(): Promise<Client> {
  if (!client) {
    const c = createClient({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      password: process.env.REDIS_PASSWORD || undefined,
      // Fail within the function's timeout when Redis is down (a clear 500), instead of waiting
      // for reconnects until the runtime gives up with a 504.
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries) => (retries >= 3 ? new Error('redis is unreachable') : 200 * (retries + 1)),
      },
    });
    c.on('error', () => {
      /* reconnects on its own; each failed command still rejects and maps to a 500 */
    });
    // Once reconnecting gives up the client is closed: the next invocation opens a new one.
    c.on('end', () => (client = undefined));
    client = c.connect().then(() => c);
    client.catch(() => (client = undefined));
  }
  return client;
}

export default async function analytics(event: FunctionEvent, context: FunctionContext) {
  const arrivedAt = new Date().toISOString();
  const key = `analytics:${event.id}`;
  const document = { id: event.id, arrivedAt, contentType: event.headers['content-type'] ?? null, body: event.text() };
  const db = await redis();
  // The caller already got a 504: don't store a document it was told failed.
  if (context.signal.aborted) return undefined;
  await db.set(key, JSON.stringify(document));
  await db.rPush('analytics:index', key);
  context.log.info('stored analytics document', { key });
  return { stored: key, arrivedAt };
}
