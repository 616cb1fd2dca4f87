/**
 * NetworkPolicies (issue 11 egress, issue 13 item 6): for every data path of docs/architecture.md,
 * the caller's egress and the callee's ingress allow it, and nothing else is allowed — checked by
 * evaluating the synthesized policies (test/support/network-policy.ts) over every pair of pods of
 * the platform plus pods of other namespaces and outside addresses, on every port they listen on.
 */
import { Duration, Testing } from 'cdk8s';
import {
  CallbackPolicy,
  ContainerFunction,
  CronTrigger,
  Egress,
  HttpTrigger,
  Metrics,
  NetworkPeer,
  NetworkPolicies,
  NetworkPort,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  RouterAuth,
  RouterExposure,
} from '../../constructs';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import { Endpoint, NetworkPolicyEvaluator, allowedConnections, podEndpoints } from '../support/network-policy';
import { INLINE, errorOf, expectValid, find, newPlatform, synth } from './helpers';

const tcp = (port: number) => ({ port, protocol: 'TCP' as const });

/** Pods and addresses outside the platform: where traffic comes from and goes to. */
const OUTSIDE: Endpoint[] = [
  {
    id: 'kube-dns',
    ip: '10.244.200.2',
    namespace: 'kube-system',
    labels: { 'k8s-app': 'kube-dns' },
    ports: [{ port: 53, protocol: 'UDP' }, tcp(53)],
  },
  {
    id: 'gateway',
    ip: '10.244.200.3',
    namespace: 'gateway-system',
    labels: { app: 'envoy' },
    ports: [tcp(8080), tcp(443)],
  },
  { id: 'grafana', ip: '10.244.200.4', namespace: 'grafana', labels: { app: 'grafana' }, ports: [tcp(3000)] },
  { id: 'intruder', ip: '10.244.200.5', namespace: 'default', labels: { app: 'x' }, ports: [tcp(8080)] },
  { id: 'auth-server', ip: '10.244.200.6', namespace: 'auth', labels: { app: 'keycloak' }, ports: [tcp(8080)] },
  { id: 'api-server', ip: '172.20.0.10', ports: [tcp(443), tcp(6443)] },
  { id: 'internet', ip: '203.0.113.10', ports: [tcp(80), tcp(443), tcp(8443)] },
  { id: 'internet6', ip: '2001:db8::10', ports: [tcp(443)] },
  { id: 'metadata', ip: '169.254.169.254', ports: [tcp(80), tcp(443)] },
  { id: 'metadata6', ip: 'fd00:ec2::254', ports: [tcp(80), tcp(443)] },
  { id: 'vpc-host', ip: '10.0.0.5', ports: [tcp(443), tcp(5432)] },
];

