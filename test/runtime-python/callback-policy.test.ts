/**
 * The Python runtime checks callback URLs and the addresses they resolve to with the Node runtime's
 * rules (src/contract/policies.ts callbackUrlRefusal, src/queue/callback-target.ts addressRefusal).
 * Both answers are computed here for the same inputs: wherever Node refuses, Python refuses (and
 * with the same reason for addresses); where Node allows a plain URL, Python allows it too. URLs
 * the two parsers might normalize differently are refused by Python.
 */
import { spawnSync } from 'node:child_process';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { callbackUrlRefusal, type CallbackUrlPolicy } from '../../src/contract';
import { addressRefusal } from '../../src/queue/callback-target';
import { testPython } from './process';

const RUNTIME_DIR = join(__dirname, '..', '..', 'src', 'runtime-python');

const SCRIPT = String.raw`
import json, sys
from kubefaas_callback import address_refusal, url_refusal
from kubefaas_queue_settings import read_policy
cases = json.load(sys.stdin)
out = {"urls": [], "addresses": []}
for policy, url in cases["urls"]:
    out["urls"].append(url_refusal(read_policy(policy), url)[0])
for policy, address in cases["addresses"]:
    out["addresses"].append(address_refusal(read_policy(policy), address))
print(json.dumps(out))
`;

function python(cases: unknown): { urls: (string | null)[]; addresses: (string | null)[] } {
  const run = spawnSync(testPython(), ['-c', SCRIPT], {
    cwd: RUNTIME_DIR,
    input: JSON.stringify(cases),
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', PYTHONPATH: RUNTIME_DIR, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

const POLICY: CallbackUrlPolicy = {
  allow: ['https://hooks.example.com/', 'http://127.0.0.1:8080/cb/'],
  allowPrivateNetworks: false,
};

/** [url, plain]: a plain URL is one both parsers read alike, so both must give the same answer. */
const URLS: Array<[string, boolean]> = [
  ['https://hooks.example.com/x', true],
  ['https://hooks.example.com', true],
  ['HTTPS://Hooks.Example.COM:443/a?b=1&c=%20', true],
  ['https://hooks.example.com/a/../x', true],
  ['https://hooks.example.com/a/./b/', true],
  ['https://hooks.example.com:444/', true],
  ['https://hooks.example.com.evil.com/', true],
  ['https://evil.com/../hooks.example.com/', true],
  ['https://evil.com/?https://hooks.example.com/', true],
  ['http://hooks.example.com/', true],
  ['ftp://hooks.example.com/', true],
  ['https://user:pw@hooks.example.com/', true],
  ['https://hooks.example.com@evil.com/', true],
  ['http://127.0.0.1:8080/cb/x', true],
  ['http://127.0.0.1:8080/cb', true],
  ['http://127.0.0.1:8080/cb/../admin', true],
  ['http://127.0.0.1:8081/cb/', true],
  ['https://[::1]/', true],
  ['not a url', true],
  ['', true],
  // Forms the WHATWG parser rewrites: Python refuses them rather than guess.
  ['http://0x7f.0.0.1:8080/cb/', false],
  ['http://127.1:8080/cb/', false],
  ['https://hooks.example.com/%2e%2e/x', false],
  ['https://hooks.example.com\\@evil.com/', false],
  ['https://hooks.example.com/a b', false],
  ['https://hooks.exa\tmple.com/', false],
  ['https://hooks.example.com/#frag', false],
  ['https://hooks.exämple.com/', false],
];

test('callback URLs: Python refuses whatever Node refuses, and agrees on plain URLs', () => {
  const answers = python({ urls: URLS.map(([url]) => [POLICY, url]), addresses: [] }).urls;
  const disagreements: string[] = [];
  URLS.forEach(([url, plain], i) => {
    const node = callbackUrlRefusal(POLICY, url);
    const py = answers[i];
    if (node !== undefined && py === null) disagreements.push(`${url}: Node refuses (${node}), Python allows`);
    if (plain && (node === undefined) !== (py === null))
      disagreements.push(`${url}: Node ${node ?? 'allows'}, Python ${py ?? 'allows'}`);
  });
  expect(disagreements).toEqual([]);
  // The conservative refusals say why.
  expect(answers[URLS.findIndex(([u]) => u === 'http://0x7f.0.0.1:8080/cb/')]).toMatch(/not in dotted-decimal form/);
  expect(answers[URLS.findIndex(([u]) => u.includes('%2e'))]).toMatch(/percent-encode/);
  // No policy: nothing goes anywhere.
  expect(
    python({ urls: [[{ allow: [], allowPrivateNetworks: true }, 'https://x.example/']], addresses: [] }).urls[0],
  ).toBe(callbackUrlRefusal({ allow: [], allowPrivateNetworks: true }, 'https://x.example/'));
});

const ADDRESSES = [
  '127.0.0.1',
  '127.255.0.9',
  '::1',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '172.32.0.1',
  '192.168.1.1',
  '100.64.0.1',
  '100.128.0.1',
  '192.0.0.8',
  '198.18.0.1',
  '169.254.169.254',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '240.0.0.1',
  '8.8.8.8',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.0.0.1',
  '::ffff:8.8.8.8',
  'fe80::1',
  'fd00:ec2::254',
  'fc00::1',
  '2002::1',
  '64:ff9b::102:304',
  '64:ff9b:1::1',
  '::',
  'ff02::1',
  '2001:4860:4860::8888',
];

test('callback addresses: the same refusals, with the same reasons, under every policy', () => {
  const policies: CallbackUrlPolicy[] = [
    { allow: ['https://x/'], allowPrivateNetworks: false },
    { allow: ['https://x/'], allowPrivateNetworks: true },
    { allow: ['https://x/'], allowPrivateNetworks: false, allowLoopback: true },
  ];
  const cases = policies.flatMap((p) => ADDRESSES.map((a) => [p, a] as const));
  const answers = python({ urls: [], addresses: cases }).addresses;
  const node = cases.map(([p, a]) => addressRefusal(p, a, isIP(a) === 6 ? 6 : 4) ?? null);
  expect(answers).toEqual(node);
  expect(node.filter((n) => n === null).length).toBeGreaterThan(5); // some are allowed, too
});
