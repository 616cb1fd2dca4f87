// Queue benchmark: our QueueTrigger consumer (src/queue, no-op handler) against a bare JetStream pull
// consumer (nats.js `consume()` + `msg.ack()`) draining the same number of stored messages from the
// same nats-server, in alternating order. Prints the throughput ratio measured in this run
// (target >= 0.7), and, as a stricter reference, the ratio to a raw pull loop on our own transport
// (PullSession + ack, no handler machinery). Both run in this process; the server is a child process with a temporary store.
//
// Standalone: `node scripts/bench/queue.mjs` (or `npm run bench -- queue`). Needs nats-server on PATH.
// Knobs: BENCH_QUEUE_MESSAGES (per measurement, default 20000), BENCH_ROUNDS (default 3),
// BENCH_QUEUE_IN_FLIGHT (default 64).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { root, startNats } from './support.mjs';

const require = createRequire(join(root, 'package.json'));
const MESSAGES = Number(process.env.BENCH_QUEUE_MESSAGES ?? 20000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IN_FLIGHT = Number(process.env.BENCH_QUEUE_IN_FLIGHT ?? 64);

/** Our queue module, bundled from source as the runtime bundle would carry it. */
function loadQueueModule(dir) {
  const outfile = join(dir, 'queue.cjs');
  // The queue client plus the contract's queue defaults, as one module.
  const contents =
    "export * from './src/queue/index.ts'; export { DEFAULT_QUEUE_CONFIG } from './src/contract/index.ts';";
  buildSync({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'bench-queue.ts' },
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'error',
    nodePaths: [join(root, 'node_modules')],
  });
  return require(outfile);
}

async function fill(js, subject, count) {
  const payload = Buffer.from(JSON.stringify({ order: 42, item: 'benchmark', qty: 1 }));
  for (let start = 0; start < count; start += 1000) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) batch.push(js.publish(subject, payload));
    await Promise.all(batch);
  }
}

function subscription(config, name) {
  return {
    kind: 'topic',
    subject: `${config.topicsPrefix}.${name}`,
    durable: `bench_${name}`,
    trigger: name,
    maxInFlight: IN_FLIGHT,
    ackWaitMs: 30000,
    maxRetries: 3,
    backoffMs: [100],
    ordered: false,
  };
}

/** A measurement counts only if the server agrees every message was acked (none pending, none redelivered). */
async function expectAllAcked(nc, config, sub) {
  const jsm = await nc.jetstreamManager();
  for (let i = 0; i < 100; i++) {
    const info = await jsm.consumers.info(config.topicsStream, sub.durable);
    if (
      info.num_pending === 0 &&
      info.num_ack_pending === 0 &&
      info.num_redelivered === 0 &&
      info.ack_floor.stream_seq === info.delivered.stream_seq
    )
      return;
    await new Promise((r) => setTimeout(r, 20));
  }
  const info = await jsm.consumers.info(config.topicsStream, sub.durable);
  throw new Error(
    `${sub.durable}: not every message was acked once (pending ${info.num_pending}, ack pending ${info.num_ack_pending}, redelivered ${info.num_redelivered})`,
  );
}

/** Bare baseline: a durable with the same settings, drained with consume() and one ack per message. */
async function measureBare(nats, nc, queue, config, name) {
  const sub = subscription(config, name);
  const jsm = await nc.jetstreamManager();
  await queue.ensureConsumer(jsm, config.topicsStream, sub);
  await fill(nc.jetstream(), sub.subject, MESSAGES);
  const consumer = await nc.jetstream().consumers.get(config.topicsStream, sub.durable);
  const started = process.hrtime.bigint();
  const messages = await consumer.consume({ max_messages: IN_FLIGHT });
  let n = 0;
  let seconds = 0;
  for await (const m of messages) {
    m.ack();
    if (++n === MESSAGES) {
      seconds = Number(process.hrtime.bigint() - started) / 1e9;
      messages.stop(); // ends the iteration
    }
  }
  await expectAllAcked(nc, config, sub);
  return MESSAGES / seconds;
}

