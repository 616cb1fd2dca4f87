import { IConstruct } from 'constructs';
import { ValidationError } from './errors';
import { validateKeyReference } from './validation';

/** Options of a reference to a key of a Secret or ConfigMap. */
export interface KeyReferenceOptions {
  /**
   * Start the pod even when the Secret/ConfigMap or the key does not exist (the variable is unset).
   * @default false
   */
  readonly optional?: boolean;
}

/** The Kubernetes `env[]` entry value of one variable: a literal `value` or a `valueFrom`. */
export type EnvVarSource =
  | { readonly value: string }
  | { readonly valueFrom: { readonly secretKeyRef: KeyRef } | { readonly configMapKeyRef: KeyRef } };

interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}

/**
 * The value of a function environment variable. Secrets are always passed by reference
 * (`valueFrom.secretKeyRef`): their values never appear in synthesized manifests.
 */
export abstract class EnvValue {
  /** A literal value (visible in the manifests: never use it for secrets). */
  public static fromValue(value: string): EnvValue {
    return new LiteralEnvValue(value);
  }

  /** The value of `key` in the Secret `secretName` of the platform namespace. */
  public static fromSecret(secretName: string, key: string, options: KeyReferenceOptions = {}): EnvValue {
    return new KeyRefEnvValue('secretKeyRef', 'Secret', secretName, key, options);
  }

  /** The value of `key` in the ConfigMap `configMapName` of the platform namespace. */
  public static fromConfigMap(configMapName: string, key: string, options: KeyReferenceOptions = {}): EnvValue {
    return new KeyRefEnvValue('configMapKeyRef', 'ConfigMap', configMapName, key, options);
  }

  /** Validates against `scope` and renders the env entry (without its name). */
  public abstract bind(scope: IConstruct): EnvVarSource;
}

class LiteralEnvValue extends EnvValue {
  constructor(private readonly value: string) {
    super();
  }

  public bind(scope: IConstruct): EnvVarSource {
    if (typeof this.value !== 'string') {
      throw new ValidationError(
        scope,
        `environment values must be strings, got ${typeof this.value}`,
        'Convert the value with String(...)',
      );
    }
    return { value: this.value };
  }
}

class KeyRefEnvValue extends EnvValue {
  constructor(
    private readonly field: 'secretKeyRef' | 'configMapKeyRef',
    private readonly kind: string,
    private readonly name: string,
    private readonly key: string,
    private readonly options: KeyReferenceOptions,
  ) {
    super();
  }

  public bind(scope: IConstruct): EnvVarSource {
    validateKeyReference(scope, this.kind, this.name, this.key);
    const ref: KeyRef = { name: this.name, key: this.key, ...(this.options.optional ? { optional: true } : {}) };
    return this.field === 'secretKeyRef'
      ? { valueFrom: { secretKeyRef: ref } }
      : { valueFrom: { configMapKeyRef: ref } };
  }
}

/** An env prop value: a plain string is a literal. */
export type EnvInput = string | EnvValue;

export function toEnvValue(scope: IConstruct, name: string, input: EnvInput): EnvValue {
  if (typeof input === 'string') return EnvValue.fromValue(input);
  if (input instanceof EnvValue) return input;
  throw new ValidationError(
    scope,
    `environment variable '${name}' must be a string or an EnvValue, got ${input === null ? 'null' : typeof input}`,
    'Use a string, EnvValue.fromSecret(...) or EnvValue.fromConfigMap(...)',
  );
}
