import { IConstruct } from 'constructs';
import { ValidationError } from './errors';
import { isDns1123Subdomain, validateLabels } from './validation';

/** Whether the pods get a Kubernetes API token. */
export interface ServiceAccountTokenOptions {
  /**
   * Mount the ServiceAccount's Kubernetes API token into the pods
   * (`automountServiceAccountToken: true`). Only functions that call the Kubernetes API need it;
   * IRSA and Azure Workload Identity inject their own projected tokens and do not.
   * @default false
   */
  readonly automountToken?: boolean;
}

/** A ServiceAccount kubefaas creates for the function. */
export interface CreateServiceAccountOptions extends ServiceAccountTokenOptions {
  /**
   * Annotations on the ServiceAccount, e.g. `eks.amazonaws.com/role-arn` for IRSA.
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * Labels the pods need for the identity to apply (e.g. `azure.workload.identity/use: "true"`).
   * @default - none
   */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** Azure Workload Identity of a function. */
export interface AzureWorkloadIdentityOptions extends ServiceAccountTokenOptions {
  /**
   * Tenant of the managed identity (`azure.workload.identity/tenant-id`).
   * @default - the tenant the webhook is configured with
   */
  readonly tenantId?: string;
}

/** The ServiceAccount of a function's pods, as the function's objects need it (resolved and checked). */
export interface ServiceAccountConfig {
  /** `serviceAccountName` of the pods. */
  readonly name: string;
  /** Create the ServiceAccount with these annotations; undefined when it exists already. */
  readonly create?: { readonly annotations: Readonly<Record<string, string>> };
  readonly podLabels: Readonly<Record<string, string>>;
  readonly automountToken: boolean;
}

/** The identity webhooks' keys, in one place. */
export const IdentityKeys = {
  awsRoleArn: 'eks.amazonaws.com/role-arn',
  azureClientId: 'azure.workload.identity/client-id',
  azureTenantId: 'azure.workload.identity/tenant-id',
  azureUse: 'azure.workload.identity/use',
} as const;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ANNOTATION_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

interface Spec {
  readonly existingName?: unknown;
  readonly annotations: Readonly<Record<string, unknown>>;
  readonly podLabels: Readonly<Record<string, unknown>>;
  readonly automountToken: unknown;
  /** Problems of the factory arguments, reported on bind against the function. */
  readonly problems: ReadonlyArray<{ readonly problem: string; readonly fix: string }>;
}

/**
 * The Kubernetes identity of a function's pods: a ServiceAccount kubefaas creates (with the
 * annotations cloud identity webhooks read), or one that exists already. Without one the pods run
 * as the namespace's `default` account with no API token, as before.
 */
export class FunctionServiceAccount {
  /** A ServiceAccount named after the function, with the given annotations and pod labels. */
  public static create(options: CreateServiceAccountOptions = {}): FunctionServiceAccount {
    return new FunctionServiceAccount({
      annotations: options?.annotations ?? {},
      podLabels: options?.podLabels ?? {},
      automountToken: options?.automountToken,
      problems: [],
    });
  }

  /** IRSA: a created ServiceAccount annotated with the IAM role the pods assume (EKS). */
  public static awsIamRole(roleArn: string, options: ServiceAccountTokenOptions = {}): FunctionServiceAccount {
    const problems =
      typeof roleArn === 'string' && ROLE_ARN.test(roleArn)
        ? []
        : [
            {
              problem: `IAM role ARN '${String(roleArn)}' is not a role ARN`,
              fix: 'Give the role ARN, e.g. arn:aws:iam::123456789012:role/orders',
            },
          ];
    return new FunctionServiceAccount({
      annotations: { [IdentityKeys.awsRoleArn]: roleArn },
      podLabels: {},
      automountToken: options?.automountToken,
      problems,
    });
  }

