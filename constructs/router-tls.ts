import { ApiObject } from 'cdk8s';
import type { Construct, IConstruct } from 'constructs';
import { ValidationError } from './errors';
import { objectMeta } from './metadata';
import { isDns1123Subdomain } from './validation';

/** Options of `RouterTls.certManager`. */
export interface CertManagerTlsOptions {
  /** Name of the cert-manager Issuer (in the platform namespace) or ClusterIssuer that signs the certificate. */
  readonly issuer: string;
  /**
   * @default 'Issuer'
   */
  readonly issuerKind?: 'Issuer' | 'ClusterIssuer';
  /** Host names the certificate covers (`api.example.com`, `*.fn.example.com` with a DNS-01 issuer). */
  readonly hosts: readonly string[];
  /**
   * Secret cert-manager writes the certificate and key to.
   * @default 'kubefaas-router-tls'
   */
  readonly secretName?: string;
}

/** TLS of a router exposure, in checked form. */
export interface ResolvedTls {
  readonly secretName: string;
  readonly hosts: readonly string[];
  /** Set when kubefaas synthesizes a cert-manager Certificate for the Secret. */
  readonly certManager?: { readonly issuer: string; readonly issuerKind: 'Issuer' | 'ClusterIssuer' };
}

/** Default Secret (and Certificate) name of `RouterTls.certManager`. */
export const ROUTER_TLS_SECRET = 'kubefaas-router-tls';

/**
 * HTTPS for the router's exposure, terminated by the Gateway or the Ingress controller (the router
 * itself speaks plain HTTP inside the cluster): a certificate cert-manager issues and renews
 * (`certManager`), or a `kubernetes.io/tls` Secret you manage (`secret`). Plain HTTP is redirected
 * to HTTPS (docs/security.md, TLS).
 */
export abstract class RouterTls {
  /** A cert-manager `Certificate` (cert-manager.io/v1) for `hosts`, signed by `issuer`. */
  public static certManager(options: CertManagerTlsOptions): RouterTls {
    return new (class extends RouterTls {
      public _resolve(scope: IConstruct): ResolvedTls {
        const o = options ?? ({} as CertManagerTlsOptions);
        if (typeof o.issuer !== 'string' || !isDns1123Subdomain(o.issuer))
          throw new ValidationError(
            scope,
            `router.tls: issuer '${String(o.issuer)}' is not a valid Issuer name`,
            'Name the cert-manager Issuer or ClusterIssuer, e.g. RouterTls.certManager({ issuer: "letsencrypt", issuerKind: "ClusterIssuer", hosts: [...] })',
          );
        const kind = o.issuerKind ?? 'Issuer';
        if (kind !== 'Issuer' && kind !== 'ClusterIssuer')
          throw new ValidationError(
            scope,
            `router.tls: issuerKind '${String(kind)}' is neither Issuer nor ClusterIssuer`,
          );
        return {
          secretName: checkSecretName(scope, o.secretName ?? ROUTER_TLS_SECRET),
          hosts: checkHosts(scope, o.hosts),
          certManager: { issuer: o.issuer, issuerKind: kind },
        };
      }
    })();
  }

  /** An existing `kubernetes.io/tls` Secret (in the platform namespace) holding a certificate for `hosts`. */
  public static secret(secretName: string, hosts: readonly string[]): RouterTls {
    return new (class extends RouterTls {
      public _resolve(scope: IConstruct): ResolvedTls {
        return { secretName: checkSecretName(scope, secretName), hosts: checkHosts(scope, hosts) };
      }
    })();
  }

  /**
   * The checked form; errors name `scope`.
   * @internal
   */
  public abstract _resolve(scope: IConstruct): ResolvedTls;
}

/** The cert-manager Certificate of `tls`, when kubefaas issues it. */
export function routerCertificate(
  scope: Construct,
  tls: ResolvedTls,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): ApiObject | undefined {
  if (tls.certManager === undefined) return undefined;
  return new ApiObject(scope, 'Certificate', {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: objectMeta(tls.secretName, namespace, labels),
    spec: {
      secretName: tls.secretName,
      dnsNames: [...tls.hosts],
      issuerRef: { group: 'cert-manager.io', kind: tls.certManager.issuerKind, name: tls.certManager.issuer },
      // A renewal gets a new key (cert-manager's default since 1.18, explicit for older installs).
      privateKey: { rotationPolicy: 'Always' },
    },
  });
}

/** Whether a certificate for `certHost` (possibly `*.domain`) is valid for `host`. */
export function hostCovered(certHost: string, host: string): boolean {
  if (certHost === host) return true;
  if (!certHost.startsWith('*.')) return false;
  const domain = certHost.slice(1); // ".domain"
  // A wildcard covers exactly one label: a.domain, not a.b.domain or domain itself.
  return host.endsWith(domain) && !host.slice(0, -domain.length).includes('.') && host.length > domain.length;
}

/** Each of `hosts` covered by one of the certificate's hosts, or a ValidationError naming the first that is not. */
export function checkCovered(scope: IConstruct, what: string, hosts: readonly string[], tls: ResolvedTls): void {
  for (const host of hosts)
    if (!tls.hosts.some((certHost) => hostCovered(certHost, host)))
      throw new ValidationError(
        scope,
        `${what} '${host}' is not covered by the TLS certificate (hosts: ${tls.hosts.join(', ')})`,
        'Add it to router.tls hosts, or serve only the hosts the certificate covers',
      );
}

const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A lower-case DNS name, optionally starting with `*.`. */
export function checkHostname(scope: IConstruct, what: string, host: unknown): string {
  if (typeof host !== 'string' || host.length > 253 || !HOSTNAME.test(host)) {
    throw new ValidationError(
      scope,
      `${what} '${String(host)}' is not a valid hostname`,
      'Use a lower-case DNS name such as api.example.com (optionally starting with "*.")',
    );
  }
  return host;
}

function checkHosts(scope: IConstruct, hosts: unknown): string[] {
  if (!Array.isArray(hosts) || hosts.length === 0)
    throw new ValidationError(
      scope,
      'router.tls needs the host names the certificate is for',
      'Give hosts, e.g. RouterTls.secret("api-tls", ["api.example.com"])',
    );
  const checked = hosts.map((h) => checkHostname(scope, 'router.tls host', h));
  if (new Set(checked).size !== checked.length)
    throw new ValidationError(scope, `router.tls hosts repeat a name (${checked.join(', ')})`, 'List each host once');
  if (checked.length > 16)
    throw new ValidationError(scope, `router.tls takes at most 16 hosts, got ${checked.length}`, 'Use a wildcard host');
  return checked;
}

function checkSecretName(scope: IConstruct, name: unknown): string {
  if (typeof name !== 'string' || !isDns1123Subdomain(name))
    throw new ValidationError(
      scope,
      `router.tls: Secret name '${String(name)}' is not a valid Kubernetes object name`,
      'Use lower-case letters, digits, "-" and "."',
    );
  return name;
}
