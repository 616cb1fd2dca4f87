import { Testing } from 'cdk8s';
import {
  FargateProfile,
  fargateProfileManifest,
  fargateProfilePulumiArgs,
  fargateSelectorMatches,
  fargateWildcardMatch,
} from '../../constructs/placement/fargate-profile';
import { Placement } from '../../constructs/placement/placement';
import { checkAckFargateProfile } from '../support/ack-schema';
import { functionPod, target } from './fixtures';

const definition = {
  name: 'fns',
  clusterName: 'prod',
  podExecutionRoleArn: 'arn:aws:iam::123456789012:role/eks-fargate-pods',
  subnets: ['subnet-0abc1234', 'subnet-0def5678'],
};

describe('ACK FargateProfile', () => {
  it('synthesizes a schema-valid object whose selectors match the placed function pods', () => {
    const chart = Testing.chart();
    const placement = Placement.awsFargate({ profile: definition });
    const profile = new FargateProfile(chart, 'profile', { ...definition, namespace: 'kubefaas' });
    const selector = placement.fargateSelector('kubefaas');
    if (!selector) throw new Error('a Fargate placement has a selector');
    profile.addSelector(selector);
    profile.addSelector(selector); // a second function with the same placement adds nothing

    const [object] = Testing.synth(chart);
    expect(checkAckFargateProfile(object)).toEqual([]);
    expect(object).toEqual({
      apiVersion: 'eks.services.k8s.aws/v1alpha1',
      kind: 'FargateProfile',
      metadata: {
        name: 'fns',
        namespace: 'kubefaas',
        labels: { 'app.kubernetes.io/part-of': 'kubefaas', 'app.kubernetes.io/managed-by': 'kubefaas' },
        annotations: { 'pulumi.com/waitFor': 'jsonpath={.status.status}=ACTIVE', 'argocd.argoproj.io/sync-wave': '-1' },
      },
      spec: {
        name: 'fns',
        clusterName: 'prod',
        podExecutionRoleARN: definition.podExecutionRoleArn,
        subnets: definition.subnets,
        selectors: [{ namespace: 'kubefaas', labels: { 'kubefaas.dev/compute': 'fargate' } }],
      },
    });

    const pod = placement.applyTo(functionPod()).template;
    expect(profile.matches('kubefaas', pod.metadata?.labels ?? {})).toBe(true);
    expect(profile.matches('other', pod.metadata?.labels ?? {})).toBe(false);
    expect(profile.matches('kubefaas', functionPod().metadata?.labels ?? {})).toBe(false);
    // and the placement's own rule agrees
    expect(placement.check(target(pod, { fargateSelectors: profile.definition.selectors }))).toEqual([]);
  });

  it('the schema check catches misspelt or missing fields', () => {
    const object = fargateProfileManifest({ ...definition, selectors: [{ namespace: 'ns' }] }, 'kubefaas') as {
      spec: Record<string, unknown>;
    };
    expect(checkAckFargateProfile(object)).toEqual([]);
    const { podExecutionRoleARN, ...withoutRole } = object.spec;
    expect(
      checkAckFargateProfile({ ...object, spec: { ...withoutRole, podExecutionRoleArn: podExecutionRoleARN } }),
    ).toEqual(['.spec.podExecutionRoleARN: required', '.spec.podExecutionRoleArn: unknown field']);
    expect(
      checkAckFargateProfile({
        ...object,
        spec: { ...object.spec, selectors: [{ namespace: 'ns', labels: { a: 1 } }] },
      }),
    ).toEqual(['.spec.selectors[0].labels.a: expected string, got integer']);
  });

  it('fails synthesis with more than five selectors or none, naming the profile', () => {
    const tooMany = Testing.chart();
    const profile = new FargateProfile(tooMany, 'profile', { ...definition, namespace: 'kubefaas' });
    for (let i = 0; i < 6; i++) profile.addSelector({ namespace: `ns${i}` });
    expect(() => Testing.synth(tooMany)).toThrow(/Fargate profile "fns" has 6 selectors; EKS allows at most 5/);

    const none = Testing.chart();
    new FargateProfile(none, 'profile', { ...definition, namespace: 'kubefaas' });
    expect(() => Testing.synth(none)).toThrow(/Fargate profile "fns" has no selectors/);
  });

  it('gives the Pulumi stack the same definition as aws.eks.FargateProfile arguments', () => {
    const chart = Testing.chart();
    const profile = new FargateProfile(chart, 'profile', {
      ...definition,
      tags: { team: 'faas' },
      namespace: 'kubefaas',
      selectors: [{ namespace: 'kubefaas', labels: { a: 'b' } }],
    });
    expect(fargateProfilePulumiArgs(profile.definition)).toEqual({
      clusterName: 'prod',
      fargateProfileName: 'fns',
      podExecutionRoleArn: definition.podExecutionRoleArn,
      subnetIds: definition.subnets,
      selectors: [{ namespace: 'kubefaas', labels: { a: 'b' } }],
      tags: { team: 'faas' },
    });
    const [object] = Testing.synth(chart);
    expect(object.spec.tags).toEqual({ team: 'faas' });
    expect(checkAckFargateProfile(object)).toEqual([]);
  });
});

describe('Fargate selector matching', () => {
  it('follows the documented wildcards', () => {
    expect(fargateWildcardMatch('prod*', 'prod')).toBe(true);
    expect(fargateWildcardMatch('prod*', 'prod-metrics')).toBe(true);
    expect(fargateWildcardMatch('value?', 'valuea')).toBe(true);
    expect(fargateWildcardMatch('value?', 'value')).toBe(false);
    expect(fargateWildcardMatch('value?', 'value-a')).toBe(false);
    expect(fargateWildcardMatch('a.b', 'axb')).toBe(false);
  });

  it('needs every selector label on the pod', () => {
    const selector = { namespace: 'fns-*', labels: { tier: 'burst', 'team?': 'a*' } };
    expect(fargateSelectorMatches(selector, 'fns-prod', { tier: 'burst', teamx: 'alpha', extra: '1' })).toBe(true);
    expect(fargateSelectorMatches(selector, 'fns-prod', { tier: 'burst' })).toBe(false);
    expect(fargateSelectorMatches(selector, 'other', { tier: 'burst', teamx: 'alpha' })).toBe(false);
    expect(fargateSelectorMatches({ namespace: 'ns' }, 'ns', {})).toBe(true);
  });
});
