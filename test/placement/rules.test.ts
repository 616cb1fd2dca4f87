import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Placement } from '../../constructs/placement/placement';
import { PLACEMENT_RULES, PlacementTarget, RuleProvider } from '../../constructs/placement/rules';
import { functionPod, target, withContainer } from './fixtures';

const placements: Record<RuleProvider, Placement> = {
  'aws-fargate': Placement.awsFargate({ rightSize: false }),
  'azure-virtual-node-v1': Placement.azureVirtualNode({ version: 'v1' }),
  'azure-virtual-node-v2': Placement.azureVirtualNode({ version: 'v2' }),
};

interface RuleCase {
  readonly failing: PlacementTarget;
  readonly passing: PlacementTarget;
}

const big = (cpu: string, memory: string) =>
  withContainer({ resources: { requests: { cpu, memory }, limits: { cpu, memory } } });
const selector = [{ namespace: 'kubefaas', labels: { 'kubefaas.dev/compute': 'fargate' } }];
const fargateLabels = (t: PlacementTarget) => ({
  ...t,
  template: {
    ...t.template,
    metadata: { labels: { ...(t.template.metadata?.labels ?? {}), 'kubefaas.dev/compute': 'fargate' } },
  },
});

/** A failing and a passing case for every rule id. */
const CASES: Record<string, RuleCase> = {
  'fargate/size': { failing: target(big('16', '120Gi')), passing: target(big('16', '119Gi')) },
  'fargate/requests-equal-limits': {
    failing: target(
      withContainer({ resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } } }),
    ),
    passing: target(
      withContainer({
        resources: { requests: { cpu: '0.1', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
      }),
    ),
  },
  'fargate/privileged': {
    failing: target(withContainer({ securityContext: { privileged: true } })),
    passing: target(withContainer({ securityContext: { privileged: false } })),
  },
  'fargate/capabilities': {
    failing: target(withContainer({ securityContext: { capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } } })),
    passing: target(),
  },
  'fargate/host-network': {
    failing: target(functionPod({ hostNetwork: true })),
    passing: target(functionPod({ hostNetwork: false })),
  },
  'fargate/host-port': {
    failing: target(withContainer({ ports: [{ containerPort: 8080, hostPort: 8080 }] })),
    passing: target(withContainer({ ports: [{ containerPort: 8080 }] })),
  },
  'fargate/daemonset': {
    failing: target(functionPod(), { workloadKind: 'DaemonSet' }),
    passing: target(functionPod(), { workloadKind: 'Deployment' }),
  },
  'fargate/volume-types': {
    failing: target(functionPod({ volumes: [{ name: 'host', hostPath: { path: '/var/log' } }] })),
    passing: target(
      functionPod({
        volumes: [
          { name: 'efs', persistentVolumeClaim: { claimName: 'efs-static' } },
          { name: 'tmp', emptyDir: {} },
        ],
      }),
    ),
  },
  'fargate/persistent-storage': {
    failing: target(functionPod(), { persistentStorage: { storageClassName: 'gp3' } }),
    passing: target(),
  },
  'fargate/topology-spread': {
    failing: target(
      functionPod({
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' },
        ],
      }),
    ),
    passing: target(functionPod({ topologySpreadConstraints: [] })),
  },
  'fargate/profile-match': {
    failing: target(functionPod(), { fargateSelectors: selector }),
    passing: fargateLabels(target(functionPod(), { fargateSelectors: selector })),
  },
  'fargate/network-policy': {
    failing: target(functionPod(), { networkPolicy: true }),
    passing: target(functionPod(), { networkPolicy: false }),
  },
  'aci-v1/init-containers': {
    failing: target(functionPod({ initContainers: [{ name: 'migrate' }] })),
    passing: target(functionPod({ initContainers: [] })),
  },
  'aci-v1/host-aliases': {
    failing: target(functionPod({ hostAliases: [{ ip: '10.0.0.1', hostnames: ['db'] }] })),
    passing: target(),
  },
  'aci-v1/lifecycle-hooks': {
    failing: target(withContainer({ lifecycle: { preStop: { sleep: { seconds: 5 } } } })),
    passing: target(withContainer({ lifecycle: {} })),
  },
  'aci-v1/args-without-command': {
    failing: target(withContainer({ args: ['--port', '8080'] })),
    passing: target(withContainer({ command: ['/app/server'], args: ['--port', '8080'] })),
  },
  'aci-v1/daemonset': { failing: target(functionPod(), { workloadKind: 'DaemonSet' }), passing: target() },
  'aci-v1/volume-types': {
    failing: target(functionPod({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] })),
    passing: target(
      functionPod({
        volumes: [
          { name: 'share', azureFile: { secretName: 's', shareName: 'x' } },
          { name: 'tmp', emptyDir: {} },
        ],
      }),
    ),
  },
  'aci-v1/persistent-storage': {
    failing: target(functionPod(), { persistentStorage: { storageClassName: 'azurefile' } }),
    passing: target(),
  },
  'aci-v1/network-policy': { failing: target(functionPod(), { networkPolicy: true }), passing: target() },
  'aci-v2/daemonset': {
    failing: target(functionPod(), { workloadKind: 'DaemonSet' }),
    passing: target(functionPod(), { workloadKind: 'StatefulSet' }),
  },
  'aci-v2/volume-types': {
    failing: target(functionPod({ volumes: [{ name: 'host', hostPath: { path: '/' } }] })),
    passing: target(functionPod({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'files' } }] })),
  },
  'aci-v2/persistent-storage': {
    failing: target(functionPod(), { persistentStorage: { storageClassName: 'managed-csi' } }),
    passing: target(functionPod(), { persistentStorage: { storageClassName: 'azurefile-csi-premium' } }),
  },
};

