import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { SERVICE_PORT } from '../src/contract';
import { ValidationError, validationMessage } from './errors';
import { objectMeta } from './metadata';
import { warn } from './placement/warnings';
import { type PublicPath, coarsePublicPaths } from './public-paths';
import { isDns1123Subdomain } from './validation';

/** What an exposure needs to know about the router it exposes. */
export interface ExposureTarget {
  readonly serviceName: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Longest per-route timeout of the platform, in seconds (read at synth). */
  readonly maxTimeoutSeconds: () => number;
  /**
   * What the router's public listener serves, as path matches (read at synth; public-paths.ts):
   * an HTTPRoute or Ingress routes these and nothing else.
   */
  readonly publicPaths: () => readonly PublicPath[];
}

/** Rule name of the warning for an exposure that routes nothing. */
export const NOTHING_PUBLIC_RULE = 'exposure/nothing-public';

/** An HTTPRoute holds at most this many matches per rule and rules per route (Gateway API v1 schema). */
const HTTPROUTE_MATCHES_PER_RULE = 8;
const HTTPROUTE_RULES = 16;

/** Public paths at synth, warning once when there are none (the exposure then routes nothing). */
function publicPathsOf(scope: Construct, target: ExposureTarget, kind: string): readonly PublicPath[] {
  const paths = target.publicPaths();
  if (paths.length === 0) {
    warn(
      scope,
      NOTHING_PUBLIC_RULE,
      `the ${kind} routes nothing: no function has an HttpTrigger or opts in to public by-name or async invocation (FunctionOptions.invocation)`,
    );
  }
  return paths;
}

/**
 * The HTTPRoute's matches, grouped into rules of at most 8. Widened to first path segments
 * (`coarsePublicPaths`) when they would need more than 16 rules; undefined when even that does not fit.
 */
function httpRouteMatchGroups(paths: readonly PublicPath[]): PublicPath[][] | undefined {
  const capacity = HTTPROUTE_MATCHES_PER_RULE * HTTPROUTE_RULES;
  const fitting = paths.length <= capacity ? paths : coarsePublicPaths(paths);
  if (fitting.length > capacity) return undefined;
  const groups: PublicPath[][] = [];
  for (let i = 0; i < fitting.length; i += HTTPROUTE_MATCHES_PER_RULE)
    groups.push(fitting.slice(i, i + HTTPROUTE_MATCHES_PER_RULE));
  return groups;
}

/** How the router's Service is rendered for a given exposure. */
export interface RouterServiceConfig {
  readonly type: 'ClusterIP' | 'LoadBalancer';
  readonly annotations?: Readonly<Record<string, string>>;
  readonly loadBalancerSourceRanges?: readonly string[];
}

export interface LoadBalancerExposureOptions {
  /**
   * Annotations on the router Service (cloud load-balancer settings).
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * Client CIDRs allowed to reach the load balancer (`loadBalancerSourceRanges`).
   * @default - any source
   */
  readonly sourceRanges?: readonly string[];
}

export interface GatewayApiExposureOptions {
  /** Name of the Gateway the `HTTPRoute` attaches to. */
  readonly gatewayName: string;
  /**
   * Namespace of the Gateway (it must allow routes from the platform namespace).
   * @default - the platform namespace
   */
  readonly gatewayNamespace?: string;
  /**
   * Listener of the Gateway to attach to (`parentRefs[].sectionName`).
   * @default - every listener that accepts the route
   */
  readonly sectionName?: string;
  /**
   * Hostnames the route answers (at most 16).
   * @default - the hostnames of the listener
   */
  readonly hostnames?: readonly string[];
}

