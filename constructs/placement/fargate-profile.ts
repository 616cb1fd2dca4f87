/**
 * EKS Fargate profiles: which pods (namespace + labels) run on Fargate, in which private subnets,
 * with which pod execution role. kubefaas can synthesize the profile as an AWS Controllers for
 * Kubernetes (ACK) `FargateProfile` custom resource (`eks.services.k8s.aws/v1alpha1`, field names
 * from aws-controllers-k8s/eks-controller `apis/v1alpha1/fargate_profile.go`), and hands the same
 * definition to Pulumi as plain data (`fargateProfilePulumiArgs`) for `aws.eks.FargateProfile`.
 *
 * Facts (Amazon EKS User Guide, `fargate-profile.adoc`): up to five selectors per profile, each
 * with a namespace and optional labels (a pod must carry all of them); `*` and `?` wildcards in
 * namespaces, label keys and values; profiles are immutable; only private subnets.
 */
import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { Labels, PART_OF } from '../../src/contract';
import { StringMap } from './pod-types';

export const ACK_EKS_API_VERSION = 'eks.services.k8s.aws/v1alpha1';
export const ACK_FARGATE_PROFILE_KIND = 'FargateProfile';
/** Most selectors one Fargate profile can hold. */
export const MAX_FARGATE_SELECTORS = 5;

/** One Fargate profile selector. */
export interface FargateProfileSelector {
  /** Namespace (wildcards `*` and `?` allowed). */
  readonly namespace: string;
  /**
   * Labels a pod must all carry (wildcards allowed in keys and values).
   * @default {} (every pod in the namespace)
   */
  readonly labels?: StringMap;
}

/** Everything a Fargate profile needs; the same data feeds the ACK object and the Pulumi stack. */
export interface FargateProfileDefinition {
  /** Profile name in EKS (also the name of the ACK object, so a DNS-1123 label). */
  readonly name: string;
  /** EKS cluster name. */
  readonly clusterName: string;
  /** ARN of the pod execution role (trust `eks-fargate-pods.amazonaws.com`). */
  readonly podExecutionRoleArn: string;
  /** Private subnet ids pods are launched into. */
  readonly subnets: readonly string[];
  /** Up to five selectors. */
  readonly selectors: readonly FargateProfileSelector[];
  /**
   * Tags on the profile (they do not propagate to pods).
   * @default {}
   */
  readonly tags?: StringMap;
}

const PROFILE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;

/** Problems with a profile definition, one sentence each (empty when valid). */
export function fargateProfileProblems(
  definition: Omit<FargateProfileDefinition, 'selectors'> & { readonly selectors?: readonly FargateProfileSelector[] },
): string[] {
  const problems: string[] = [];
  if (!PROFILE_NAME.test(definition.name) || definition.name.length > 63) {
    problems.push(
      `Fargate profile name "${definition.name}" must be a DNS-1123 label (lowercase letters, digits, '-', at most 63 characters) so it can name the ACK object too`,
    );
  }
  if (!definition.clusterName || !/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(definition.clusterName)) {
    problems.push(
      `Fargate profile "${definition.name}": clusterName "${definition.clusterName}" is not a valid EKS cluster name`,
    );
  }
  if (!ROLE_ARN.test(definition.podExecutionRoleArn)) {
    problems.push(
      `Fargate profile "${definition.name}": podExecutionRoleArn "${definition.podExecutionRoleArn}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`,
    );
  }
  if (definition.subnets.length === 0) {
    problems.push(`Fargate profile "${definition.name}" needs at least one private subnet`);
  }
  for (const subnet of definition.subnets) {
    if (!SUBNET_ID.test(subnet))
      problems.push(`Fargate profile "${definition.name}": "${subnet}" is not a subnet id (subnet-0123abcd...)`);
  }
  const selectors = definition.selectors ?? [];
  if (selectors.length > MAX_FARGATE_SELECTORS) {
    problems.push(
      `Fargate profile "${definition.name}" has ${selectors.length} selectors; EKS allows at most ${MAX_FARGATE_SELECTORS}. Use fewer selector label sets or a second profile`,
    );
  }
  for (const selector of selectors) {
    if (!selector.namespace) problems.push(`Fargate profile "${definition.name}": every selector needs a namespace`);
  }
  return problems;
}

/** Fargate's wildcard match: `*` is any run of characters, `?` exactly one; nothing else is special. */
export function fargateWildcardMatch(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}

/** Whether a pod in `namespace` with `labels` matches `selector` (namespace and every label). */
export function fargateSelectorMatches(
  selector: FargateProfileSelector,
  namespace: string,
  labels: StringMap,
): boolean {
  if (!fargateWildcardMatch(selector.namespace, namespace)) return false;
  return Object.entries(selector.labels ?? {}).every(([key, value]) =>
    Object.entries(labels).some(
      ([podKey, podValue]) => fargateWildcardMatch(key, podKey) && fargateWildcardMatch(value, podValue),
    ),
  );
}

/**
 * Makes deployment tools wait for the profile before the pods it places (they depend on it in the
 * construct tree): Pulumi waits until ACK reports the profile ACTIVE (`pulumi.com/waitFor`, pulumi-kubernetes
 * 4.18+), Argo CD syncs it in an earlier wave. `kubectl apply` has no such wait: docs/placement.md says to
 * apply the profiles first and `kubectl wait` for them.
 */