describe('placement rules', () => {
  it('has a failing and a passing case for every rule', () => {
    expect(Object.keys(CASES).sort()).toEqual(PLACEMENT_RULES.map((r) => r.id).sort());
  });

  it('documents a source and a summary for every rule, in the code and in docs/placement.md', () => {
    const docs = readFileSync(join(__dirname, '../../docs/placement.md'), 'utf8');
    for (const rule of PLACEMENT_RULES) expect(docs).toContain(`| \`${rule.id}\` | ${rule.severity} |`);
    for (const rule of PLACEMENT_RULES) {
      expect(rule.source.length).toBeGreaterThan(10);
      expect(rule.summary.length).toBeGreaterThan(5);
    }
  });

  describe.each(PLACEMENT_RULES.map((rule) => [rule.id, rule] as const))('%s', (id, rule) => {
    const placement = placements[rule.provider];
    const findings = (t: PlacementTarget) => placement.check(t).filter((f) => f.rule === id);

    it('reports the violation, naming the function and the rule', () => {
      const found = findings(CASES[id].failing);
      expect(found.length).toBeGreaterThan(0);
      for (const finding of found) {
        expect(finding.severity).toBe(rule.severity);
        expect(finding.message).toContain('function "hello"');
        expect(finding.message).toContain(`rule ${id}`);
      }
    });

    it('accepts the compliant pod', () => {
      expect(findings(CASES[id].passing)).toEqual([]);
    });
  });

  it('finds nothing wrong with a default function pod on any provider (besides its NetworkPolicy warning)', () => {
    for (const placement of Object.values(placements)) {
      const labelled = placement.applyTo(functionPod()).template;
      expect(placement.check(target(labelled))).toEqual([]);
    }
    expect(
      Placement.regularNodes().check(target(functionPod(), { networkPolicy: true, workloadKind: 'DaemonSet' })),
    ).toEqual([]);
  });

  it('applies the virtual node rules to burst placements too (pods may land there)', () => {
    const burst = Placement.burst(Placement.azureVirtualNode({ version: 'v1' }));
    expect(burst.check(target(functionPod({ initContainers: [{ name: 'x' }] }))).map((f) => f.rule)).toEqual([
      'aci-v1/init-containers',
    ]);
  });
});
