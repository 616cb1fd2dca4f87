import { FARGATE_PROFILE_LABEL, FARGATE_SIZE_ANNOTATION, Placement } from '../../constructs/placement/placement';
import { persistentStorageProblems } from '../../constructs/placement/persistent-storage';
import { functionPod, target, withContainer } from './fixtures';

const SCHEDULING_FIELDS = ['nodeSelector', 'tolerations', 'affinity'] as const;
const schedulingOf = (spec: Record<string, unknown>) =>
  Object.fromEntries(SCHEDULING_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]]));

describe('scheduling fields per placement', () => {
  it('regular nodes: none', () => {
    expect(schedulingOf(Placement.regularNodes().applyTo(functionPod()).template.spec)).toEqual({});
  });

  it('AWS Fargate: none (a profile selects pods by namespace and labels)', () => {
    const placed = Placement.awsFargate().applyTo(functionPod()).template;
    expect(schedulingOf(placed.spec)).toEqual({});
    expect(placed.metadata?.labels).toMatchObject({
      'kubefaas.dev/compute': 'fargate',
      'kubefaas.dev/function': 'hello',
    });
  });

  it('AKS virtual node add-on (v1): the documented node selector and tolerations', () => {
    expect(schedulingOf(Placement.azureVirtualNode({ version: 'v1' }).applyTo(functionPod()).template.spec)).toEqual({
      nodeSelector: { 'kubernetes.io/role': 'agent', 'beta.kubernetes.io/os': 'linux', type: 'virtual-kubelet' },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists' },
        { key: 'azure.com/aci', effect: 'NoSchedule' },
      ],
    });
  });

  it('AKS virtual nodes v2 (the default version): the documented node selector and toleration', () => {
    const expected = {
      nodeSelector: { virtualization: 'virtualnode2', 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
    };
    expect(schedulingOf(Placement.azureVirtualNode({ version: 'v2' }).applyTo(functionPod()).template.spec)).toEqual(
      expected,
    );
    expect(schedulingOf(Placement.azureVirtualNode().applyTo(functionPod()).template.spec)).toEqual(expected);
  });

  it.each([
    ['v1', 'type', 'virtual-kubelet'],
    ['v2', 'virtualization', 'virtualnode2'],
  ] as const)(
    'burst on AKS %s: tolerations plus a preference for nodes that are not virtual, no node selector',
    (version, key, value) => {
      const placement = Placement.burst(Placement.azureVirtualNode({ version }));
      const spec = placement.applyTo(functionPod()).template.spec;
      expect(spec.nodeSelector).toBeUndefined();
      expect(spec.tolerations).toEqual(Placement.azureVirtualNode({ version }).scheduling().tolerations);
      expect(spec.affinity).toEqual({
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, preference: { matchExpressions: [{ key, operator: 'NotIn', values: [value] }] } },
          ],
        },
      });
      expect(placement.description).toBe(`AKS virtual nodes ${version} (burst)`);
    },
  );

  it('replaces the fields of an earlier placement instead of merging them', () => {
    const onAci = Placement.azureVirtualNode({ version: 'v1' }).applyTo(functionPod()).template;
    expect(schedulingOf(Placement.regularNodes().applyTo(onAci).template.spec)).toEqual({});
  });

  it('refuses to burst to Fargate, and says what to do instead', () => {
    expect(() => Placement.burst(Placement.awsFargate())).toThrow(
      /Fargate cannot take overflow.*Placement\.awsFargate\(\).*burst/s,
    );
    expect(() => Placement.burst(Placement.regularNodes())).toThrow(/virtual-node placement/);
  });

  it('does not mutate the template it is given', () => {
    const pod = functionPod();
    const before = JSON.stringify(pod);
    Placement.awsFargate().applyTo(pod);
    Placement.burst(Placement.azureVirtualNode()).applyTo(pod);
    expect(JSON.stringify(pod)).toBe(before);
  });
});

