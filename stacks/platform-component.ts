import * as pulumi from '@pulumi/pulumi';
import type * as k8s from '@pulumi/kubernetes';
import { App } from 'cdk8s';
import { graphFile } from '../constructs/graph';
import { COMMON_LABELS } from '../constructs/metadata';
import { Platform } from '../constructs/platform';
import type { GraphFile } from '../src/contract';
import { inferDependencies, registrationOrder } from './dependencies';
import { logicalName, manifestKey, objectKey } from './object-identity';
import { clusterUrl, externalUrl, findPlatformNamespace, findRouterService } from './platform-outputs';
import { codeHistoryOptions } from './code-history';
import { withoutDebugStackTraces } from './debug-stack-traces';
import { RegistrationBatches } from './registration-batches';
import { createKubernetesResource, KubernetesObject } from './resource-types';
import { KubeManifest, synthesizeApp } from './synthesize';

/** A Kubernetes Secret whose values come from Pulumi secrets (e.g. `config.requireSecret(...)`). */
export interface PlatformSecret {
  /** Key → value. Values stay Pulumi secrets: encrypted in state, masked in every output. */
  readonly stringData: { readonly [key: string]: pulumi.Input<string> };
  /** @default the platform's namespace */
  readonly namespace?: string;
}

export interface KubefaasPlatformArgs {
  /** A cdk8s app that already holds the platform. @default a new App, filled by `build` */
  readonly app?: App;
  /** Builds the platform into the app (the same function `cdk8s synth` runs). @default nothing is added */
  readonly build?: (app: App) => void;
  /** The Kubernetes provider (kubeconfig/context) every object is deployed with. @default the stack's default provider */
  readonly provider?: k8s.Provider;
  /**
   * Kubernetes Secrets to create from Pulumi secret values, by Secret name. They exist only in the
   * Pulumi deployment (a `cdk8s synth` user creates them with kubectl or a secrets operator);
   * functions read them like any Secret, with `EnvValue.fromSecret(name, key)`.
   * @default none
   */
  readonly secrets?: { readonly [secretName: string]: PlatformSecret };
  /**
   * Scheme of `url` when the router is exposed through a Gateway API route: TLS is configured on
   * the Gateway's listener, which is not part of the app.
   * @default 'http'
   */
  readonly gatewayUrlScheme?: 'http' | 'https';
}

/**
 * How many children start registering per event-loop turn (see RegistrationBatches): small enough
 * that a batch's temporary objects (about 0.3 MB per object under mocks) die in the young
 * generation. Measured with 1000 functions: 1 to 16 alike within noise; from about 25 on, more is
 * promoted (peak RSS 615 MB instead of 480 MB) and it gets slower.
 */
const REGISTRATION_BATCH_SIZE = 4;

/** DNS-1123 subdomain: the rule for Secret names. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * Deploys a kubefaas platform — any cdk8s app, in fact — with Pulumi: synthesizes the app in
 * process into exactly the objects `cdk8s synth` writes, and registers each as a Kubernetes
 * resource under this component, in dependency order, with names that depend only on
 * kind/namespace/name (so re-running or reorganizing the constructs renames nothing).
 */
export class KubefaasPlatform extends pulumi.ComponentResource {
  /** The platform's namespace (undefined when the app has no single namespace). */
  public readonly namespace: pulumi.Output<string | undefined>;
  /** Name of the router's Service (undefined when the app has no router). */
  public readonly routerServiceName: pulumi.Output<string | undefined>;
  /** The router's in-cluster URL, `http://<service>.<namespace>.svc.cluster.local:80`. */
  public readonly clusterUrl: pulumi.Output<string | undefined>;
  /** The router's external URL when it is exposed (Gateway/Ingress host, LoadBalancer address). */
  public readonly url: pulumi.Output<string | undefined>;
  /**
   * The platform graph of every Platform in the app (what `cdk8s synth` writes to
   * `platform.graph.jsonc`): routes, functions, topics and declared edges, as plain JSON.
   */
  public readonly graph: pulumi.Output<GraphFile>;
  /** Every registered child, in registration order. */
  public readonly resources: readonly KubernetesObject[];

  private readonly byKey: ReadonlyMap<string, KubernetesObject>;

