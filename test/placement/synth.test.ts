/**
 * Placement wired into the constructs: what the synthesized pods carry on each provider, that the
 * manifests stay valid (schemas incl. the ACK FargateProfile, semantics, restricted PSS), that the
 * Fargate profile selects exactly the function pods, and that provider limits fail synthesis.
 */
import { App, Testing } from 'cdk8s';
import { Cpu, CronTrigger, Metrics, NodeFunction, Platform, PlatformProps, Queue, Size } from '../../constructs';
import { fargateProfilePulumiArgs, fargateSelectorMatches } from '../../constructs/placement/fargate-profile';
import { FARGATE_SIZE_ANNOTATION, Placement } from '../../constructs/placement/placement';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import { checkAckFargateProfile } from '../support/ack-schema';
import { synthesizeApp } from '../../stacks/synthesize';
import { expectValidManifests } from '../support/validate';
import { errorOf, find, INLINE, K8sObject, synth } from '../constructs/helpers';

const profile = {
  name: 'fns',
  clusterName: 'prod',
  podExecutionRoleArn: 'arn:aws:iam::123456789012:role/eks-fargate-pods',
  subnets: ['subnet-0abc1234', 'subnet-0def5678'],
};

const PLACEMENTS: readonly [string, () => Placement][] = [
  ['regular nodes', () => Placement.regularNodes()],
  ['AWS Fargate', () => Placement.awsFargate({ profile })],
  ['AKS virtual nodes v1', () => Placement.azureVirtualNode({ version: 'v1' })],
  ['AKS virtual nodes v2', () => Placement.azureVirtualNode({ version: 'v2' })],
  ['burst to AKS v1', () => Placement.burst(Placement.azureVirtualNode({ version: 'v1' }))],
  ['burst to AKS v2', () => Placement.burst(Placement.azureVirtualNode({ version: 'v2' }))],
];

const SCHEDULING_FIELDS = ['nodeSelector', 'tolerations', 'affinity'];
const schedulingOf = (deployment: K8sObject) =>
  Object.fromEntries(
    SCHEDULING_FIELDS.filter((f) => deployment.spec.template.spec[f] !== undefined).map((f) => [
      f,
      deployment.spec.template.spec[f],
    ]),
  );

const validate = (objects: K8sObject[]) =>
  expectValidManifests(objects, {
    schemaCheckers: { 'eks.services.k8s.aws/v1alpha1/FargateProfile': checkAckFargateProfile },
  });

function platformWith(props: PlatformProps): Platform {
  const platform = new Platform(Testing.app(), 'platform', props);
  new NodeFunction(platform, 'hello', { code: INLINE });
  return platform;
}

beforeEach(() => clearWarnings());
let stderr: jest.SpyInstance;
beforeAll(() => (stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true)));
afterAll(() => stderr.mockRestore());

describe.each(PLACEMENTS)('functions placed on %s', (_name, make) => {
  it("carry exactly the provider's scheduling fields and pass the schema, semantic and restricted-PSS checks", async () => {
    const placement = make();
    const objects = synth(platformWith({ functionDefaults: { placement } }));
    const deployment = find(objects, 'Deployment', 'hello');
    expect(schedulingOf(deployment)).toEqual(JSON.parse(JSON.stringify(placement.scheduling())));
    expect(deployment.spec.template.metadata.labels).toMatchObject(placement.podLabels());
    // the router keeps its own (default) placement
    expect(schedulingOf(find(objects, 'Deployment', 'kubefaas-router'))).toEqual({});
    await validate(objects);
  });
});

