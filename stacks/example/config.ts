/**
 * The typed configuration of the example stacks (`Pulumi.<stack>.yaml`, namespace `kubefaas:`),
 * checked up front so a missing or malformed value fails with a message naming the key.
 */
import * as pulumi from '@pulumi/pulumi';
import { RouterExposure } from '../../constructs';
import type { ExampleAppOptions } from '../../examples/app';

export const CONFIG_NAMESPACE = 'kubefaas';

/** How the router is reached from outside the cluster (`kubefaas:exposure`). */
export type ExposureConfig =
  | { readonly kind: 'clusterIp' }
  | { readonly kind: 'loadBalancer'; readonly sourceRanges?: readonly string[] }
  | {
      readonly kind: 'gateway';
      readonly gatewayName: string;
      readonly gatewayNamespace?: string;
      readonly sectionName?: string;
      readonly hostnames?: readonly string[];
      /** Scheme clients use; TLS of a Gateway is configured on its listener, out of the app's sight. */
      readonly scheme?: 'http' | 'https';
    }
  | { readonly kind: 'ingress'; readonly host?: string; readonly className?: string; readonly tlsSecretName?: string };

export interface StackConfig {
  /** `kubefaas:namespace` (required). */
  readonly namespace: string;
  /** `kubefaas:routerReplicas` `{ min, max }`. @default the example app's */
  readonly routerReplicas?: { readonly min: number; readonly max: number };
  /** `kubefaas:exposure`. @default { kind: clusterIp } */
  readonly exposure: ExposureConfig;
  /** `kubefaas:functionMaxReplicas`. @default the example app's */
  readonly functionMaxReplicas?: number;
  /** `kubefaas:nodeImage`: image override for the router and Node functions. @default the platform's pinned image */
  readonly nodeImage?: string;
  /** `kubefaas:redisUrl`. @default the example app's in-namespace redis */
  readonly redisUrl?: string;
  /** `kubefaas:redisPassword`, set with `pulumi config set --secret`. @default no password */
  readonly redisPassword?: pulumi.Output<string>;
  /** `kubefaas:kubeconfigContext`: kubeconfig context to deploy to. @default the provider's default context */
  readonly kubeconfigContext?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const EXPOSURE_KINDS = ['clusterIp', 'loadBalancer', 'gateway', 'ingress'] as const;

/** Reads and checks the stack's `kubefaas:*` configuration. */
export function readStackConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): StackConfig {
  const key = (name: string) => `${CONFIG_NAMESPACE}:${name}`;

  const namespace = config.get('namespace');
  if (namespace === undefined || namespace === '') {
    throw new Error(`${key('namespace')} is required: pulumi config set ${key('namespace')} <namespace>`);
  }
  if (!DNS_LABEL.test(namespace)) {
    throw new Error(
      `${key('namespace')} must be a DNS-1123 label (lowercase letters, digits and '-', at most 63), got '${namespace}'`,
    );
  }

  const routerReplicas = readObject(config, 'routerReplicas');
  if (routerReplicas !== undefined) {
    const { min, max } = routerReplicas as { min?: unknown; max?: unknown };
    if (!isCount(min) || !isCount(max) || (min as number) > (max as number)) {
      throw new Error(
        `${key('routerReplicas')} must be { min, max } with whole numbers 1 <= min <= max, got ${JSON.stringify(routerReplicas)}`,
      );
    }
  }

  const functionMaxReplicas = readNumber(config, 'functionMaxReplicas');
  if (functionMaxReplicas !== undefined && !isCount(functionMaxReplicas)) {
    throw new Error(`${key('functionMaxReplicas')} must be a whole number >= 1, got ${functionMaxReplicas}`);
  }

  const nodeImage = config.get('nodeImage');
  // Pinning (a tag other than latest, or a digest) is checked by the Platform construct itself.
  if (nodeImage !== undefined && !/^\S+$/.test(nodeImage)) {
    throw new Error(`${key('nodeImage')} must be an image reference like node:22.20.0-alpine, got '${nodeImage}'`);
  }
  const redisUrl = config.get('redisUrl');
  if (redisUrl !== undefined && !/^rediss?:\/\/\S+$/.test(redisUrl)) {
    throw new Error(`${key('redisUrl')} must be a redis:// or rediss:// URL, got '${redisUrl}'`);
  }

  // A password written in plaintext into Pulumi.<stack>.yaml would end up in git; insist on --secret.
  if (pulumi.runtime.getConfig(key('redisPassword')) !== undefined && isConfigSecret(key('redisPassword')) === false) {
    throw new Error(
      `${key('redisPassword')} must be a secret: pulumi config set --secret ${key('redisPassword')} <password>`,
    );
  }
  const redisPassword = config.getSecret('redisPassword');

  return {
    namespace,
    routerReplicas: routerReplicas as StackConfig['routerReplicas'],
    exposure: readExposure(config),
    functionMaxReplicas,
    nodeImage,
    redisUrl,
    redisPassword,
    kubeconfigContext: config.get('kubeconfigContext') || undefined,
  };
}

