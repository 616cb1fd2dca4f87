import { type Construct } from 'constructs';
import { HTTP_METHODS, type HttpMethod } from '../src/contract';
import { ValidationError } from './errors';

/**
 * A non-empty list of HTTP methods, upper-cased and without duplicates, in the order given
 * (HttpTrigger `methods`, a function's `invocation.byNameMethods`). `what` names the prop in errors.
 */
export function normalizeMethods(scope: Construct, what: string, methods: unknown): HttpMethod[] {
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new ValidationError(scope, `${what} has an empty method list`, 'Omit it for the default, or list some');
  }
  const out: HttpMethod[] = [];
  for (const m of methods) {
    const upper = typeof m === 'string' ? (m.toUpperCase() as HttpMethod) : undefined;
    if (!upper || !HTTP_METHODS.includes(upper)) {
      throw new ValidationError(
        scope,
        `${what} has an unsupported method '${String(m)}'`,
        `Use ${HTTP_METHODS.join(', ')}`,
      );
    }
    if (!out.includes(upper)) out.push(upper);
  }
  return out;
}
