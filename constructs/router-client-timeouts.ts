import type { Duration, Size } from 'cdk8s';
import type { IConstruct } from 'constructs';
import { Env, ROUTER_MAX_HEADER_BYTES } from '../src/contract';
import { Defaults, Limits } from './defaults';
import { durationMillis, sizeBytes } from './validation';

/**
 * The router's limits on clients — `router.headersTimeout`, `router.bodyTimeout`, `router.maxHeaderSize` —
 * validated, as the router's env (only the ones that differ from the router's own defaults, so an
 * unchanged platform's manifests stay as they were).
 */
export function routerClientTimeoutEnv(
  scope: IConstruct,
  options: { readonly headersTimeout?: Duration; readonly bodyTimeout?: Duration; readonly maxHeaderSize?: Size },
): { name: string; value: string }[] {
  const env: { name: string; value: string }[] = [];
  const add = (name: string, ms: number, fallback: number): void => {
    if (ms !== fallback) env.push({ name, value: String(ms) });
  };
  if (options.headersTimeout !== undefined) {
    add(
      Env.ROUTER_HEADERS_TIMEOUT_MS,
      durationMillis(
        scope,
        'router.headersTimeout',
        options.headersTimeout,
        Limits.minClientTimeout,
        Limits.maxHeadersTimeout,
      ),
      Defaults.routerHeadersTimeout.toMilliseconds(),
    );
  }
  if (options.bodyTimeout !== undefined) {
    add(
      Env.ROUTER_BODY_TIMEOUT_MS,
      durationMillis(scope, 'router.bodyTimeout', options.bodyTimeout, Limits.minClientTimeout, Limits.maxBodyTimeout),
      Defaults.routerBodyTimeout.toMilliseconds(),
    );
  }
  if (options.maxHeaderSize !== undefined) {
    add(
      Env.ROUTER_MAX_HEADER_BYTES,
      sizeBytes(scope, 'router.maxHeaderSize', options.maxHeaderSize, 1024, ROUTER_MAX_HEADER_BYTES),
      ROUTER_MAX_HEADER_BYTES,
    );
  }
  return env;
}
