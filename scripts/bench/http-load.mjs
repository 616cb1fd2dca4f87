// The closed-loop HTTP load generator shared by the runtime and router benchmarks.
//
// wrk (a C program, `apt-get install wrk`) when it is on PATH, else autocannon with a printed note.
// autocannon runs in Node and needs about as much CPU per request as the server it loads, so on a
// 2-core machine it takes CPU away from the servers being compared and compresses their ratio; wrk
// costs a fraction of that. Both the baseline and the subject of a comparison always use the same
// generator and connection count. Knob: BENCH_LOAD_GENERATOR=autocannon forces the fallback.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

// wrk's `done` hook: one JSON line with totals and latency percentiles (wrk reports microseconds).
const WRK_DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nKUBEFAAS_WRK {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

function wrkOnPath() {
  if (process.env.BENCH_LOAD_GENERATOR === 'autocannon') return false;
  const probe = spawnSync('wrk', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined;
}

/**
 * Creates a load generator. `describe` says which one runs (print it with the results);
 * `run(url, { seconds, connections, method?, body?, headers? })` resolves to { rps, p50, p99 (ms),
 * requests, generatorCpuMs }; `method` defaults to GET, `body` (a string) and `headers` to none.
 * `generatorCpuMs` is the CPU the generator itself used (user + system), when it can be known.
 * A non-2xx answer or a socket error rejects: a benchmark of failing requests measures nothing.
 */
export function createLoadGenerator() {
  if (wrkOnPath()) return wrkGenerator();
  return {
    name: 'autocannon',
    describe:
      'autocannon (in the benchmark process; wrk is not on PATH, so the load generator takes a large share of the CPU: install wrk for steadier ratios)',
    run: runAutocannon,
    close() {},
  };
}

function wrkGenerator() {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-wrk-'));
  const plain = join(dir, 'done.lua');
  writeFileSync(plain, WRK_DONE_SCRIPT);
  const scripts = new Map();
  // A request with a method, body or headers needs its own script (wrk has no flags for a body).
  const scriptFor = ({ method, body, headers }) => {
    if (method === undefined && body === undefined && headers === undefined) return plain;
    const setup = [`wrk.method = ${luaString(method ?? 'GET')}`];
    if (body !== undefined) setup.push(`wrk.body = ${luaString(body)}`);
    for (const [name, value] of Object.entries(headers ?? {}))
      setup.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
    const source = `${setup.join('\n')}\n${WRK_DONE_SCRIPT}`;
    if (!scripts.has(source)) {
      const file = join(dir, `request-${scripts.size}.lua`);
      writeFileSync(file, source);
      scripts.set(source, file);
    }
    return scripts.get(source);
  };
  return {
    name: 'wrk',
    describe: 'wrk -t1 (a separate C process)',
    run: (url, options) => runWrk(scriptFor(options), url, options),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A Lua string literal (decimal escapes for anything but plain printable ASCII). */
function luaString(text) {
  let out = '"';
  for (const byte of Buffer.from(String(text), 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte}`;
  }
  return `${out}"`;
}

/**
 * Runs wrk under `sh -c '…; times'`: the shell's `times` prints the CPU its children used, which is
 * the only way to learn a finished child's CPU time from Node.
 */
function runWrk(script, url, { seconds, connections }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url];
  return new Promise((resolveRun, reject) => {
    const child = spawn('sh', ['-c', 'wrk "$@"; status=$?; times; exit $status', 'sh', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('KUBEFAAS_WRK '));
      if (code !== 0 || line === undefined) return reject(new Error(`wrk failed (exit ${code}): ${err || out}`));
      const r = JSON.parse(line.slice('KUBEFAAS_WRK '.length));
      const failures = r.connectErrors + r.readErrors + r.writeErrors + r.statusErrors + r.timeouts;
      if (failures > 0) {
        return reject(
          new Error(
            `load on ${url}: ${r.statusErrors} non-2xx/3xx answers, ${failures - r.statusErrors} socket errors or timeouts`,
          ),
        );
      }
      resolveRun({
        rps: r.requests / (r.durationUs / 1e6),
        p50: r.p50Us / 1000,
        p99: r.p99Us / 1000,
        requests: r.requests,
        generatorCpuMs: childrenCpuMs(out),
      });
    });
  });
}

/** The second line of `times` output: children's user and system time, e.g. `0m1.230s 0m0.450s`. */
function childrenCpuMs(output) {
  const times = output
    .trim()
    .split('\n')
    .slice(-1)[0]
    .match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  if (times === null) return undefined;
  return (Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4])) * 1000;
}

async function runAutocannon(url, { seconds, connections, method, body, headers }) {
  const before = process.cpuUsage();
  const result = await autocannon({ url, connections, duration: seconds, method, body, headers });
  const used = process.cpuUsage(before);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`load on ${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return {
    rps: result.requests.total / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    // Includes whatever else this process did meanwhile (little: it only waits).
    generatorCpuMs: (used.user + used.system) / 1000,
  };
}
