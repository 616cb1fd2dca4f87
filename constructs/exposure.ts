import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { SERVICE_PORT } from '../src/contract';
import { ValidationError, validationMessage } from './errors';
import { objectMeta } from './metadata';
import { warn } from './placement/warnings';
import { ResolvedTls, checkCovered, checkHostname } from './router-tls';
import { type PublicPath, coarsePublicPaths } from './public-paths';
import { isDns1123Subdomain } from './validation';

/** What an exposure needs to know about the router it exposes. */
export interface ExposureTarget {
  readonly serviceName: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Longest per-route timeout of the platform, in seconds (read at synth). */
  readonly maxTimeoutSeconds: () => number;
  /** `router.tls`, checked. */
  readonly tls?: ResolvedTls;
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
  /** Name of the Gateway the `HTTPRoute` attaches to (created by kubefaas when `gatewayClassName` is set). */
  readonly gatewayName: string;
  /**
   * Namespace of the Gateway (it must allow routes from the platform namespace).
   * @default - the platform namespace
   */
  readonly gatewayNamespace?: string;
  /**
   * Create the Gateway (in the platform namespace) with this GatewayClass: an `http` listener on
   * port 80 and, with `router.tls`, an `https` listener on 443 terminating TLS with the
   * certificate's Secret, plain HTTP then answering with a redirect to HTTPS.
   * @default - use an existing Gateway (`router.tls` is then that Gateway's business)
   */
  readonly gatewayClassName?: string;
  /**
   * Listener of the Gateway to attach to (`parentRefs[].sectionName`).
   * @default - every listener that accepts the route (`https` on a Gateway kubefaas creates with TLS)
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
   * @deprecated use `router.tls: RouterTls.secret(name, [host])`, which also redirects HTTP to HTTPS
   * @default - no TLS
   */
  readonly tlsSecretName?: string;
  /**
   * The Ingress controller, for the annotation that redirects plain HTTP to HTTPS when
   * `router.tls` is set (docs/security.md lists what each one gets). Other controllers: put their
   * annotation in `annotations`.
   * @default - no controller-specific annotation (a warning with `router.tls`)
   */
  readonly controller?: IngressController;
  /**
   * Annotations on the Ingress (controller-specific settings).
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Ingress controllers whose HTTP→HTTPS redirect annotation kubefaas knows. */
export type IngressController = 'nginx' | 'ingress-nginx' | 'haproxy' | 'haproxy-ingress' | 'traefik';

/**
 * What each controller needs to send plain HTTP to HTTPS for a TLS Ingress. Traefik redirects per
 * entry point, not per Ingress: the Ingress is served on `websecure` only, and the `web` entry
 * point's redirect (`--entrypoints.web.http.redirections.entryPoint.to=websecure`) answers HTTP.
 */
export const HTTPS_REDIRECT_ANNOTATIONS: Readonly<Record<IngressController, Readonly<Record<string, string>>>> = {
  nginx: { 'ingress.kubernetes.io/ssl-redirect': 'true' },
  'ingress-nginx': { 'nginx.ingress.kubernetes.io/ssl-redirect': 'true' },
  haproxy: { 'haproxy.org/ssl-redirect': 'true' },
  'haproxy-ingress': { 'haproxy-ingress.github.io/ssl-redirect': 'true' },
  traefik: {
    'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure',
    'traefik.ingress.kubernetes.io/router.tls': 'true',
  },
};

/** Rule name of the warning about a TLS Ingress without a known redirect. */
export const HTTPS_REDIRECT_RULE = 'exposure/https-redirect';

const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

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

