import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { Labels } from '../../src/contract';

/** Names, labels and security settings shared by the monitoring objects. */
export const MonitoringNames = {
  prometheus: 'kubefaas-prometheus',
  prometheusRules: 'kubefaas-prometheus-rules',
  alertmanager: 'kubefaas-alertmanager',
  dashboard: 'kubefaas-dashboard',
  monitor: 'kubefaas',
  rule: 'kubefaas',
} as const;

/** Pod component labels (value of `kubefaas.dev/component`) of the monitoring pods. */
export const MonitoringComponents = {
  prometheus: 'prometheus',
  alertmanager: 'alertmanager',
} as const;

/** The `nobody` user the official Prometheus and Alertmanager images run as. */
export const NOBODY_UID = 65534;

export interface ObjectProps {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: { readonly [name: string]: string };
  readonly annotations?: { readonly [name: string]: string };
  /** Top-level fields besides apiVersion/kind/metadata (spec, data, rules, ...). */
  readonly body: { readonly [field: string]: unknown };
}

/** A plain Kubernetes object with a fixed name (no cdk8s name hash). */
export function apiObject(scope: Construct, id: string, props: ObjectProps): ApiObject {
  return new ApiObject(scope, id, {
    apiVersion: props.apiVersion,
    kind: props.kind,
    metadata: {
      name: props.name,
      namespace: props.namespace,
      labels: { ...props.labels },
      ...(props.annotations ? { annotations: { ...props.annotations } } : {}),
    },
    ...props.body,
  });
}

/** Labels of a monitoring component's objects and pods. */
export function componentLabels(
  common: { readonly [name: string]: string },
  component: string,
): Record<string, string> {
  return { ...common, [Labels.name]: component, [Labels.platformComponent]: component };
}

export function contentHash(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}