describe('Fargate right-sizing', () => {
  it('rounds a small function up to 0.25 vCPU / 0.5 GB and gives it everything but the 256 MB overhead', () => {
    const placed = Placement.awsFargate().applyTo(functionPod());
    expect(placed.fargateSize).toEqual({ cpuMillis: 250, memoryMiB: 512 });
    expect(placed.template.metadata?.annotations?.[FARGATE_SIZE_ANNOTATION]).toBe('0.25vCPU 0.5GB');
    expect(placed.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '250m', memory: '256Mi' },
    });
  });

  it("reports the guide's 1 vCPU / 8 GB request as a 2 vCPU / 9 GB pod", () => {
    const pod = withContainer({ resources: { requests: { cpu: '1', memory: '8Gi' } } });
    const placed = Placement.awsFargate().applyTo(pod);
    expect(placed.template.metadata?.annotations?.[FARGATE_SIZE_ANNOTATION]).toBe('2vCPU 9GB');
    expect(placed.template.spec.containers[0].resources?.limits).toEqual({ cpu: '2', memory: '8960Mi' });
  });

  it('keeps a right-sized pod at the same size (idempotent) and compliant with every Fargate rule', () => {
    const placement = Placement.awsFargate();
    const once = placement.applyTo(withContainer({ resources: { requests: { cpu: '300m', memory: '700Mi' } } }));
    const twice = placement.applyTo(once.template);
    expect(twice.fargateSize).toEqual(once.fargateSize);
    expect(twice.template).toEqual(once.template);
    expect(placement.check(target(twice.template))).toEqual([]);
  });

  it('splits nothing away from sidecars: only the first container grows', () => {
    const base = functionPod();
    const pod = {
      ...base,
      spec: {
        ...base.spec,
        containers: [
          ...base.spec.containers,
          { name: 'sidecar', resources: { requests: { cpu: '50m', memory: '64Mi' } } },
        ],
      },
    };
    const placed = Placement.awsFargate().applyTo(pod);
    expect(placed.template.spec.containers[1].resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '50m', memory: '64Mi' },
    });
    expect(placed.template.spec.containers[0].resources?.requests).toEqual({ cpu: '200m', memory: '192Mi' });
  });

  it('with rightSize off, leaves resources alone and still reports the size', () => {
    const pod = withContainer({
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
    });
    const placement = Placement.awsFargate({ rightSize: false });
    const placed = placement.applyTo(pod);
    expect(placed.template.spec.containers[0].resources).toEqual(pod.spec.containers[0].resources);
    expect(placed.fargateSize).toEqual({ cpuMillis: 250, memoryMiB: 512 });
    expect(placement.check(target(placed.template)).map((f) => f.rule)).toEqual(['fargate/requests-equal-limits']);
  });

  it('leaves a pod too large for Fargate unsized and lets the size rule name it', () => {
    const placement = Placement.awsFargate();
    const placed = placement.applyTo(withContainer({ resources: { requests: { cpu: '32', memory: '1Gi' } } }));
    expect(placed.fargateSize).toBeUndefined();
    expect(placed.template.metadata?.annotations?.[FARGATE_SIZE_ANNOTATION]).toBeUndefined();
    const [finding] = placement.check(target(placed.template));
    expect(finding.rule).toBe('fargate/size');
    expect(finding.message).toMatch(/function "hello": the pod requests 32000m CPU .*16vCPU 120GB/);
  });
});

describe('Fargate placement options', () => {
  const profile = {
    name: 'fns',
    clusterName: 'prod',
    podExecutionRoleArn: 'arn:aws:iam::123456789012:role/eks-fargate-pods',
    subnets: ['subnet-0abc1234'],
  };

  it('labels pods with the profile name so that profile wins when several match', () => {
    expect(Placement.awsFargate({ profile }).podLabels()).toEqual({
      'kubefaas.dev/compute': 'fargate',
      [FARGATE_PROFILE_LABEL]: 'fns',
    });
    expect(Placement.awsFargate({ profileName: 'shared', selectorLabels: {} }).podLabels()).toEqual({
      [FARGATE_PROFILE_LABEL]: 'shared',
    });
  });

  it('derives the profile selector from the namespace and selector labels', () => {
    expect(Placement.awsFargate({ profile, selectorLabels: { tier: 'burst' } }).fargateProfile('fns-ns')).toEqual({
      ...profile,
      selectors: [{ namespace: 'fns-ns', labels: { tier: 'burst' } }],
    });
    expect(Placement.awsFargate({ profile, selectorLabels: {} }).fargateSelector('ns')).toEqual({ namespace: 'ns' });
    expect(Placement.awsFargate().fargateProfile('ns')).toBeUndefined();
    expect(Placement.regularNodes().fargateSelector('ns')).toBeUndefined();
  });

  it('refuses bad options when the placement is created', () => {
    expect(() => Placement.awsFargate({ profile, profileName: 'other' })).toThrow(/either profile .* or profileName/);
    expect(() => Placement.awsFargate({ profile: { ...profile, podExecutionRoleArn: 'role' } })).toThrow(
      /not an IAM role ARN/,
    );
    expect(() => Placement.awsFargate({ profile: { ...profile, subnets: [] } })).toThrow(/at least one private subnet/);
    expect(() => Placement.awsFargate({ profile: { ...profile, name: 'Fns_1' } })).toThrow(/DNS-1123/);
    expect(() => Placement.awsFargate({ selectorLabels: { 'tier*': 'x' } })).toThrow(/not a valid Kubernetes label/);
    expect(() => Placement.azureVirtualNode({ version: 'v3' as never })).toThrow(/version must be/);
  });
});

describe('persistent storage (the queue)', () => {
  it('is refused on Fargate and AKS v1, allowed on regular nodes, and on v2 only with Azure Files', () => {
    expect(persistentStorageProblems(Placement.regularNodes(), 'platform component "queue"', 'gp3')).toEqual([]);
    expect(persistentStorageProblems(Placement.awsFargate(), 'platform component "queue"').map((f) => f.rule)).toEqual([
      'fargate/persistent-storage',
    ]);
    expect(
      persistentStorageProblems(
        Placement.azureVirtualNode({ version: 'v1' }),
        'platform component "queue"',
        'azurefile',
      ).map((f) => f.rule),
    ).toEqual(['aci-v1/persistent-storage']);
    expect(
      persistentStorageProblems(Placement.azureVirtualNode({ version: 'v2' }), 'q', 'managed-csi')[0].message,
    ).toMatch(/q: .*Azure Files/);
    expect(persistentStorageProblems(Placement.azureVirtualNode({ version: 'v2' }), 'q', 'azurefile-csi')).toEqual([]);
    expect(
      persistentStorageProblems(Placement.burst(Placement.azureVirtualNode({ version: 'v1' })), 'q', 'managed-csi'),
    ).toHaveLength(1);
  });
});
