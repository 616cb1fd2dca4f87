// Router policies benchmark: the same runtime behind three routers — no policies, API-key auth with
// a per-client rate limit, JWT auth (static ES256 key; verified tokens cached) with a per-client
// rate limit — loaded in alternating order by the same generator. Prints each policy router's req/s
// relative to the router without policies (targets: API key >= 0.9x, JWT >= 0.8x) and router CPU
// per request. The limits are set high enough never to refuse: what is measured is their cost.
// It also times each check in-process (RouterPolicies.check from lib/, no sockets): a figure the
// machine's load barely moves, to read beside the req/s ratios, which a shared machine does.
//
// `npm run bench -- policies` (or `npm run build && node scripts/bench/policies.mjs`).
// Knobs: BENCH_SECONDS (default 4), BENCH_CONNECTIONS (default 32), BENCH_ROUNDS (default 3).
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import { startRouter, startUpstream, throughput } from './router.mjs';
import { BARE_SERVER, TRIVIAL_HANDLER, median, num } from './support.mjs';

const API_KEY = createHash('sha256').update('bench').digest('hex');
const LIMIT = [{ scope: 'client', limit: 1_000_000_000, periodMs: 1000 }];

function jwtFor(privateKey) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ iss: 'https://login.bench/', aud: 'fn', sub: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function status(port, headers) {
  return new Promise((done) => {
    get({ host: '127.0.0.1', port, path: '/hello', headers, agent: false }, (res) => {
      res.resume();
      done(res.statusCode);
    }).on('error', () => done(0));
  });
}

async function until200(port, headers) {
  for (let i = 0; i < 300; i++) {
    if ((await status(port, headers)) === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`router on ${port} never answered 200 with its credentials`);
}

/** CPU µs per `RouterPolicies.check` (+ reading the headers) for each policy set, in this process. */
async function checkCost(dir, variants) {
  const require = createRequire(import.meta.url);
  const { RouterPolicies } = require('../../lib/src/router/policies/router-policies.js');
  const { readInboundHeaders } = require('../../lib/src/router/forwarded-headers.js');
  const log = { log: () => undefined };
  const out = [];
  for (const v of variants) {
    const table = { version: 1, functions: {}, routes: [], ...(v.policies ? { policies: v.policies } : {}) };
    const policies = RouterPolicies.build(table, undefined, join(dir, 'secrets'), log);
    const raw = ['Host', '127.0.0.1', 'User-Agent', 'wrk', ...Object.entries(v.headers ?? {}).flat()];
    const once = () => policies?.check(-1, { inbound: readInboundHeaders(raw), clientAddress: '127.0.0.1' });
    // The Secret is read and the token verified (then cached) before timing.
    for (let i = 0; i < 50 && (await once())?.granted !== true && policies !== undefined; i++)
      await new Promise((r) => setTimeout(r, 20));
    const samples = [];
    for (let round = 0; round < 5; round++) {
      const n = 100_000;
      // CPU time, not wall time: on a loaded machine the process waits for a core between slices.
      const start = process.cpuUsage();
      for (let i = 0; i < n; i++) if (once() instanceof Promise) throw new Error(`${v.label}: check went async`);
      const used = process.cpuUsage(start);
      samples.push((used.user + used.system) / n);
    }
    policies?.close();
    out.push(median(samples));
  }
  return out;
}

export async function run() {
  const seconds = num('BENCH_SECONDS', 4);
  const connections = num('BENCH_CONNECTIONS', 32);
  const rounds = num('BENCH_ROUNDS', 3);
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-policies-'));
  const generator = createLoadGenerator();
  writeFileSync(join(dir, 'bare.js'), BARE_SERVER);
  writeFileSync(join(dir, 'handler.js'), TRIVIAL_HANDLER);
  const secrets = join(dir, 'secrets');
  mkdirSync(join(secrets, 'bench-keys'), { recursive: true });
  writeFileSync(join(secrets, 'bench-keys', 'bench'), API_KEY);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const token = jwtFor(privateKey);
  const children = [];
  try {
    const upstream = await startUpstream(dir);
    children.push(upstream.child);
    const env = { KUBEFAAS_ROUTER_SECRETS_DIR: secrets };
    const apiKeyPolicies = { auth: { type: 'apiKeys', secret: 'bench-keys' }, rateLimits: LIMIT, trustedProxies: 0 };
    const jwtPolicies = {
      auth: {
        type: 'jwt',
        issuer: 'https://login.bench/',
        audience: ['fn'],
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
        algorithms: ['ES256'],
        clockSkewSeconds: 30,
      },
      rateLimits: LIMIT,
      trustedProxies: 0,
    };
    const variants = [
      { label: 'no policies', router: await startRouter(dir, upstream.port, 1, { name: 'plain' }) },
      {
        label: 'API key + per-client limit',
        headers: { 'x-api-key': API_KEY },
        policies: apiKeyPolicies,
        router: await startRouter(dir, upstream.port, 1, { name: 'apikey', env, policies: apiKeyPolicies }),
      },
      {
        label: 'JWT (static key, cached) + per-client limit',
        headers: { authorization: `Bearer ${token}` },
        policies: jwtPolicies,
        router: await startRouter(dir, upstream.port, 1, { name: 'jwt', policies: jwtPolicies }),
      },
    ];
    for (const v of variants) {
      children.push(v.router.child);
      await until200(v.router.port, v.headers);
    }
    const costs = await checkCost(dir, variants);
    console.log(
      `policy check in-process, CPU (median of 5 x 100k): ${variants.map((v, i) => `${v.label} ${costs[i].toFixed(2)} us`).join('; ')}`,
    );
    console.log(
      `throughput: ${generator.describe}, ${connections} connections, ${seconds} s per measurement, ${rounds} rounds (rotating order)`,
    );
    for (const v of variants) await throughput(generator, v.router.port, '/hello', 1, connections, [], v.headers);
    const results = variants.map(() => ({ rps: [], cpu: [] }));
    for (let round = 0; round < rounds; round++) {
      const line = [];
      for (let k = 0; k < variants.length; k++) {
        const i = (k + round) % variants.length;
        const v = variants[i];
        const r = await throughput(
          generator,
          v.router.port,
          '/hello',
          seconds,
          connections,
          [upstream.child.pid, v.router.child.pid],
          v.headers,
        );
        results[i].rps.push(r.rps);
        if (r.cpu) results[i].cpu.push(r.cpu[1]);
        line.push(`${v.label} ${r.rps.toFixed(0)} req/s${r.cpu ? ` (router ${r.cpu[1].toFixed(1)} us/req)` : ''}`);
      }
      console.log(`  round ${round + 1}: ${line.join('; ')}`);
    }
    const base = results[0].rps;
    const out = {};
    for (let i = 1; i < variants.length; i++) {
      const ratio = median(results[i].rps.map((rps, r) => rps / base[r]));
      const target = i === 1 ? 0.9 : 0.8;
      out[variants[i].label] = ratio;
      console.log(
        `${variants[i].label} / no policies req/s (median of per-round ratios): ${ratio.toFixed(2)} (target >= ${target})`,
      );
    }
    for (let i = 0; i < variants.length; i++)
      if (results[i].cpu.length)
        console.log(`router CPU ${variants[i].label}: ${median(results[i].cpu).toFixed(1)} us/req (median)`);
    return out;
  } finally {
    generator.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