describe('AWS Fargate', () => {
  it('synthesizes the ACK FargateProfile whose selectors match the function pods, and the pods are right-sized', async () => {
    const platform = platformWith({
      namespace: 'fns-prod',
      functionDefaults: { placement: Placement.awsFargate({ profile }) },
    });
    new NodeFunction(platform, 'big', { code: INLINE, cpu: Cpu.millis(1000), memory: Size.gibibytes(8) });
    const objects = synth(platform);

    const ack = find(objects, 'FargateProfile', 'fns');
    expect(checkAckFargateProfile(ack)).toEqual([]);
    expect(ack.metadata.namespace).toBe('fns-prod');
    expect(ack.spec.selectors).toHaveLength(1);
    for (const name of ['hello', 'big']) {
      const template = find(objects, 'Deployment', name).spec.template;
      expect(
        ack.spec.selectors.some((s: { namespace: string }) =>
          fargateSelectorMatches(s, 'fns-prod', template.metadata.labels),
        ),
      ).toBe(true);
    }
    // pods that are not placed on Fargate are not selected
    const routerLabels = find(objects, 'Deployment', 'kubefaas-router').spec.template.metadata.labels;
    expect(
      ack.spec.selectors.some((s: { namespace: string }) => fargateSelectorMatches(s, 'fns-prod', routerLabels)),
    ).toBe(false);

    const hello = find(objects, 'Deployment', 'hello').spec.template;
    expect(hello.metadata.annotations[FARGATE_SIZE_ANNOTATION]).toBe('0.25vCPU 0.5GB');
    expect(hello.spec.containers[0].resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '250m', memory: '256Mi' },
    });
    expect(find(objects, 'Deployment', 'big').spec.template.metadata.annotations[FARGATE_SIZE_ANNOTATION]).toBe(
      '2vCPU 9GB',
    );

    // the same definition, as plain data, for the Pulumi stack
    expect(platform.fargateProfiles).toHaveLength(1);
    expect(fargateProfilePulumiArgs(platform.fargateProfiles[0]).selectors).toEqual(ack.spec.selectors);
    expect(platform.fargateProfiles[0]).toMatchObject({ name: 'fns', clusterName: 'prod', subnets: profile.subnets });

    expect(placementWarnings().map((w) => w.rule)).toEqual(['fargate/network-policy', 'fargate/network-policy']);
    await validate(objects);
  });

  it('orders the profile before every pod it places (manifest order, Pulumi dependencies, Argo CD wave)', async () => {
    const platform = platformWith({ functionDefaults: { placement: Placement.awsFargate({ profile }) } });
    const ticker = new NodeFunction(platform, 'ticker', { code: INLINE });
    ticker.addTrigger(new CronTrigger({ schedule: '@hourly' }));
    const synthesized = synthesizeApp(platform.node.root as App);
    const manifests = synthesized.map((s) => s.manifest);
    const at = (kind: string, name: string) => manifests.findIndex((m) => m.kind === kind && m.metadata.name === name);
    const profileAt = at('FargateProfile', 'fns');
    expect(manifests[profileAt].metadata.annotations).toMatchObject({
      'pulumi.com/waitFor': 'jsonpath={.status.status}=ACTIVE',
      'argocd.argoproj.io/sync-wave': '-1',
    });
    for (const [kind, name] of [
      ['Deployment', 'hello'],
      ['Deployment', 'ticker'],
      ['CronJob', 'ticker-cron-tick'],
    ]) {
      const index = at(kind, name);
      expect(index).toBeGreaterThan(profileAt);
      expect(synthesized[index].declaredDependencies).toContain(profileAt);
    }
    // the router is not on Fargate and does not wait for the profile
    expect(synthesized[at('Deployment', 'kubefaas-router')].declaredDependencies).not.toContain(profileAt);
    await validate(manifests as unknown as K8sObject[]);
  });

  it("places a function's cron Job pods like the function, selected by the same profile", async () => {
    const platform = platformWith({
      namespace: 'fns-prod',
      functionDefaults: { placement: Placement.awsFargate({ profile }) },
    });
    new NodeFunction(platform, 'ticker', { code: INLINE, triggers: [new CronTrigger({ schedule: '@hourly' })] });
    const objects = synth(platform);
    const cronPod = find(objects, 'CronJob', 'ticker-cron-tick').spec.jobTemplate.spec.template;
    const ack = find(objects, 'FargateProfile', 'fns');
    expect(
      ack.spec.selectors.some((s: { namespace: string }) =>
        fargateSelectorMatches(s, 'fns-prod', cronPod.metadata.labels),
      ),
    ).toBe(true);
    expect(cronPod.metadata.annotations[FARGATE_SIZE_ANNOTATION]).toBeDefined();
    await validate(objects);

    const aci = platformWith({ functionDefaults: { placement: Placement.azureVirtualNode({ version: 'v2' }) } });
    new NodeFunction(aci, 'ticker', { code: INLINE, triggers: [new CronTrigger({ schedule: '@hourly' })] });
    const aciObjects = synth(aci);
    const aciPod = find(aciObjects, 'CronJob', 'ticker-cron-tick').spec.jobTemplate.spec.template;
    expect(schedulingOf({ spec: { template: aciPod } } as K8sObject)).toEqual(
      JSON.parse(JSON.stringify(Placement.azureVirtualNode({ version: 'v2' }).scheduling())),
    );
  });

  it('fails synthesis for a function too large for Fargate, naming the function and the rule', () => {
    const platform = platformWith({ functionDefaults: { placement: Placement.awsFargate() } });
    new NodeFunction(platform, 'huge', { code: INLINE, cpu: Cpu.millis(32000) });
    const error = errorOf(() => synth(platform));
    expect(error.message).toMatch(/platform\/huge.*function "huge": the pod requests 32000m CPU.*rule fargate\/size/s);
  });

  it('refuses two placements that define the same profile differently', () => {
    const platform = platformWith({ functionDefaults: { placement: Placement.awsFargate({ profile }) } });
    const error = errorOf(
      () =>
        new NodeFunction(platform, 'other', {
          code: INLINE,
          placement: Placement.awsFargate({ profile: { ...profile, clusterName: 'staging' } }),
        }),
    );
    expect(error.message).toMatch(/Fargate profile "fns" is defined twice with different settings/);
  });
});

