import { Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { bytesQuantity, cpuMillis, sizeBytes } from '../validation';
import { ComponentResources } from './options';

export interface ResourceDefaults {
  readonly cpuRequest: Cpu;
  readonly cpuLimit?: Cpu;
  readonly memoryRequest: Size;
  readonly memoryLimit: Size;
}

const GiB = 1024 * 1024 * 1024;

/** Container `resources` from the user's choice over the component's defaults, range-checked. */
export function renderResources(
  scope: IConstruct,
  what: string,
  given: ComponentResources | undefined,
  defaults: ResourceDefaults,
): Record<string, unknown> {
  const cpu = (name: string, v: Cpu): string => `${cpuMillis(scope, `${what}.${name}`, v, 1, 64000)}m`;
  const memory = (name: string, v: Size): string =>
    bytesQuantity(sizeBytes(scope, `${what}.${name}`, v, 4 * 1024 * 1024, 256 * GiB));
  const cpuLimit = given?.cpu?.limit ?? defaults.cpuLimit;
  return {
    requests: {
      cpu: cpu('cpu.request', given?.cpu?.request ?? defaults.cpuRequest),
      memory: memory('memory.request', given?.memory?.request ?? defaults.memoryRequest),
    },
    limits: {
      ...(cpuLimit ? { cpu: cpu('cpu.limit', cpuLimit) } : {}),
      memory: memory('memory.limit', given?.memory?.limit ?? defaults.memoryLimit),
    },
  };
}