/** Every kind of pod the platform runs: router, functions (queue, HTTP-only container, callers), cron senders via queue and router, NATS cluster, Prometheus, Alertmanager. */
function fullPlatform(networkPolicies: NetworkPolicies): Platform {
  const platform = newPlatform({
    namespace: 'faas',
    networkPolicies,
    queue: Queue.nats({ replicas: 3 }),
    metrics: Metrics.prometheus({ alertmanager: { receiverSecret: { name: 'am', key: 'url' } } }),
    router: {
      exposure: RouterExposure.ingress({ host: 'api.example.com' }),
      auth: RouterAuth.jwt({
        issuer: 'https://login.example.com/',
        audience: 'fn',
        jwksUri: 'https://login.example.com/jwks',
      }),
      callbacks: CallbackPolicy.allow(['https://hooks.example.com/']),
    },
  });
  const hello = new NodeFunction(platform, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
  new NodeFunction(platform, 'worker', {
    code: INLINE,
    triggers: [new QueueTrigger({ topic: 'orders' })],
    egress: Egress.internet({ ports: [NetworkPort.tcp(8443)] }),
  });
  new NodeFunction(platform, 'caller', { code: INLINE }).allowEgressTo(Egress.toFunction(hello));
  new NodeFunction(platform, 'ticker', { code: INLINE, triggers: [new CronTrigger({ schedule: '*/5 * * * *' })] });
  new ContainerFunction(platform, 'legacy', {
    image: 'ghcr.io/example/legacy:1.0.0',
    triggers: [new CronTrigger({ schedule: '0 * * * *' })],
    egress: [Egress.namespace('auth', { podLabels: { app: 'keycloak' }, ports: [NetworkPort.tcp(8080)] })],
  });
  return platform;
}

function connections(platform: Platform): { objects: Record<string, any>[]; allowed: string[] } {
  const objects = synth(platform);
  const endpoints = [...podEndpoints(objects), ...OUTSIDE];
  // Connections that involve the platform (outside pods among themselves are no concern of its policies).
  const allowed = allowedConnections(new NetworkPolicyEvaluator(objects), endpoints).filter((c) =>
    c.split(' -> ').some((side) => /^(Deployment|StatefulSet|CronJob)\//.test(side)),
  );
  return { objects, allowed };
}

const ROUTER = 'Deployment/kubefaas-router';
const NATS = 'StatefulSet/kubefaas-nats';
const PROMETHEUS = 'StatefulSet/kubefaas-prometheus';
const ALERTMANAGER = 'StatefulSet/kubefaas-alertmanager';
const CRON = ['CronJob/ticker-cron-tick', 'CronJob/legacy-cron-tick'];
const QUEUE_FUNCTIONS = ['hello', 'worker', 'caller', 'ticker'].map((f) => `Deployment/${f}`);
const FUNCTIONS = [...QUEUE_FUNCTIONS, 'Deployment/legacy'];
const PODS = [ROUTER, NATS, PROMETHEUS, ALERTMANAGER, ...CRON, ...FUNCTIONS];

/** The data paths of docs/architecture.md (and what each needs besides), as allowed connections. */
function expectedPaths(routerClients: 'gateway' | 'anyone'): Record<string, string[]> {
  const arrow = (from: string | string[], to: string | string[], ...ports: string[]) =>
    [from].flat().flatMap((f) => [to].flat().flatMap((t) => ports.map((p) => `${f} -> ${t}:${p}`)));
  return {
    'client → exposure → router (public port)':
      routerClients === 'gateway'
        ? arrow('gateway', ROUTER, '8080/TCP')
        : arrow(
            OUTSIDE.map((e) => e.id),
            ROUTER,
            '8080/TCP',
          ),
    'router → function Service → function pod': arrow(ROUTER, FUNCTIONS, '8080/TCP'),
    'router → queue (async calls)': arrow(ROUTER, NATS, '4222/TCP'),
    'function runtime → queue (consumers, publish, call states)': arrow(QUEUE_FUNCTIONS, NATS, '4222/TCP'),
    // One policy for every cron sender: the one without a queue user may still open the port (NATS auth refuses it).
    'cron sender → queue, or → router without a queue': [
      ...arrow(CRON, NATS, '4222/TCP'),
      ...arrow(CRON, ROUTER, '8081/TCP'), // the admin listener's internal by-name path
    ],
    'NATS cluster routes': arrow(NATS, NATS, '6222/TCP'),
    'every pod → cluster DNS': arrow(PODS, 'kube-dns', '53/UDP', '53/TCP'),
    'Prometheus → /metrics of router (admin port) and runtimes': [
      ...arrow(PROMETHEUS, ROUTER, '8081/TCP'),
      ...arrow(PROMETHEUS, QUEUE_FUNCTIONS, '8080/TCP'),
    ],
    // The API server's address is unknown at synth: any address on its ports.
    'Prometheus → API server (pod discovery)': arrow(
      PROMETHEUS,
      // ipBlocks match pod addresses too (most CNIs): the gateway pod's 443 is in reach as well.
      ['api-server', 'internet', 'internet6', 'metadata', 'metadata6', 'vpc-host', 'gateway'],
      '443/TCP',
    ).concat(arrow(PROMETHEUS, 'api-server', '6443/TCP')),
    'Prometheus → Alertmanager': arrow(PROMETHEUS, ALERTMANAGER, '9093/TCP'),
    'Alertmanager → receivers (public, 443)': arrow(ALERTMANAGER, ['internet', 'internet6'], '443/TCP'),
    'Grafana → Prometheus (prometheusClients)': arrow('grafana', PROMETHEUS, '9090/TCP'),
    'router → JWKS host (public, 443)': arrow(ROUTER, ['internet', 'internet6'], '443/TCP'),
    'runtime → callback receivers (public, 443)': arrow(QUEUE_FUNCTIONS, ['internet', 'internet6'], '443/TCP'),
    'declared: worker → internet:8443': arrow('Deployment/worker', 'internet', '8443/TCP'),
    'declared: caller → hello': arrow('Deployment/caller', 'Deployment/hello', '8080/TCP'),
    'declared: legacy → auth server': arrow('Deployment/legacy', 'auth-server', '8080/TCP'),
  };
}

describe('NetworkPolicies', () => {
  beforeEach(() => clearWarnings());

  test('default-deny namespace: every data path has a policy pair, and nothing else is allowed', async () => {
    const platform = fullPlatform(
      NetworkPolicies.defaultDeny({
        routerClients: [NetworkPeer.namespace('gateway-system')],
        prometheusClients: [NetworkPeer.namespace('grafana', { podLabels: { app: 'grafana' } })],
      }),
    );
    const { objects, allowed } = connections(platform);
    await expectValid(objects, { externalSecrets: ['am'] });
    expect(find(objects, 'NetworkPolicy', 'kubefaas-default-deny').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
    });
    const paths = expectedPaths('gateway');
    for (const [path, expected] of Object.entries(paths)) {
      expect(expected.length).toBeGreaterThan(0);
      for (const connection of expected)
        expect({ path, connection, allowed: allowed.includes(connection) }).toEqual({
          path,
          connection,
          allowed: true,
        });
    }
    expect(allowed).toEqual([...new Set(Object.values(paths).flat())].sort());
  });

  test('defaults: the router is open to anyone on its public port, everything else as above', async () => {
    const platform = fullPlatform(
      NetworkPolicies.perComponent({
        prometheusClients: [NetworkPeer.namespace('grafana', { podLabels: { app: 'grafana' } })],
      }),
    );
    const { objects, allowed } = connections(platform);
    await expectValid(objects, { externalSecrets: ['am'] });
    const paths = expectedPaths('anyone');
    expect(allowed).toEqual([...new Set(Object.values(paths).flat())].sort());
    // Spelled out: what the issue is about.
    expect(allowed).not.toContain('intruder -> Deployment/hello:8080/TCP');
    expect(allowed).not.toContain(`intruder -> ${NATS}:4222/TCP`);
    expect(allowed).not.toContain('Deployment/legacy -> StatefulSet/kubefaas-nats:4222/TCP');
    for (const fn of FUNCTIONS) {
      expect(allowed).not.toContain(`${fn} -> metadata:80/TCP`);
      expect(allowed).not.toContain(`${fn} -> metadata6:80/TCP`);
      expect(allowed).not.toContain(`${fn} -> vpc-host:443/TCP`);
    }
  });

  test('a function alone may reach DNS and nothing else; Egress.internet() adds public addresses only', () => {
    const platform = newPlatform({ namespace: 'faas' });
    new NodeFunction(platform, 'closed', { code: INLINE });
    new NodeFunction(platform, 'open', { code: INLINE, egress: Egress.internet() });
    const objects = synth(platform);
    const endpoints = [...podEndpoints(objects), ...OUTSIDE];
    const allowed = allowedConnections(new NetworkPolicyEvaluator(objects), endpoints);
    const from = (id: string) => allowed.filter((c) => c.startsWith(`${id} -> `)).map((c) => c.split(' -> ')[1]);
    expect(from('Deployment/closed')).toEqual(['kube-dns:53/TCP', 'kube-dns:53/UDP']);
    expect(from('Deployment/open')).toEqual([
      'internet6:443/TCP',
      'internet:443/TCP',
      'internet:80/TCP',
      'internet:8443/TCP',
      'kube-dns:53/TCP',
      'kube-dns:53/UDP',
    ]);
    const rule = find(objects, 'NetworkPolicy', 'open').spec.egress[1];
    expect(rule.to.map((p: { ipBlock: { cidr: string } }) => p.ipBlock.cidr)).toEqual(['0.0.0.0/0', '::/0']);
    expect(rule.to[0].ipBlock.except).toContain('169.254.0.0/16');
    expect(rule.to[1].ipBlock.except).toContain('fc00::/7');
  });

  test('functionDefaults.egress applies to every function, a function`s own egress replaces it', () => {
    const platform = newPlatform({ functionDefaults: { egress: Egress.cidr('198.51.100.0/24') } });
    new NodeFunction(platform, 'a', { code: INLINE });
    new NodeFunction(platform, 'b', { code: INLINE, egress: [] });
    const objects = synth(platform);
    expect(find(objects, 'NetworkPolicy', 'a').spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '198.51.100.0/24' } }],
    });
    expect(find(objects, 'NetworkPolicy', 'b').spec.egress).toHaveLength(1);
  });

  test('a function in another platform namespace: selectors name the namespace, both ways', () => {
    const app = Testing.app();
    const a = new Platform(app, 'a', { namespace: 'a' });
    const other = new Platform(app, 'other', { namespace: 'b' });
    const target = new NodeFunction(other, 'target', { code: INLINE });
    const caller = new NodeFunction(a, 'caller', { code: INLINE });
    caller.allowEgressTo(Egress.toFunction(target));
    const peer = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } },
      podSelector: { matchLabels: { 'kubefaas.dev/function': 'target' } },
    };
    expect(find(synth(a), 'NetworkPolicy', 'caller').spec.egress[1]).toEqual({
      to: [peer],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
    expect(find(synth(other), 'NetworkPolicy', 'target').spec.ingress[1]).toEqual({
      from: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } },
          podSelector: { matchLabels: { 'kubefaas.dev/function': 'caller' } },
        },
      ],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
  });

  test('JWKS on an in-cluster host is warned about unless router.egress declares it; node-local DNS replaces kube-dns', () => {
    const inCluster = RouterAuth.jwt({
      issuer: 'https://id/',
      audience: 'fn',
      jwksUri: 'http://keycloak.auth.svc.cluster.local/jwks',
    });
    synth(newPlatform({ router: { auth: inCluster } }));
    expect(recordedWarnings().map((w) => w.rule)).toContain('network/in-cluster-jwks');
    clearWarnings();
    const platform = newPlatform({
      networkPolicies: NetworkPolicies.perComponent({
        dns: Egress.cidr('169.254.20.10/32', { ports: [NetworkPort.udp(53)] }),
      }),
      router: { auth: inCluster, egress: Egress.namespace('auth', { ports: [NetworkPort.tcp(8080)] }) },
    });
    const egress = find(synth(platform), 'NetworkPolicy', 'kubefaas-router').spec.egress;
    expect(recordedWarnings().map((w) => w.rule)).not.toContain('network/in-cluster-jwks');
    expect(egress[0]).toEqual({
      to: [{ ipBlock: { cidr: '169.254.20.10/32' } }],
      ports: [{ protocol: 'UDP', port: 53 }],
    });
    expect(egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'auth' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
  });

  test('callbacks to private networks: warned about when the function declares no egress', () => {
    const platform = newPlatform({
      queue: Queue.nats(),
      router: { callbacks: CallbackPolicy.allow(['http://hooks.internal:8080/'], { allowPrivateNetworks: true }) },
    });
    new NodeFunction(platform, 'f', { code: INLINE, timeout: Duration.seconds(5) });
    const egress = find(synth(platform), 'NetworkPolicy', 'f').spec.egress;
    expect(egress[2].ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    expect(
      recordedWarnings()
        .filter((w) => w.rule === 'network/private-callbacks')
        .map((w) => w.path),
    ).toEqual(['platform/f']);
  });

  describe('validation names the construct and the fix', () => {
    const cases: Array<[string, () => Egress, RegExp]> = [
      ['not a CIDR', () => Egress.cidr('10.0.0.0'), /'10\.0\.0\.0' is not a valid CIDR \(no prefix length/],
      ['bad address', () => Egress.cidr('300.1.2.3/8'), /not an IPv4 or IPv6 address/],
      ['prefix too long', () => Egress.cidr('10.0.0.0/33'), /prefix length must be 0\.\.32/],
      ['host bits', () => Egress.cidr('10.1.2.3/8'), /host bits are set \(the network is 10\.0\.0\.0\/8\)/],
      ['IPv6 host bits', () => Egress.cidr('2001:db8::1/32'), /the network is 2001:db8::\/32/],
      [
        'except outside',
        () => Egress.cidr('10.0.0.0/8', { except: ['192.168.0.0/16'] }),
        /except 192\.168\.0\.0\/16 is not strictly inside 10\.0\.0\.0\/8/,
      ],
      ['port 0', () => Egress.internet({ ports: [NetworkPort.tcp(0)] }), /port 0 is not a port number \(1\.\.65535\)/],
      [
        'port 70000',
        () => Egress.cidr('10.0.0.0/8', { ports: [NetworkPort.udp(70000)] }),
        /port 70000 is not a port number/,
      ],
      [
        'range backwards',
        () => Egress.internet({ ports: [NetworkPort.tcpRange(9000, 8000)] }),
        /port range 9000\.\.8000 ends before it starts/,
      ],
      [
        'bad namespace',
        () => Egress.namespace('Not_A_Namespace'),
        /namespace 'Not_A_Namespace' is not a valid namespace name/,
      ],
      ['empty selector', () => Egress.pods({}), /a pod selector needs at least one label/],
    ];
    test.each(cases)('%s', (_name, rule, message) => {
      const platform = newPlatform();
      const error = errorOf(() => new NodeFunction(platform, 'f', { code: INLINE, egress: rule() }));
      expect(error.message).toMatch(/^\[platform\/f\] /);
      expect(error.message).toMatch(message);
    });

    test('not an Egress, and bad router clients', () => {
      const platform = newPlatform();
      expect(
        errorOf(() => new NodeFunction(platform, 'f', { code: INLINE, egress: 'internet' as never })).message,
      ).toMatch(/\[platform\/f\] `egress` must be Egress rules\. Use Egress\.internet\(\)/);
      expect(
        errorOf(() =>
          newPlatform({
            networkPolicies: NetworkPolicies.perComponent({ routerClients: [NetworkPeer.cidr('1.2.3.4/24')] }),
          }),
        ).message,
      ).toMatch(
        /^\[platform\] networkPolicies\.routerClients: '1\.2\.3\.4\/24' is not a valid CIDR \(host bits are set/,
      );
    });
  });
});