describe('placement per function and per component', () => {
  it('lets a function override the platform default', () => {
    const platform = platformWith({ functionDefaults: { placement: Placement.azureVirtualNode() } });
    new NodeFunction(platform, 'local', { code: INLINE, placement: Placement.regularNodes() });
    const objects = synth(platform);
    expect(schedulingOf(find(objects, 'Deployment', 'local'))).toEqual({});
    expect(schedulingOf(find(objects, 'Deployment', 'hello'))).toEqual(Placement.azureVirtualNode().scheduling());
  });

  it('places the router independently of the functions', async () => {
    const objects = synth(platformWith({ router: { placement: Placement.azureVirtualNode({ version: 'v2' }) } }));
    expect(schedulingOf(find(objects, 'Deployment', 'kubefaas-router'))).toEqual(
      Placement.azureVirtualNode({ version: 'v2' }).scheduling(),
    );
    expect(schedulingOf(find(objects, 'Deployment', 'hello'))).toEqual({});
    await validate(objects);
  });

  it("warns, without failing, that a function's NetworkPolicy does not apply on ACI v1", () => {
    synth(
      platformWith({ functionDefaults: { placement: Placement.burst(Placement.azureVirtualNode({ version: 'v1' })) } }),
    );
    const warnings = placementWarnings();
    expect(warnings.map((w) => w.rule)).toEqual(['aci-v1/network-policy']);
    expect(warnings[0].path).toMatch(/platform\/hello/);
    expect(warnings[0].message).toMatch(/function "hello": its NetworkPolicy will not apply/);
  });
});

describe('the queue (persistent storage)', () => {
  const queueSet = (objects: K8sObject[]) => objects.find((o) => o.kind === 'StatefulSet');

  it('is refused on providers that cannot mount its volumes, naming the component and the rule', () => {
    for (const [placement, rule] of [
      [Placement.awsFargate(), 'fargate/persistent-storage'],
      [Placement.azureVirtualNode({ version: 'v1' }), 'aci-v1/persistent-storage'],
      [Placement.azureVirtualNode({ version: 'v2' }), 'aci-v2/persistent-storage'],
    ] as const) {
      const platform = platformWith({ queue: Queue.nats(), queuePlacement: placement });
      expect(errorOf(() => synth(platform)).message).toMatch(
        new RegExp(`platform component "queue": it claims persistent storage.*rule ${rule}`, 's'),
      );
    }
  });

  it('runs on AKS virtual nodes v2 with an Azure Files storage class, with the documented scheduling fields', async () => {
    const placement = Placement.azureVirtualNode({ version: 'v2' });
    const objects = synth(
      platformWith({ queue: Queue.nats({ storageClass: 'azurefile-csi' }), queuePlacement: placement }),
    );
    expect(schedulingOf(queueSet(objects) as K8sObject)).toEqual(placement.scheduling());
    expect(schedulingOf(find(objects, 'Deployment', 'hello'))).toEqual({});
    await validate(objects);
  });

  it('stays on regular nodes by default', () => {
    expect(schedulingOf(queueSet(synth(platformWith({ queue: Queue.nats() }))) as K8sObject)).toEqual({});
  });
});