  /**
   * Azure Workload Identity: a created ServiceAccount annotated with the managed identity's client
   * id, and the pod label `azure.workload.identity/use: "true"` the webhook selects pods by (AKS).
   */
  public static azureWorkloadIdentity(
    clientId: string,
    options: AzureWorkloadIdentityOptions = {},
  ): FunctionServiceAccount {
    const problems: Array<{ problem: string; fix: string }> = [];
    const guid = (what: string, value: unknown) => {
      if (typeof value !== 'string' || !GUID.test(value))
        problems.push({
          problem: `Azure ${what} '${String(value)}' is not a GUID`,
          fix: `Give the ${what} of the managed identity (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`,
        });
    };
    guid('client id', clientId);
    if (options?.tenantId !== undefined) guid('tenant id', options.tenantId);
    return new FunctionServiceAccount({
      annotations: {
        [IdentityKeys.azureClientId]: clientId,
        ...(options?.tenantId !== undefined ? { [IdentityKeys.azureTenantId]: options.tenantId } : {}),
      },
      podLabels: { [IdentityKeys.azureUse]: 'true' },
      automountToken: options?.automountToken,
      problems,
    });
  }

  /** A ServiceAccount that exists in the platform namespace (kubefaas creates none). */
  public static fromName(name: string, options: ServiceAccountTokenOptions = {}): FunctionServiceAccount {
    return new FunctionServiceAccount({
      existingName: name,
      annotations: {},
      podLabels: {},
      automountToken: options?.automountToken,
      problems: [],
    });
  }

  private constructor(private readonly spec: Spec) {}

  /**
   * Checks the account against the function (`scope`, whose ServiceAccount is named `functionName`
   * when created, and whose own pod labels are `labels`) and resolves it.
   * @internal
   */
  public _resolve(
    scope: IConstruct,
    functionName: string,
    labels: Readonly<Record<string, string>>,
  ): ServiceAccountConfig {
    const s = this.spec;
    const fail = (problem: string, fix: string): never => {
      throw new ValidationError(scope, `serviceAccount: ${problem}`, fix);
    };
    for (const p of s.problems) fail(p.problem, p.fix);
    if (s.automountToken !== undefined && typeof s.automountToken !== 'boolean') {
      fail(
        `automountToken must be true or false, got ${String(s.automountToken)}`,
        'Set automountToken: true only if the function calls the Kubernetes API',
      );
    }
    const automountToken = s.automountToken === true;

    if (s.existingName !== undefined) {
      const name = s.existingName;
      if (typeof name !== 'string' || !isDns1123Subdomain(name)) {
        fail(
          `'${String(name)}' is not a valid ServiceAccount name (DNS-1123 subdomain)`,
          'Give the exact name of the ServiceAccount in the platform namespace',
        );
      }
      return { name: name as string, podLabels: {}, automountToken };
    }

    const annotations: Record<string, string> = {};
    for (const [key, value] of Object.entries(s.annotations)) {
      const slash = key.lastIndexOf('/');
      const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
      const last = slash >= 0 ? key.slice(slash + 1) : key;
      if (last.length > 63 || !ANNOTATION_NAME.test(last) || (prefix !== undefined && !isDns1123Subdomain(prefix))) {
        fail(
          `invalid annotation key '${key}'`,
          'Use an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."',
        );
      }
      if (prefix === 'kubefaas.dev')
        fail(
          `annotation '${key}' is in the kubefaas.dev/ namespace kubefaas owns`,
          'Choose an annotation outside kubefaas.dev/',
        );
      if (typeof value !== 'string')
        fail(`annotation '${key}' must be a string, got ${typeof value}`, 'Convert the value with String(...)');
      annotations[key] = value as string;
    }
    const podLabels = validateLabels(scope, s.podLabels as Record<string, string>);
    for (const [key, value] of Object.entries(podLabels)) {
      if (key in labels && labels[key] !== value) {
        fail(
          `the identity needs pod label ${key}: "${value}", but the function's labels set it to "${labels[key]}"`,
          `Remove ${key} from the function's labels (the serviceAccount sets it)`,
        );
      }
    }
    return { name: functionName, create: { annotations }, podLabels, automountToken };
  }
}
