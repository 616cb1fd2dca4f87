import { IConstruct } from 'constructs';

/**
 * The one error kind kubefaas constructs throw for bad input. Its message names the construct path
 * and says how to fix the problem, so a user can act on it without reading our code.
 */
export class ValidationError extends Error {
  /** Path of the construct whose props are invalid (`app/platform/hello`). */
  public readonly constructPath: string;

  constructor(scope: IConstruct | string, problem: string, fix?: string) {
    const path = typeof scope === 'string' ? scope : scope.node.path;
    super(`[${path}] ${problem}${fix ? `. ${fix}` : ''}`);
    this.name = 'ValidationError';
    this.constructPath = path;
  }
}

/** Formats a problem for `node.addValidation` (cdk8s prefixes the construct path itself). */
export function validationMessage(problem: string, fix?: string): string {
  return `${problem}${fix ? `. ${fix}` : ''}`;
}