describe('the bundled Prometheus (placed independently of the functions)', () => {
  const prometheusSet = (objects: K8sObject[]) => find(objects, 'StatefulSet', 'kubefaas-prometheus');

  it('keeps its persistent volume off providers that cannot mount it', () => {
    const platform = platformWith({
      metrics: Metrics.prometheus(),
      metricsPlacement: Placement.azureVirtualNode({ version: 'v1' }),
    });
    expect(errorOf(() => synth(platform)).message).toMatch(
      /platform component "kubefaas-prometheus": it claims persistent storage.*rule aci-v1\/persistent-storage/s,
    );
  });

  it('runs ephemeral on AKS virtual nodes v2 with exactly the provider fields, functions untouched', async () => {
    const placement = Placement.azureVirtualNode({ version: 'v2' });
    const objects = synth(
      platformWith({ metrics: Metrics.prometheus({ ephemeral: true }), metricsPlacement: placement }),
    );
    expect(schedulingOf(prometheusSet(objects))).toEqual(placement.scheduling());
    expect(schedulingOf(find(objects, 'Deployment', 'hello'))).toEqual({});
    await validate(objects);
  });

  it('is refused for a metrics mode that runs no pods', () => {
    expect(
      errorOf(() => platformWith({ metrics: Metrics.none(), metricsPlacement: Placement.awsFargate() })).message,
    ).toMatch(/metricsPlacement: this metrics mode runs no pods/);
  });
});

/** Placement warnings only: every platform also warns that its router code needs server-side apply (test/constructs). */
function placementWarnings() {
  return recordedWarnings().filter((w) => w.rule !== 'apply/last-applied-size');
}

describe('topology spread of platform components', () => {
  const spreadOf = (o: K8sObject) => o.spec.template.spec.topologySpreadConstraints;

  it('spreads router and 3-server queue replicas over nodes and zones (soft), rollouts counted per revision', async () => {
    const objects = synth(platformWith({ queue: Queue.nats({ replicas: 3 }) }));
    const router = spreadOf(find(objects, 'Deployment', 'kubefaas-router'));
    expect(router.map((c: { topologyKey: string }) => c.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const c of router) {
      expect(c).toMatchObject({
        maxSkew: 1,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'kubefaas.dev/component': 'router' } },
        matchLabelKeys: ['pod-template-hash'],
      });
    }
    const nats = spreadOf(find(objects, 'StatefulSet', 'kubefaas-nats'));
    expect(nats).toHaveLength(2);
    expect(nats[0].labelSelector.matchLabels).toEqual(
      find(objects, 'StatefulSet', 'kubefaas-nats').spec.selector.matchLabels,
    );
    // functions keep their own scheduling
    expect(spreadOf(find(objects, 'Deployment', 'hello'))).toBeUndefined();
    await validate(objects);
  });

  it('does not spread a single queue server, nor a router placed on Fargate (which refuses the field)', async () => {
    const objects = synth(
      platformWith({ queue: Queue.nats(), router: { placement: Placement.awsFargate({ profile }) } }),
    );
    expect(spreadOf(find(objects, 'StatefulSet', 'kubefaas-nats'))).toBeUndefined();
    expect(spreadOf(find(objects, 'Deployment', 'kubefaas-router'))).toBeUndefined();
    await validate(objects);
  });
});
