import { Construct } from 'constructs';
import { GRAFANA_DASHBOARD_LABEL, grafanaDashboard } from './generators';
import { MonitoringNames, apiObject } from './objects';

export interface GrafanaDashboardProps {
  readonly namespace: string;
  readonly labels: { readonly [name: string]: string };
}

/**
 * The platform dashboard as a ConfigMap the Grafana sidecar (kube-prometheus-stack, grafana chart)
 * imports: it watches ConfigMaps labelled `grafana_dashboard: "1"`.
 */
export class GrafanaDashboard extends Construct {
  constructor(scope: Construct, id: string, props: GrafanaDashboardProps) {
    super(scope, id);
    apiObject(this, 'Resource', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: MonitoringNames.dashboard,
      namespace: props.namespace,
      labels: { ...props.labels, [GRAFANA_DASHBOARD_LABEL]: '1' },
      body: {
        data: { [`kubefaas-${props.namespace}.json`]: JSON.stringify(grafanaDashboard(props.namespace), null, 1) },
      },
    });
  }
}
