import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ADMIN_PORT_NAME, ROUTER_ADMIN_PORT, ROUTER_NAME, ROUTER_PEERS_SERVICE } from '../../src/contract';
import { objectMeta } from '../metadata';

/** Port name of the peers Service (the scaler resolves its DNS name and uses the port number). */
const PEERS_PORT_NAME = 'scaling';

export interface RouterScalingAccessProps {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Selector of the router's pods. */
  readonly selector: Readonly<Record<string, string>>;
}

/**
 * What the router needs as the activator of a KEDA platform (docs/scaling.md): an identity whose
 * token may watch the namespace's EndpointSlices (get, list, watch — nothing else; readiness of
 * the function Services), and the headless Service through which the scaler finds every router
 * replica. The ServiceAccount hands out no token by itself: the router's pod spec mounts it.
 */
export class RouterScalingAccess extends Construct {
  /** Name of the router's ServiceAccount. */
  public readonly serviceAccountName = ROUTER_NAME;

  constructor(scope: Construct, id: string, props: RouterScalingAccessProps) {
    super(scope, id);
    const { namespace, labels } = props;
    const meta = objectMeta(ROUTER_NAME, namespace, labels);
    new ApiObject(this, 'ServiceAccount', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta,
      automountServiceAccountToken: false,
    });
    new ApiObject(this, 'Role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta,
      rules: [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }],
    });
    new ApiObject(this, 'RoleBinding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ROUTER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: ROUTER_NAME, namespace }],
    });
    // Not the ClusterIP `kubefaas-router-admin`: its callers (the cron sender) want one balanced
    // address, the scaler wants every replica. Not-ready routers are listed too: a router that is
    // draining still holds requests, and the scaler leaves out one that does not answer.
    new ApiObject(this, 'PeersService', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(ROUTER_PEERS_SERVICE, namespace, labels),
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: { ...props.selector },
        // Not named `admin`: a ServiceMonitor selects Service ports by that name and would scrape
        // the routers twice (here and on kubefaas-router-admin).
        ports: [{ name: PEERS_PORT_NAME, port: ROUTER_ADMIN_PORT, targetPort: ADMIN_PORT_NAME, protocol: 'TCP' }],
      },
    });
  }
}