  public bind(scope: Construct, target: ExposureTarget): RouterServiceConfig {
    if (target.tls !== undefined)
      throw new ValidationError(
        scope,
        `router.tls needs a TLS terminator, and RouterExposure.${this.type === 'LoadBalancer' ? 'loadBalancer' : 'clusterIp'}() has none: the router speaks plain HTTP`,
        'Expose the router with RouterExposure.gatewayApi({ gatewayClassName, ... }) or RouterExposure.ingress(...), or terminate TLS at the cloud load balancer (its annotations) and leave router.tls unset',
      );
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
    const tls = target.tls;
    const gatewayName = checkObjectName(scope, 'gateway name', o.gatewayName);
    const gatewayNamespace =
      o.gatewayNamespace === undefined ? undefined : checkObjectName(scope, 'gateway namespace', o.gatewayNamespace);
    const owned = o.gatewayClassName !== undefined;
    if (owned) {
      checkObjectName(scope, 'gatewayClassName', o.gatewayClassName);
      if (gatewayNamespace !== undefined && gatewayNamespace !== target.namespace)
        throw new ValidationError(
          scope,
          `a Gateway kubefaas creates (gatewayClassName) lives in the platform namespace, not '${gatewayNamespace}'`,
          'Leave gatewayNamespace unset, or attach to an existing Gateway without gatewayClassName',
        );
    } else if (tls !== undefined) {
      throw new ValidationError(
        scope,
        `router.tls with the existing Gateway '${gatewayName}': its listeners terminate TLS, and kubefaas cannot add one to them`,
        'Set gatewayClassName so kubefaas creates the Gateway with an HTTPS listener, or configure certificateRefs on your Gateway and leave router.tls unset',
      );
    }
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
    if (owned && o.sectionName !== undefined && o.sectionName !== (tls ? 'https' : 'http'))
      throw new ValidationError(
        scope,
        `sectionName '${o.sectionName}' is not a listener of the Gateway kubefaas creates (it has ${tls ? '"http" and "https"' : '"http"'})`,
        'Leave sectionName unset',
      );
    const hostnames = (o.hostnames ?? tls?.hosts ?? []).map((h) => checkHostname(scope, 'hostname', h));
    if (hostnames.length > 16) {
      throw new ValidationError(
        scope,
        `an HTTPRoute takes at most 16 hostnames, got ${hostnames.length}`,
        'Use a wildcard hostname or several platforms',
      );
    }
    if (tls) checkCovered(scope, 'hostname', hostnames, tls);

    if (owned) {
      const listener = (name: string, port: number, protocol: string) => ({
        name,
        port,
        protocol,
        allowedRoutes: { namespaces: { from: 'Same' } },
      });
      new ApiObject(scope, 'Gateway', {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: objectMeta(gatewayName, target.namespace, target.labels),
        spec: {
          gatewayClassName: o.gatewayClassName,
          listeners: [
            listener('http', 80, 'HTTP'),
            ...(tls
              ? [
                  {
                    ...listener('https', 443, 'HTTPS'),
                    tls: { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: tls.secretName }] },
                  },
                ]
              : []),
          ],
        },
      });
    }
    const parentRef = (sectionName: string | undefined) => ({
      group: 'gateway.networking.k8s.io',
      kind: 'Gateway',
      name: gatewayName,
      ...(gatewayNamespace ? { namespace: gatewayNamespace } : {}),
      ...(sectionName ? { sectionName } : {}),
    });
    const section = o.sectionName ?? (owned ? (tls ? 'https' : 'http') : undefined);
    new ApiObject(scope, 'HTTPRoute', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: objectMeta(target.serviceName, target.namespace, target.labels),
      spec: {
        parentRefs: [parentRef(section)],
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
    if (tls) {
      // Plain HTTP on the `http` listener: a permanent redirect to the same URL over HTTPS, no backend.
      new ApiObject(scope, 'HttpsRedirect', {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: objectMeta(`${target.serviceName}-https-redirect`, target.namespace, target.labels),
        spec: {
          parentRefs: [parentRef('http')],
          hostnames,
          rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }],
        },
      });
    }
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
    const tls = target.tls;
    const className = o.className === undefined ? undefined : checkObjectName(scope, 'ingress class', o.className);
    const host = o.host === undefined ? undefined : checkHostname(scope, 'ingress host', o.host);
    const tlsSecretName =
      o.tlsSecretName === undefined ? undefined : checkObjectName(scope, 'TLS secret name', o.tlsSecretName);
    if (tls && tlsSecretName)
      throw new ValidationError(
        scope,
        'both router.tls and the ingress tlsSecretName are set',
        'Use router.tls alone (RouterTls.secret(name, hosts) for an existing Secret)',
      );
    if (o.controller !== undefined && !Object.prototype.hasOwnProperty.call(HTTPS_REDIRECT_ANNOTATIONS, o.controller))
      throw new ValidationError(
        scope,
        `ingress controller '${String(o.controller)}' is not one kubefaas knows`,
        `Use one of ${Object.keys(HTTPS_REDIRECT_ANNOTATIONS).join(', ')}, or leave it unset and put the controller's annotations in \`annotations\``,
      );
    if (tls && host !== undefined) checkCovered(scope, 'ingress host', [host], tls);
    if (tls && o.controller === undefined)
      warn(
        scope,
        HTTPS_REDIRECT_RULE,
        'router.tls on an Ingress without `controller`: whether plain HTTP is redirected to HTTPS is up to the controller. Set `controller` (nginx, ingress-nginx, haproxy, haproxy-ingress, traefik) or its redirect annotation',
      );
    const redirect = tls && o.controller !== undefined ? HTTPS_REDIRECT_ANNOTATIONS[o.controller] : {};
    const annotations = { ...redirect, ...checkAnnotations(scope, o.annotations) };
    // One rule per host the Ingress serves: its own host, or with TLS every certificate host.
    const hosts: (string | undefined)[] = host !== undefined ? [host] : tls ? [...tls.hosts] : [undefined];
    const tlsSpec = tls
      ? [{ hosts: host !== undefined ? [host] : [...tls.hosts], secretName: tls.secretName }]
      : tlsSecretName
        ? [{ ...(host ? { hosts: [host] } : {}), secretName: tlsSecretName }]
        : undefined;
    new ApiObject(scope, 'Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: objectMeta(target.serviceName, target.namespace, target.labels, annotations),
      spec: {
        ...(className ? { ingressClassName: className } : {}),
        ...(tlsSpec ? { tls: tlsSpec } : {}),
        // Only what the router serves publicly, on each host the Ingress serves (its own host, or with
        // TLS every certificate host); with nothing public, no rule (an Ingress rule needs a path).
        rules: Lazy.any({
          produce: () => {
            const paths = publicPathsOf(scope, target, 'Ingress');
            if (paths.length === 0) return undefined;
            return hosts.map((h) => ({
              ...(h ? { host: h } : {}),
              http: {
                paths: paths.map((p) => ({
                  path: p.value,
                  pathType: p.type === 'Exact' ? 'Exact' : 'Prefix',
                  backend: { service: { name: target.serviceName, port: { number: SERVICE_PORT } } },
                })),
              },
            }));
          },
        }),
      },
    });
    return { type: 'ClusterIP' };
  }
}
