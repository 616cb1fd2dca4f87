/**
 * The Python runtime and the Node runtime against the same malformed-request corpus and the same
 * fuzzed mutations of a valid request: the answer is 400/431 (or a normal response when the
 * mutation happens to be valid), never a crash, a hang or a malformed response.
 */
import fc from 'fast-check';
import { RuntimeProcess, stopAll } from '../runtime/process';
import { exchange, MALFORMED_REQUESTS, mutate, statuses, type Mutation } from '../support/malformed-requests';
import { PythonRuntimeProcess, stopAllPython } from './process';

const PY_HANDLER = 'def main(event, context):\n    return "ok " + event.text()\n';
const NODE_HANDLER = 'module.exports = (event) => "ok " + event.text();';

let python: PythonRuntimeProcess;
let node: RuntimeProcess;
beforeAll(async () => {
  [python, node] = await Promise.all([PythonRuntimeProcess.start(PY_HANDLER), RuntimeProcess.start(NODE_HANDLER)]);
});
afterAll(async () => {
  await stopAllPython();
  await stopAll();
});

const runtimes = (): Array<[string, number, () => boolean]> => [
  ['python', python.port, () => python.child.exitCode === null],
  ['node', node.port, () => node.child.exitCode === null],
];

describe.each(MALFORMED_REQUESTS.map((c) => [c.name, c] as const))('malformed request: %s', (_name, c) => {
  it('gets the same status from both runtimes, and the connection closes', async () => {
    for (const [name, port] of runtimes()) {
      const { text, closed } = await exchange(port, c.bytes);
      expect({ runtime: name, statuses: statuses(text), closed }).toEqual({
        runtime: name,
        statuses: [c.status],
        closed: true,
      });
    }
  });
});

it('the Python runtime answers 400 with a JSON error body and keeps serving', async () => {
  const { text } = await exchange(python.port, MALFORMED_REQUESTS[0].bytes);
  expect(text).toMatch(
    /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n\r\n\{"error":"duplicate content-length"\}$/,
  );
  expect((await python.request('/', { method: 'POST', body: 'x' })).text).toBe('ok x');
});

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat({ max: 200 }),
  op: fc.constantFrom('insert' as const, 'replace' as const, 'delete' as const),
  byte: fc.oneof(fc.constantFrom(0, 9, 10, 13, 32, 58, 127, 255), fc.integer({ min: 0, max: 255 })),
});

it('fuzz: mutated requests never crash or hang either runtime, and every answer is well-formed', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (mutations) => {
      const bytes = mutate(mutations);
      for (const [name, port, alive] of runtimes()) {
        const { text, closed } = await exchange(port, bytes);
        expect({ runtime: name, closed }).toEqual({ runtime: name, closed: true });
        const codes = statuses(text);
        // Each response starts with a status line; nothing else is ever written.
        if (text !== '') expect(text.startsWith('HTTP/1.1 ')).toBe(true);
        for (const code of codes) expect([200, 400, 404, 413, 431, 505]).toContain(code);
        expect(alive()).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
  expect((await python.request('/', { method: 'POST', body: 'y' })).text).toBe('ok y');
  expect((await node.request('/', { method: 'POST', body: 'y' })).text).toBe('ok y');
});