export interface IngressExposureOptions {
  /**
   * `spec.ingressClassName`.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * Host the Ingress rule matches.
   * @default - any host
   */
  readonly host?: string;
  /**
   * Secret holding the TLS certificate for `host`; enables TLS on the Ingress.
   * @default - no TLS
   */
  readonly tlsSecretName?: string;
  /**
   * Annotations on the Ingress (controller-specific settings).
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

function checkHostname(scope: Construct, what: string, host: unknown): string {
  if (typeof host !== 'string' || host.length > 253 || !HOSTNAME.test(host)) {
    throw new ValidationError(
      scope,
      `${what} '${String(host)}' is not a valid hostname`,
      'Use a lower-case DNS name such as api.example.com (optionally starting with "*.")',
    );
  }
  return host;
}

function checkObjectName(scope: Construct, what: string, name: unknown): string {
  if (typeof name !== 'string' || !isDns1123Subdomain(name)) {
    throw new ValidationError(
      scope,
      `${what} '${String(name)}' is not a valid Kubernetes object name`,
      'Use lower-case letters, digits, "-" and "."',
    );
  }
  return name;
}

function checkAnnotations(
  scope: Construct,
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  if (annotations === undefined) return undefined;
  for (const [key, value] of Object.entries(annotations)) {
    if (typeof value !== 'string') {
      throw new ValidationError(
        scope,
        `annotation '${key}' must have a string value`,
        'Quote numbers and booleans, e.g. "true"',
      );
    }
  }
  return { ...annotations };
}

/**
 * How clients outside the cluster reach the router: a ClusterIP Service (default; in-cluster only),
 * a LoadBalancer Service, a Gateway API `HTTPRoute`, or an Ingress.
 */
export abstract class RouterExposure {
  /** In-cluster only: the router Service is a ClusterIP Service. */
  public static clusterIp(): RouterExposure {
    return new ServiceExposure('ClusterIP', {});
  }

  /** The router Service gets an external load balancer. */
  public static loadBalancer(options: LoadBalancerExposureOptions = {}): RouterExposure {
    return new ServiceExposure('LoadBalancer', options);
  }

  /**
   * A Gateway API `HTTPRoute` (gateway.networking.k8s.io/v1) sends what the router serves publicly
   * (the routes, and `/function/` `/async-function/` when a function opted in) to the router.
   */
  public static gatewayApi(options: GatewayApiExposureOptions): RouterExposure {
    return new GatewayApiExposure(options);
  }

  /**
   * A `networking.k8s.io/v1` Ingress sends what the router serves publicly (the routes, and
   * `/function/` `/async-function/` when a function opted in) on a host (or every host) to the router.
   */
  public static ingress(options: IngressExposureOptions = {}): RouterExposure {
    return new IngressExposure(options);
  }

  /** Creates the exposure's objects under `scope` and says how to render the router Service. */
  public abstract bind(scope: Construct, target: ExposureTarget): RouterServiceConfig;
}

class ServiceExposure extends RouterExposure {
  constructor(
    private readonly type: 'ClusterIP' | 'LoadBalancer',
    private readonly options: LoadBalancerExposureOptions,
  ) {
    super();
  }

  public bind(scope: Construct): RouterServiceConfig {
    const ranges = this.options.sourceRanges;
    for (const range of ranges ?? []) {
      if (typeof range !== 'string' || !CIDR.test(range)) {
        throw new ValidationError(
          scope,
          `load balancer source range '${String(range)}' is not a CIDR`,
          'Use e.g. 203.0.113.0/24',
        );
      }
    }
    return {
      type: this.type,
      annotations: checkAnnotations(scope, this.options.annotations),
      ...(ranges && ranges.length > 0 ? { loadBalancerSourceRanges: [...ranges] } : {}),
    };
  }
}

class GatewayApiExposure extends RouterExposure {
  constructor(private readonly options: GatewayApiExposureOptions) {
    super();
  }

