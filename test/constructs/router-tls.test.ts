/** router.tls (issue 11, TLS): Gateway API listeners, cert-manager Certificate, Ingress tls, HTTP→HTTPS redirects, validation. */
import { HttpTrigger, NodeFunction, RouterExposure, RouterTls } from '../../constructs';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import { checkCertManagerCertificate } from '../support/cert-manager-schema';
import { validateManifests } from '../support/validate';
import { errorOf, expectValid, find, INLINE, maybeFind, newPlatform, synth } from './helpers';

const letsencrypt = (hosts: string[] = ['api.example.com', '*.fn.example.com']) =>
  RouterTls.certManager({ issuer: 'letsencrypt', issuerKind: 'ClusterIssuer', hosts });

describe('router.tls', () => {
  beforeEach(() => clearWarnings());

  test('Gateway API: kubefaas creates the Gateway with http and https listeners, the Certificate, and a redirect route', async () => {
    const platform = newPlatform({
      namespace: 'faas',
      router: {
        exposure: RouterExposure.gatewayApi({ gatewayName: 'public', gatewayClassName: 'eg' }),
        tls: letsencrypt(),
      },
    });
    const objects = synth(platform);
    await expectValid(objects);
    expect(find(objects, 'Gateway', 'public').spec).toEqual({
      gatewayClassName: 'eg',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } },
        {
          name: 'https',
          port: 443,
          protocol: 'HTTPS',
          allowedRoutes: { namespaces: { from: 'Same' } },
          tls: { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: 'kubefaas-router-tls' }] },
        },
      ],
    });
    expect(find(objects, 'Certificate', 'kubefaas-router-tls').spec).toEqual({
      secretName: 'kubefaas-router-tls',
      dnsNames: ['api.example.com', '*.fn.example.com'],
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'letsencrypt' },
      privateKey: { rotationPolicy: 'Always' },
    });
    const route = find(objects, 'HTTPRoute', 'kubefaas-router').spec;
    expect(route.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', sectionName: 'https' },
    ]);
    expect(route.hostnames).toEqual(['api.example.com', '*.fn.example.com']);
    const redirect = find(objects, 'HTTPRoute', 'kubefaas-router-https-redirect').spec;
    expect(redirect).toEqual({
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', sectionName: 'http' }],
      hostnames: ['api.example.com', '*.fn.example.com'],
      rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }],
    });
  });

  test('Gateway API with your own Secret: no Certificate; without TLS the owned Gateway has the http listener only', async () => {
    const withSecret = synth(
      newPlatform({
        router: {
          exposure: RouterExposure.gatewayApi({
            gatewayName: 'gw',
            gatewayClassName: 'eg',
            hostnames: ['a.fn.example.com'],
          }),
          tls: RouterTls.secret('wildcard-tls', ['*.fn.example.com']),
        },
      }),
    );
    await expectValid(withSecret, { externalSecrets: ['wildcard-tls'] });
    expect(maybeFind(withSecret, 'Certificate', 'kubefaas-router-tls')).toBeUndefined();
    expect(find(withSecret, 'HTTPRoute', 'kubefaas-router').spec.hostnames).toEqual(['a.fn.example.com']);
    // The Secret must exist: a missing one is a semantic problem.
    const problems = await validateManifests(withSecret);
    expect(problems.map((p) => p.message)).toContainEqual(
      expect.stringMatching(/certificateRefs\[0\] names Secret "wildcard-tls"/),
    );

    const plain = synth(
      newPlatform({ router: { exposure: RouterExposure.gatewayApi({ gatewayName: 'gw', gatewayClassName: 'eg' }) } }),
    );
    await expectValid(plain);
    expect(find(plain, 'Gateway', 'gw').spec.listeners.map((l: { name: string }) => l.name)).toEqual(['http']);
    expect(find(plain, 'HTTPRoute', 'kubefaas-router').spec.parentRefs[0].sectionName).toBe('http');
    expect(maybeFind(plain, 'HTTPRoute', 'kubefaas-router-https-redirect')).toBeUndefined();
  });

  test('Ingress: tls with the certificate hosts, one rule per host, the controller redirect annotation', async () => {
    const platform = newPlatform({
      router: {
        exposure: RouterExposure.ingress({ className: 'nginx', controller: 'nginx', annotations: { 'x/y': 'z' } }),
        tls: letsencrypt(['api.example.com', 'www.example.com']),
      },
    });
    new NodeFunction(platform, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
    const objects = synth(platform);
    await expectValid(objects);
    const ingress = find(objects, 'Ingress', 'kubefaas-router');
    expect(ingress.metadata.annotations).toEqual({ 'ingress.kubernetes.io/ssl-redirect': 'true', 'x/y': 'z' });
    expect(ingress.spec.tls).toEqual([
      { hosts: ['api.example.com', 'www.example.com'], secretName: 'kubefaas-router-tls' },
    ]);
    expect(ingress.spec.rules.map((r: { host: string }) => r.host)).toEqual(['api.example.com', 'www.example.com']);
    // Each host routes only the public paths.
    for (const rule of ingress.spec.rules)
      expect(rule.http.paths.map((p: { path: string }) => p.path)).toEqual(['/hello']);
    expect(find(objects, 'Certificate', 'kubefaas-router-tls').spec.dnsNames).toEqual([
      'api.example.com',
      'www.example.com',
    ]);
    expect(recordedWarnings().map((w) => w.rule)).not.toContain('exposure/https-redirect');
  });

  test('Ingress: a host inside a wildcard certificate; traefik annotations; a warning without controller', async () => {
    const traefik = synth(
      newPlatform({
        router: {
          exposure: RouterExposure.ingress({ host: 'api.fn.example.com', controller: 'traefik' }),
          tls: RouterTls.secret('wild', ['*.fn.example.com']),
        },
      }),
    );
    await expectValid(traefik, { externalSecrets: ['wild'] });
    const ingress = find(traefik, 'Ingress', 'kubefaas-router');
    expect(ingress.spec.tls).toEqual([{ hosts: ['api.fn.example.com'], secretName: 'wild' }]);
    expect(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints']).toBe('websecure');

    synth(newPlatform({ router: { exposure: RouterExposure.ingress(), tls: letsencrypt() } }));
    expect(recordedWarnings().map((w) => w.rule)).toContain('exposure/https-redirect');
  });

  describe('validation', () => {
    const cases: Array<[string, () => void, RegExp]> = [
      [
        'LoadBalancer has no terminator',
        () => newPlatform({ router: { exposure: RouterExposure.loadBalancer(), tls: letsencrypt() } }),
        /\[platform\/Router\] router\.tls needs a TLS terminator, and RouterExposure\.loadBalancer\(\) has none.*Expose the router with RouterExposure\.gatewayApi/,
      ],
      [
        'ClusterIP has none either',
        () => newPlatform({ router: { tls: letsencrypt() } }),
        /RouterExposure\.clusterIp\(\) has none/,
      ],
      [
        'an existing Gateway',
        () =>
          newPlatform({
            router: { exposure: RouterExposure.gatewayApi({ gatewayName: 'shared' }), tls: letsencrypt() },
          }),
        /router\.tls with the existing Gateway 'shared'.*Set gatewayClassName/,
      ],
      [
        'hosts required',
        () => newPlatform({ router: { exposure: RouterExposure.ingress(), tls: RouterTls.secret('s', []) } }),
        /router\.tls needs the host names/,
      ],
      [
        'bad host',
        () =>
          newPlatform({
            router: { exposure: RouterExposure.ingress(), tls: RouterTls.secret('s', ['API.example.com']) },
          }),
        /router\.tls host 'API\.example\.com' is not a valid hostname/,
      ],
      [
        'bad issuer',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.ingress(),
              tls: RouterTls.certManager({ issuer: '', hosts: ['a.example.com'] }),
            },
          }),
        /issuer '' is not a valid Issuer name/,
      ],
      [
        'bad issuer kind',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.ingress(),
              tls: RouterTls.certManager({ issuer: 'x', issuerKind: 'Foo' as never, hosts: ['a.example.com'] }),
            },
          }),
        /issuerKind 'Foo' is neither Issuer nor ClusterIssuer/,
      ],
      [
        'host not covered',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.ingress({ host: 'a.b.fn.example.com' }),
              tls: RouterTls.secret('s', ['*.fn.example.com']),
            },
          }),
        /ingress host 'a\.b\.fn\.example\.com' is not covered by the TLS certificate/,
      ],
      [
        'route hostname not covered',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.gatewayApi({
                gatewayName: 'g',
                gatewayClassName: 'eg',
                hostnames: ['other.example.com'],
              }),
              tls: RouterTls.secret('s', ['api.example.com']),
            },
          }),
        /hostname 'other\.example\.com' is not covered/,
      ],
      [
        'both tls and tlsSecretName',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.ingress({ host: 'a.example.com', tlsSecretName: 'x' }),
              tls: RouterTls.secret('s', ['a.example.com']),
            },
          }),
        /both router\.tls and the ingress tlsSecretName are set/,
      ],
      [
        'unknown controller',
        () =>
          newPlatform({
            router: { exposure: RouterExposure.ingress({ controller: 'kong' as never }), tls: letsencrypt() },
          }),
        /ingress controller 'kong' is not one kubefaas knows/,
      ],
      [
        'owned Gateway elsewhere',
        () =>
          newPlatform({
            router: {
              exposure: RouterExposure.gatewayApi({
                gatewayName: 'g',
                gatewayClassName: 'eg',
                gatewayNamespace: 'infra',
              }),
            },
          }),
        /lives in the platform namespace, not 'infra'/,
      ],
      [
        'not a RouterTls',
        () => newPlatform({ router: { exposure: RouterExposure.ingress(), tls: {} as never } }),
        /`router\.tls` must be a RouterTls/,
      ],
    ];
    test.each(cases)('%s', (_name, build, message) => {
      expect(errorOf(build).message).toMatch(message);
    });
  });

  test('the Certificate schema check refuses what the API server would', () => {
    const good = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'c' },
      spec: { secretName: 's', dnsNames: ['a.example.com'], issuerRef: { name: 'i' } },
    };
    expect(checkCertManagerCertificate(good)).toEqual([]);
    expect(checkCertManagerCertificate({ ...good, spec: { dnsNames: ['a'], issuerRef: {} } })).toEqual(
      expect.arrayContaining(['.spec.secretName: required', '.spec.issuerRef.name: required']),
    );
    expect(checkCertManagerCertificate({ ...good, spec: { ...good.spec, dnsName: ['typo'] } })).toContain(
      '.spec.dnsName: unknown field',
    );
    expect(
      checkCertManagerCertificate({ ...good, spec: { ...good.spec, issuerRef: { name: 'i', kind: 'Vault' } } }),
    ).toContain('spec.issuerRef.kind: must be one of Issuer, ClusterIssuer, got Vault');
    expect(checkCertManagerCertificate({ ...good, spec: { secretName: 's', issuerRef: { name: 'i' } } })).toEqual([
      expect.stringMatching(/at least one of dnsNames/),
    ]);
  });
});
