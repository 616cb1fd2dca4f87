import * as pulumi from '@pulumi/pulumi';
import { Annotations, Labels, SERVICE_PORT, serviceHost } from '../src/contract';
import { apiGroup } from './object-identity';
import type { KubeManifest } from './synthesize';

/** The component label value of the router's pods (see constructs' router). */
const ROUTER_COMPONENT = 'router';

/** The router's Service: the Service selecting pods labelled `kubefaas.dev/component: router`. */
export function findRouterService(manifests: readonly KubeManifest[]): KubeManifest | undefined {
  return manifests.find(
    (m) =>
      m.kind === 'Service' &&
      (m.spec as { selector?: Record<string, string> } | undefined)?.selector?.[Labels.platformComponent] ===
        ROUTER_COMPONENT,
  );
}

/**
 * The namespace of the platform: the router's, else the one Namespace object the app creates, else
 * the single namespace every namespaced object shares.
 */
export function findPlatformNamespace(manifests: readonly KubeManifest[]): string | undefined {
  const router = findRouterService(manifests);
  if (router?.metadata.namespace) return router.metadata.namespace;
  const namespaces = manifests.filter((m) => m.kind === 'Namespace');
  if (namespaces.length === 1) return namespaces[0].metadata.name;
  const used = new Set(manifests.map((m) => m.metadata.namespace).filter((ns): ns is string => !!ns));
  return used.size === 1 ? [...used][0] : undefined;
}

/** In-cluster URL of the router Service, `http://<service>.<namespace>.svc.cluster.local:<port>`. */
export function clusterUrl(routerService: KubeManifest): string {
  const ports = (routerService.spec as { ports?: { port?: number }[] } | undefined)?.ports ?? [];
  const port = ports[0]?.port ?? SERVICE_PORT;
  const domain = routerService.metadata.annotations?.[Annotations.clusterDomain];
  return `http://${serviceHost(routerService.metadata.name, routerService.metadata.namespace ?? 'default', domain)}:${port}`;
}

interface LoadBalancerStatus {
  readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string; readonly hostname?: string }[] };
}

/** Something whose live `status` Pulumi knows after deployment (a Service or an Ingress). */
type WithStatus = { readonly status?: pulumi.Output<unknown> } | undefined;

/**
 * The URL clients outside the cluster use to reach the router, when the platform exposes it:
 * a Gateway API route's first hostname, an Ingress rule's host (https when the Ingress has TLS for
 * it), or the address a LoadBalancer Service or host-less Ingress gets once deployed. Undefined
 * for a ClusterIP-only router.
 */
export function externalUrl(
  manifests: readonly KubeManifest[],
  routerService: KubeManifest,
  resourceOf: (m: KubeManifest) => WithStatus,
  gatewayScheme: 'http' | 'https',
): pulumi.Output<string | undefined> {
  const name = routerService.metadata.name;
  const ns = routerService.metadata.namespace;
  for (const m of manifests) {
    if (m.metadata.namespace !== ns) continue;
    if (apiGroup(m.apiVersion) === 'gateway.networking.k8s.io' && m.kind === 'HTTPRoute') {
      const spec = m.spec as {
        hostnames?: string[];
        parentRefs?: { name?: string; sectionName?: string }[];
        rules?: { backendRefs?: { name?: string }[] }[];
      };
      const toRouter = (spec.rules ?? []).some((r) => (r.backendRefs ?? []).some((b) => b.name === name));
      if (toRouter && spec.hostnames?.length) {
        // A Gateway of the app (router.tls with gatewayClassName): its listener says the scheme.
        const scheme = ownedListenerProtocol(manifests, ns, spec.parentRefs?.[0]) === 'HTTPS' ? 'https' : gatewayScheme;
        return pulumi.output(`${scheme}://${spec.hostnames[0]}`);
      }
    }
    if (m.kind === 'Ingress') {
      const spec = m.spec as {
        rules?: { host?: string; http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[];
        tls?: { hosts?: string[] }[];
        defaultBackend?: { service?: { name?: string } };
      };
      const rule = (spec.rules ?? []).find((r) => (r.http?.paths ?? []).some((p) => p.backend?.service?.name === name));
      if (rule?.host) {
        const tls = (spec.tls ?? []).some((t) => t.hosts?.includes(rule.host!));
        return pulumi.output(`${tls ? 'https' : 'http'}://${rule.host}`);
      }
      if (rule || spec.defaultBackend?.service?.name === name) return addressUrl(resourceOf(m));
    }
  }
  if ((routerService.spec as { type?: string } | undefined)?.type === 'LoadBalancer') {
    return addressUrl(resourceOf(routerService));
  }
  return pulumi.output(undefined);
}

/** Protocol of the listener a route attaches to, when the Gateway is one of the app's manifests. */
function ownedListenerProtocol(
  manifests: readonly KubeManifest[],
  namespace: string | undefined,
  parent: { name?: string; sectionName?: string } | undefined,
): string | undefined {
  const gateway = manifests.find(
    (g) => g.kind === 'Gateway' && g.metadata.name === parent?.name && g.metadata.namespace === namespace,
  );
  const listeners = (gateway?.spec as { listeners?: { name?: string; protocol?: string }[] } | undefined)?.listeners;
  return listeners?.find((l) => l.name === parent?.sectionName)?.protocol;
}

/** `http://<ip or hostname>` from a live object's `status.loadBalancer`, once the cloud assigned it. */
function addressUrl(resource: WithStatus): pulumi.Output<string | undefined> {
  if (!resource?.status) return pulumi.output(undefined);
  return resource.status.apply((status) => {
    const ingress = (status as LoadBalancerStatus | undefined)?.loadBalancer?.ingress?.[0];
    const address = ingress?.ip ?? ingress?.hostname;
    return address ? `http://${address}` : undefined;
  });
}
