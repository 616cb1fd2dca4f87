import type { IConstruct } from 'constructs';
import type { CallbackUrlPolicy } from '../../src/contract';
import { ValidationError } from '../errors';

export interface CallbackAllowOptions {
  /**
   * Also deliver to private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): a receiver
   * inside the cluster or the VPC. Loopback and link-local addresses (the node, the cloud metadata
   * service) are refused whatever this says.
   * @default false
   */
  readonly allowPrivateNetworks?: boolean;
}

/**
 * Where async calls' callbacks (`X-Callback-Url`) may go. The router refuses an async call whose
 * callback URL no prefix allows (400 naming this setting); the function's runtime checks the URL
 * again before each POST, with the addresses its host resolves to, connects to the address it
 * checked (no DNS rebinding) and follows no redirect (docs/security.md).
 */
export class CallbackPolicy {
  /** Callbacks to URLs starting with one of these prefixes (`https://hooks.example.com/`). */
  public static allow(prefixes: readonly string[], options: CallbackAllowOptions = {}): CallbackPolicy {
    return new CallbackPolicy(prefixes, options.allowPrivateNetworks ?? false);
  }

  /** No callbacks: an async call with X-Callback-Url gets a 400 (the default). */
  public static deny(): CallbackPolicy {
    return new CallbackPolicy([], false);
  }

  private constructor(
    private readonly prefixes: readonly string[],
    private readonly allowPrivateNetworks: boolean,
  ) {}

  /** The route-table / runtime form, validated (ValidationError naming `scope`). */
  public policy(scope: IConstruct): CallbackUrlPolicy {
    const allow = this.prefixes.map((prefix) => normalizedPrefix(scope, prefix));
    return { allow: [...new Set(allow)], allowPrivateNetworks: this.allowPrivateNetworks };
  }
}

/**
 * A prefix in the form the router and the runtime compare against (`URL.href`): host lower-cased,
 * default port dropped, and always a path, so `https://hooks.example.com` cannot also allow
 * `https://hooks.example.com.attacker.net/`.
 */
function normalizedPrefix(scope: IConstruct, prefix: string): string {
  const fix = 'Give an absolute http(s) URL prefix with a path, e.g. "https://hooks.example.com/"';
  let url: URL;
  try {
    url = new URL(prefix);
  } catch {
    throw new ValidationError(scope, `callback prefix ${JSON.stringify(prefix)} is not an absolute URL`, fix);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ValidationError(scope, `callback prefix ${JSON.stringify(prefix)} is not http(s)`, fix);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    throw new ValidationError(
      scope,
      `callback prefix ${JSON.stringify(prefix)} has credentials, a query or a fragment`,
      'A prefix is scheme, host, optional port and path only',
    );
  return url.href;
}
