/**
 * The local control endpoint over a real socket: bad percent-encoding in the path is a 400, not an
 * exception thrown inside the request handler (which left the request unanswered).
 */
import { ControlServer } from '../../src/local/control';

test('a malformed path gets 400 and the endpoint keeps answering', async () => {
  const control = await ControlServer.start(
    { findCron: () => undefined, cronJobs: () => [], fireCron: () => Promise.reject(new Error('not here')) },
    { routerUrl: 'http://127.0.0.1:1', routerAdminUrl: 'http://127.0.0.1:2' },
    0,
  );
  try {
    const bad = await fetch(`${control.url}/cron/%ZZ`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'malformed percent-encoding in the path' });
    const unknown = await fetch(`${control.url}/cron/nope`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    expect(unknown.status).toBe(404);
  } finally {
    await control.stop();
  }
});