/** The example app's options for a stack, given the name of the Secret holding the redis password. */
export function exampleAppOptions(config: StackConfig, redisSecretName?: string): ExampleAppOptions {
  return {
    namespace: config.namespace,
    routerReplicas: config.routerReplicas,
    exposure: routerExposure(config.exposure),
    functionMaxReplicas: config.functionMaxReplicas,
    nodeImage: config.nodeImage,
    redisUrl: config.redisUrl,
    analyticsSecretName: config.redisPassword ? redisSecretName : undefined,
  };
}

export function routerExposure(exposure: ExposureConfig): RouterExposure {
  switch (exposure.kind) {
    case 'clusterIp':
      return RouterExposure.clusterIp();
    case 'loadBalancer':
      return RouterExposure.loadBalancer({ sourceRanges: exposure.sourceRanges });
    case 'gateway':
      return RouterExposure.gatewayApi({
        gatewayName: exposure.gatewayName,
        gatewayNamespace: exposure.gatewayNamespace,
        sectionName: exposure.sectionName,
        hostnames: exposure.hostnames,
      });
    case 'ingress':
      return RouterExposure.ingress({
        host: exposure.host,
        className: exposure.className,
        tlsSecretName: exposure.tlsSecretName,
      });
  }
}

function readExposure(config: pulumi.Config): ExposureConfig {
  const key = `${CONFIG_NAMESPACE}:exposure`;
  const raw = readObject(config, 'exposure');
  if (raw === undefined) return { kind: 'clusterIp' };
  const e = raw as Record<string, unknown>;
  if (!EXPOSURE_KINDS.includes(e.kind as (typeof EXPOSURE_KINDS)[number])) {
    throw new Error(`${key}.kind must be one of ${EXPOSURE_KINDS.join(', ')}, got ${JSON.stringify(e.kind)}`);
  }
  const optionalString = (field: string): string | undefined => {
    if (e[field] !== undefined && typeof e[field] !== 'string') throw new Error(`${key}.${field} must be a string`);
    return e[field] as string | undefined;
  };
  const optionalStrings = (field: string): string[] | undefined => {
    if (
      e[field] !== undefined &&
      !(Array.isArray(e[field]) && (e[field] as unknown[]).every((v) => typeof v === 'string'))
    ) {
      throw new Error(`${key}.${field} must be a list of strings`);
    }
    return e[field] as string[] | undefined;
  };
  switch (e.kind) {
    case 'loadBalancer':
      return { kind: 'loadBalancer', sourceRanges: optionalStrings('sourceRanges') };
    case 'gateway': {
      const gatewayName = optionalString('gatewayName');
      if (!gatewayName) throw new Error(`${key}.gatewayName is required when ${key}.kind is gateway`);
      const scheme = optionalString('scheme');
      if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
        throw new Error(`${key}.scheme must be http or https, got '${scheme}'`);
      }
      return {
        kind: 'gateway',
        gatewayName,
        gatewayNamespace: optionalString('gatewayNamespace'),
        sectionName: optionalString('sectionName'),
        hostnames: optionalStrings('hostnames'),
        scheme,
      };
    }
    case 'ingress':
      return {
        kind: 'ingress',
        host: optionalString('host'),
        className: optionalString('className'),
        tlsSecretName: optionalString('tlsSecretName'),
      };
    default:
      return { kind: 'clusterIp' };
  }
}

/** A structured value (YAML map in the stack file, JSON through the CLI). */
function readObject(config: pulumi.Config, name: string): object | undefined {
  const raw = config.get(name);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(
      `${CONFIG_NAMESPACE}:${name} must be a map (YAML in Pulumi.<stack>.yaml, or pulumi config set --path), got '${raw}'`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${CONFIG_NAMESPACE}:${name} must be a map, got ${raw}`);
  }
  return value;
}

function readNumber(config: pulumi.Config, name: string): number | undefined {
  const raw = config.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new Error(`${CONFIG_NAMESPACE}:${name} must be a number, got '${raw}'`);
  return value;
}

/**
 * Whether a config value was set with --secret. The SDK knows (`runtime.isConfigSecret`) but keeps
 * the function out of its typings; without it we cannot tell, and say so with `undefined`.
 */
function isConfigSecret(fullKey: string): boolean | undefined {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
  return typeof check === 'function' ? check(fullKey) : undefined;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}