/**
 * Our pull transport alone (src/queue PullSession: one inbox, the same window of 2 × in-flight and
 * refill at half a window as the consumer), acking in the message callback: what the consumer costs
 * beyond pulling and acking.
 */
async function measureRaw(nc, queue, config, name) {
  const sub = subscription(config, name);
  const jsm = await nc.jetstreamManager();
  await queue.ensureConsumer(jsm, config.topicsStream, sub);
  await fill(nc.jetstream(), sub.subject, MESSAGES);
  const window = 2 * IN_FLIGHT;
  let n = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  let session;
  const pullMore = () => {
    const room = window - session.pending;
    if (room >= window / 2) session.pull(room);
  };
  session = new queue.PullSession({
    nc,
    stream: config.topicsStream,
    durable: sub.durable,
    expiresMs: 5000,
    onMessage: (msg) => {
      msg.ack();
      if (++n === MESSAGES) done();
      pullMore();
    },
    onRoom: () => pullMore(),
    onLost: () => pullMore(),
  });
  const started = process.hrtime.bigint();
  session.start();
  pullMore();
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  session.close();
  await expectAllAcked(nc, config, sub);
  return MESSAGES / seconds;
}

async function measureOurs(nc, queue, config, name, url) {
  const sub = subscription(config, name);
  const client = await queue.QueueClient.connect({ servers: [url], config, log: { info() {}, warn() {}, error() {} } });
  await fill(nc.jetstream(), sub.subject, MESSAGES);
  let n = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const started = process.hrtime.bigint();
  await client.subscribe('bench', sub, () => {
    if (++n === MESSAGES) done();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.close(5000);
  await expectAllAcked(nc, config, sub);
  return MESSAGES / seconds;
}

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-queue-'));
  const nats = require('nats');
  let server;
  try {
    const queue = loadQueueModule(dir);
    server = await startNats(dir);
    // The same connection options as QueueClient's that matter for speed (no stack trace per request).
    const nc = await nats.connect({ servers: server.url, noAsyncTraces: true });
    const config = { ...queue.DEFAULT_QUEUE_CONFIG, topicsStream: 'BENCH', topicsPrefix: 'bench' };
    await queue.ensureQueueResources(await nc.jetstreamManager(), config);
    console.log(
      `queue: ${MESSAGES} messages per measurement, ${IN_FLIGHT} in flight, ${ROUNDS} rounds (alternating order)`,
    );
    const rates = { bare: [], raw: [], ours: [] };
    const measure = {
      bare: (name) => measureBare(nats, nc, queue, config, name),
      raw: (name) => measureRaw(nc, queue, config, name),
      ours: (name) => measureOurs(nc, queue, config, name, server.url),
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['bare', 'raw', 'ours'] : ['ours', 'raw', 'bare'];
      for (const kind of order) {
        const rate = await measure[kind](`${kind}${round}`);
        rates[kind].push(rate);
        console.log(`  round ${round + 1} ${kind.padEnd(4)} ${rate.toFixed(0)} msg/s`);
      }
    }
    await nc.close();
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [ours, bare, raw] = [median(rates.ours), median(rates.bare), median(rates.raw)];
    const ratio = ours / bare;
    console.log(
      `queue consumer throughput: ${ours.toFixed(0)} msg/s vs bare pull consumer (nats.js consume + ack) ${bare.toFixed(0)} msg/s vs raw pull + ack (our transport, no handler machinery) ${raw.toFixed(0)} msg/s`,
    );
    console.log(
      `ratio ours/bare = ${ratio.toFixed(2)} (target >= 0.7) ${ratio >= 0.7 ? 'OK' : 'BELOW TARGET'}; ours/raw = ${(ours / raw).toFixed(2)}`,
    );
    return { ours, bare, raw, ratio, rawRatio: ours / raw };
  } finally {
    server?.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
