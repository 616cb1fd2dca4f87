import type { Size } from 'cdk8s';
import { Defaults, Limits } from './defaults';
import type { FunctionDefaults } from './platform';
import { sizeBytes, validateInteger } from './validation';
import type { IConstruct } from 'constructs';

/** The per-replica request limits a kubefaas runtime (Node or Python) enforces. */
export interface RequestLimitProps {
  readonly maxConcurrency?: number;
  readonly maxBodySize?: Size;
}

/**
 * A runtime function's concurrency and body limits: its own props, else the platform's function
 * defaults, else kubefaas' defaults; validated against the same bounds for every runtime.
 */
export function resolveRequestLimits(
  scope: IConstruct,
  props: RequestLimitProps,
  defaults: FunctionDefaults,
): { readonly maxConcurrency: number; readonly maxBodyBytes: number } {
  return {
    maxConcurrency: validateInteger(
      scope,
      'maxConcurrency',
      props.maxConcurrency ?? defaults.maxConcurrency ?? Defaults.maxConcurrency,
      0,
      Limits.maxConcurrency,
    ),
    maxBodyBytes: sizeBytes(
      scope,
      'maxBodySize',
      props.maxBodySize ?? defaults.maxBodySize ?? Defaults.maxBodySize,
      Limits.minBodyBytes,
      Limits.maxBodyBytes,
    ),
  };
}