  constructor(name: string, args: KubefaasPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kubefaas:index:Platform', name, {}, opts);
    if (!args.app && !args.build) {
      throw new Error(`KubefaasPlatform ${name}: give either an 'app' or a 'build' function`);
    }
    const app = args.app ?? new App();
    args.build?.(app);

    const synthesized = synthesizeApp(app);
    const manifests = synthesized.map((s) => s.manifest);
    const platformNamespace = findPlatformNamespace(manifests);
    const secrets = secretManifests(name, args.secrets ?? {}, platformNamespace, manifests);
    const all = [...manifests, ...secrets];

    const dependencies = inferDependencies(all);
    synthesized.forEach((s, i) => dependencies[i].push(...s.declaredDependencies));
    const order = registrationOrder(all, dependencies);

    const registered: KubernetesObject[] = new Array(all.length);
    const byKey = new Map<string, KubernetesObject>();
    const batches = new RegistrationBatches(REGISTRATION_BATCH_SIZE);
    withoutDebugStackTraces(() => {
      for (const i of order) {
        const m = all[i];
        const deps = [...new Set(dependencies[i])].map((d) => registered[d]);
        // Every child still exists (with its outputs) when the constructor returns; `dependsOn`
        // given as a promise only holds the rest of its registration until its batch's turn. The
        // engine gets the same dependencies: the promise resolves to exactly these resources.
        const dependsOn = batches.next().then(() => deps);
        registered[i] = createKubernetesResource(logicalName(name, m), m, {
          parent: this,
          provider: args.provider,
          dependsOn,
          ...codeHistoryOptions(m),
        });
        byKey.set(manifestKey(m), registered[i]);
      }
    });
    this.resources = order.map((i) => registered[i]);
    this.byKey = byKey;

    const router = findRouterService(manifests);
    this.namespace = pulumi.output(platformNamespace);
    this.routerServiceName = pulumi.output(router?.metadata.name);
    this.clusterUrl = pulumi.output(router ? clusterUrl(router) : undefined);
    this.url = router
      ? externalUrl(manifests, router, (m) => byKey.get(manifestKey(m)), args.gatewayUrlScheme ?? 'http')
      : pulumi.output(undefined);

    // Built after synthesizeApp: every construct is complete and validated by then.
    const platforms = app.node.findAll().filter((c): c is Platform => Platform.isPlatform(c));
    this.graph = pulumi.output(graphFile(platforms.map((p) => p.graph())));

    this.registerOutputs({
      graph: this.graph,
      namespace: this.namespace,
      routerServiceName: this.routerServiceName,
      clusterUrl: this.clusterUrl,
      url: this.url,
    });
  }

  /** The registered resource of one object, e.g. `resource('Deployment', 'hello', 'faas')`. */
  public resource(kind: string, name: string, namespace?: string): KubernetesObject | undefined {
    return this.byKey.get(objectKey(kind, name, namespace));
  }
}

/** Secret objects for `args.secrets`, their values wrapped as Pulumi secrets. */
function secretManifests(
  component: string,
  secrets: { readonly [secretName: string]: PlatformSecret },
  platformNamespace: string | undefined,
  synthesized: readonly KubeManifest[],
): KubeManifest[] {
  const existing = new Set(synthesized.map(manifestKey));
  return Object.entries(secrets).map(([secretName, secret]) => {
    const where = `KubefaasPlatform ${component}: secret '${secretName}'`;
    if (!SECRET_NAME.test(secretName) || secretName.length > 253) {
      throw new Error(`${where}: the name must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')`);
    }
    const namespace = secret.namespace ?? platformNamespace;
    if (!namespace) {
      throw new Error(`${where}: the app has no single platform namespace; set 'namespace' on the secret`);
    }
    if (existing.has(objectKey('Secret', secretName, namespace))) {
      throw new Error(`${where}: the cdk8s app already defines Secret ${namespace}/${secretName}`);
    }
    const keys = Object.keys(secret.stringData);
    if (keys.length === 0) throw new Error(`${where}: give at least one key in 'stringData'`);
    const badKey = keys.find((k) => !SECRET_KEY.test(k));
    if (badKey !== undefined) {
      throw new Error(`${where}: key '${badKey}' may only contain letters, digits, '-', '_' and '.'`);
    }
    const stringData: Record<string, pulumi.Output<string>> = {};
    for (const key of keys) stringData[key] = pulumi.secret(secret.stringData[key]);
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, namespace, labels: { ...COMMON_LABELS } },
      type: 'Opaque',
      stringData,
    };
  });
}