  public bind(scope: Construct, target: ExposureTarget): RouterServiceConfig {
    const o = this.options ?? ({} as GatewayApiExposureOptions);
    const gatewayName = checkObjectName(scope, 'gateway name', o.gatewayName);
    const gatewayNamespace =
      o.gatewayNamespace === undefined ? undefined : checkObjectName(scope, 'gateway namespace', o.gatewayNamespace);
    if (
      o.sectionName !== undefined &&
      (typeof o.sectionName !== 'string' || o.sectionName.length > 253 || !SECTION_NAME.test(o.sectionName))
    ) {
      throw new ValidationError(
        scope,
        `gateway listener (sectionName) '${String(o.sectionName)}' is invalid`,
        'Use the name of a listener of the Gateway',
      );
    }
    const hostnames = (o.hostnames ?? []).map((h) => checkHostname(scope, 'hostname', h));
    if (hostnames.length > 16) {
      throw new ValidationError(
        scope,
        `an HTTPRoute takes at most 16 hostnames, got ${hostnames.length}`,
        'Use a wildcard hostname or several platforms',
      );
    }
    new ApiObject(scope, 'HTTPRoute', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: objectMeta(target.serviceName, target.namespace, target.labels),
      spec: {
        parentRefs: [
          {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: gatewayName,
            ...(gatewayNamespace ? { namespace: gatewayNamespace } : {}),
            ...(o.sectionName ? { sectionName: o.sectionName } : {}),
          },
        ],
        ...(hostnames.length > 0 ? { hostnames } : {}),
        // Only what the router serves publicly; an empty list (nothing public) routes nothing,
        // where an absent one would default to everything.
        rules: Lazy.any({
          produce: () =>
            (httpRouteMatchGroups(publicPathsOf(scope, target, 'HTTPRoute')) ?? []).map((group) => ({
              matches: group.map((p) => ({ path: { type: p.type, value: p.value } })),
              backendRefs: [{ name: target.serviceName, port: SERVICE_PORT }],
              // Gateways often default to ~15 s; the slowest function must not be cut short.
              timeouts: { request: `${target.maxTimeoutSeconds()}s` },
            })),
        }),
      },
    });
    scope.node.addValidation({
      validate: () =>
        httpRouteMatchGroups(target.publicPaths()) === undefined
          ? [
              validationMessage(
                `the HTTPRoute cannot hold the platform's public paths: more than ${HTTPROUTE_MATCHES_PER_RULE * HTTPROUTE_RULES} distinct first path segments`,
                'Group routes under fewer top-level path segments, or use RouterExposure.ingress()',
              ),
            ]
          : [],
    });
    return { type: 'ClusterIP' };
  }
}

class IngressExposure extends RouterExposure {
  constructor(private readonly options: IngressExposureOptions) {
    super();
  }

  public bind(scope: Construct, target: ExposureTarget): RouterServiceConfig {
    const o = this.options;
    const className = o.className === undefined ? undefined : checkObjectName(scope, 'ingress class', o.className);
    const host = o.host === undefined ? undefined : checkHostname(scope, 'ingress host', o.host);
    const tlsSecretName =
      o.tlsSecretName === undefined ? undefined : checkObjectName(scope, 'TLS secret name', o.tlsSecretName);
    new ApiObject(scope, 'Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: objectMeta(target.serviceName, target.namespace, target.labels, checkAnnotations(scope, o.annotations)),
      spec: {
        ...(className ? { ingressClassName: className } : {}),
        ...(tlsSecretName ? { tls: [{ ...(host ? { hosts: [host] } : {}), secretName: tlsSecretName }] } : {}),
        // Only what the router serves publicly; with nothing public, no rule (an Ingress rule needs a path).
        rules: Lazy.any({
          produce: () => {
            const paths = publicPathsOf(scope, target, 'Ingress');
            if (paths.length === 0) return undefined;
            return [
              {
                ...(host ? { host } : {}),
                http: {
                  paths: paths.map((p) => ({
                    path: p.value,
                    pathType: p.type === 'Exact' ? 'Exact' : 'Prefix',
                    backend: { service: { name: target.serviceName, port: { number: SERVICE_PORT } } },
                  })),
                },
              },
            ];
          },
        }),
      },
    });
    return { type: 'ClusterIP' };
  }
}