export const FARGATE_PROFILE_ORDERING = {
  'pulumi.com/waitFor': 'jsonpath={.status.status}=ACTIVE',
  'argocd.argoproj.io/sync-wave': '-1',
} as const;

/** The ACK `FargateProfile` manifest for a definition, living in `namespace`. */
export function fargateProfileManifest(
  definition: FargateProfileDefinition,
  namespace: string,
): Record<string, unknown> {
  return {
    apiVersion: ACK_EKS_API_VERSION,
    kind: ACK_FARGATE_PROFILE_KIND,
    metadata: {
      name: definition.name,
      namespace,
      labels: { [Labels.partOf]: PART_OF, [Labels.managedBy]: PART_OF },
      annotations: { ...FARGATE_PROFILE_ORDERING },
    },
    spec: fargateProfileSpec(definition),
  };
}

function fargateProfileSpec(definition: FargateProfileDefinition): Record<string, unknown> {
  return {
    name: definition.name,
    clusterName: definition.clusterName,
    podExecutionRoleARN: definition.podExecutionRoleArn,
    subnets: [...definition.subnets],
    selectors: definition.selectors.map(copySelector),
    ...(definition.tags && Object.keys(definition.tags).length > 0 ? { tags: { ...definition.tags } } : {}),
  };
}

function copySelector(selector: FargateProfileSelector): FargateProfileSelector {
  return selector.labels && Object.keys(selector.labels).length > 0
    ? { namespace: selector.namespace, labels: { ...selector.labels } }
    : { namespace: selector.namespace };
}

/**
 * The arguments of `@pulumi/aws` `aws.eks.FargateProfile` for a definition, as plain data the
 * Pulumi stack passes through (`new aws.eks.FargateProfile(def.name, fargateProfilePulumiArgs(def))`).
 */
export function fargateProfilePulumiArgs(definition: FargateProfileDefinition): {
  readonly clusterName: string;
  readonly fargateProfileName: string;
  readonly podExecutionRoleArn: string;
  readonly subnetIds: string[];
  readonly selectors: FargateProfileSelector[];
  readonly tags?: { [key: string]: string };
} {
  return {
    clusterName: definition.clusterName,
    fargateProfileName: definition.name,
    podExecutionRoleArn: definition.podExecutionRoleArn,
    subnetIds: [...definition.subnets],
    selectors: definition.selectors.map(copySelector),
    ...(definition.tags && Object.keys(definition.tags).length > 0 ? { tags: { ...definition.tags } } : {}),
  };
}

/** Props of {@link FargateProfile}. */
export interface FargateProfileProps extends Omit<FargateProfileDefinition, 'selectors'> {
  /** Namespace of the ACK object (the platform namespace). */
  readonly namespace: string;
  /**
   * Initial selectors; more can be added with `addSelector` until synthesis.
   * @default []
   */
  readonly selectors?: readonly FargateProfileSelector[];
}

/**
 * An ACK `FargateProfile` object. Selectors are rendered lazily, so placements bound after the
 * profile was created (functions added later) still land in it. The cross-checks (at most five
 * selectors, at least one, valid ARN and subnets) run at synth through `node.addValidation`.
 */
export class FargateProfile extends Construct {
  private readonly props: FargateProfileProps;
  private readonly selectorList: FargateProfileSelector[] = [];
  /** The underlying ACK object. */
  public readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: FargateProfileProps) {
    super(scope, id);
    this.props = props;
    for (const selector of props.selectors ?? []) this.addSelector(selector);
    this.apiObject = new ApiObject(this, 'Resource', {
      apiVersion: ACK_EKS_API_VERSION,
      kind: ACK_FARGATE_PROFILE_KIND,
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { [Labels.partOf]: PART_OF, [Labels.managedBy]: PART_OF },
        annotations: { ...FARGATE_PROFILE_ORDERING },
      },
      spec: Lazy.any({ produce: () => fargateProfileSpec(this.definition) }),
    });
    this.node.addValidation({
      validate: () => {
        const problems = fargateProfileProblems(this.definition);
        if (this.selectorList.length === 0)
          problems.push(`Fargate profile "${props.name}" has no selectors: no pod would ever run on it`);
        return problems;
      },
    });
  }

  /** Adds a selector unless an identical one is already there. */
  public addSelector(selector: FargateProfileSelector): void {
    const key = selectorKey(selector);
    if (this.selectorList.some((s) => selectorKey(s) === key)) return;
    this.selectorList.push(copySelector(selector));
  }

  /** The profile as plain data (a copy), e.g. for the Pulumi stack. */
  public get definition(): FargateProfileDefinition {
    const { namespace: _namespace, ...rest } = this.props;
    return { ...rest, subnets: [...rest.subnets], selectors: this.selectorList.map(copySelector) };
  }

  /** Whether a pod in `namespace` with `labels` would be scheduled through this profile. */
  public matches(namespace: string, labels: StringMap): boolean {
    return this.selectorList.some((selector) => fargateSelectorMatches(selector, namespace, labels));
  }
}

function selectorKey(selector: FargateProfileSelector): string {
  const labels = Object.entries(selector.labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([selector.namespace, labels]);
}
