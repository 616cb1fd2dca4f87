import { Env } from '../src/contract';

/**
 * The runtime env that makes failed async calls report handlers' exception messages (see
 * FunctionOptions.exposeErrorMessages). Nothing is rendered by default, so the runtime stores a
 * generic error and the request id.
 */
export function errorExposureEnv(expose: boolean | undefined): { readonly name: string; readonly value: string }[] {
  return expose === true ? [{ name: Env.EXPOSE_ERROR_MESSAGES, value: 'true' }] : [];
}
