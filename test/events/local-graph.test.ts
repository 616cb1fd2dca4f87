/**
 * Issue 16 part 3 at run time, through the local runner (`kubefaas dev`) with a real nats-server:
 * the local queue has no users, so the runtime is what refuses `context.publish` to a topic the
 * function did not declare, with an error naming the declaration to add; a declared topic works.
 */
import * as path from 'node:path';
import { connect } from 'nats';
import { DEFAULT_QUEUE_CONFIG } from '../../src/contract';
import { LocalPlatform } from '../../src/local';
import { LogCapture } from '../local/helpers';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '..', '..');

/** The `msg` of a function's JSON log line. */
function msgOf(text: string): string {
  try {
    return String((JSON.parse(text) as { msg?: unknown }).msg ?? '');
  } catch {
    return '';
  }
}

describe('declared publishes under the local runner', () => {
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    platform = await LocalPlatform.start({
      app: path.join(__dirname, 'fixtures', 'graph-app.ts'),
      cwd: root,
      port: 0,
      log: log.sink,
      readyTimeoutMs: 60_000,
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const send = (topic: string, body: string) => fetch(`${platform.url}/send/${topic}`, { method: 'POST', body });

  it('a publish to the declared topic reaches its consumer', async () => {
    const res = await send('checked', 'hello');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ published: 'checked' });
    await log.waitFor((e) => e.source === 'sink' && msgOf(e.text) === 'sink got {"sent":"hello"}');
  });

  it('a publish to an undeclared topic is refused, naming the declaration to add', async () => {
    const res = await send('elsewhere', 'nope');
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      name: 'UndeclaredTopicError',
      message:
        "context.publish('elsewhere'): function 'sender' does not declare topic 'elsewhere' (it declares 'checked'); " +
        "add it to the function's props: publishes: ['checked', 'elsewhere']",
    });
    // Nothing reached the stream: the topic's subject holds no message, the declared one does.
    const nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
    try {
      const jsm = await nc.jetstreamManager();
      const last = (subject: string) =>
        jsm.streams.getMessage(DEFAULT_QUEUE_CONFIG.topicsStream, { last_by_subj: subject });
      await expect(last('topics.checked')).resolves.toBeDefined();
      await expect(last('topics.elsewhere')).rejects.toThrow(/no message found/);
    } finally {
      await nc.close();
    }
  });
});
