/**
 * Schema check for the ACK EKS `FargateProfile` custom resource, which no @kubernetes-models
 * package covers. The schema is the CRD's openAPIV3Schema (aws-controllers-k8s/eks-controller
 * `config/crd/bases/eks.services.k8s.aws_fargateprofiles.yaml`, v1alpha1), reduced to the structure
 * and restated here; the validator understands the subset of OpenAPI that CRD uses (type,
 * properties, required, items, additionalProperties) and rejects unknown fields, which the API
 * server would silently prune.
 */

export interface JsonSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly properties?: { readonly [name: string]: JsonSchema };
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema;
  /** Free-form object (metadata is checked by the Kubernetes schema checks, not here). */
  readonly preserveUnknownFields?: boolean;
}

const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

export const ACK_FARGATE_PROFILE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', preserveUnknownFields: true },
    spec: {
      type: 'object',
      required: ['name', 'podExecutionRoleARN'],
      properties: {
        clientRequestToken: { type: 'string' },
        clusterName: { type: 'string' },
        clusterRef: {
          type: 'object',
          properties: { from: { type: 'object', properties: { name: { type: 'string' } } } },
        },
        name: { type: 'string' },
        podExecutionRoleARN: { type: 'string' },
        selectors: {
          type: 'array',
          items: { type: 'object', properties: { labels: stringMap, namespace: { type: 'string' } } },
        },
        subnets: { type: 'array', items: { type: 'string' } },
        tags: stringMap,
      },
    },
    status: { type: 'object', preserveUnknownFields: true },
  },
};

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Problems of `value` against `schema`, each naming the JSON path (empty when valid). */
export function checkAgainstSchema(value: unknown, schema: JsonSchema, path = ''): string[] {
  const actual = typeOf(value);
  if (schema.type && !(actual === schema.type || (schema.type === 'number' && actual === 'integer'))) {
    return [`${path || '<root>'}: expected ${schema.type}, got ${actual}`];
  }
  const problems: string[] = [];
  if (schema.type === 'object' && !schema.preserveUnknownFields) {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (record[name] === undefined) problems.push(`${path}.${name}: required`);
    }
    for (const [name, field] of Object.entries(record)) {
      const fieldSchema = schema.properties?.[name] ?? schema.additionalProperties;
      if (!fieldSchema) problems.push(`${path}.${name}: unknown field`);
      else problems.push(...checkAgainstSchema(field, fieldSchema, `${path}.${name}`));
    }
  }
  if (schema.type === 'array' && schema.items) {
    (value as unknown[]).forEach((item, i) =>
      problems.push(...checkAgainstSchema(item, schema.items as JsonSchema, `${path}[${i}]`)),
    );
  }
  return problems;
}

/** Problems of an ACK FargateProfile object (apiVersion/kind included). */
export function checkAckFargateProfile(object: Record<string, unknown>): string[] {
  const problems = checkAgainstSchema(object, ACK_FARGATE_PROFILE_SCHEMA);
  if (object.apiVersion !== 'eks.services.k8s.aws/v1alpha1')
    problems.push(`apiVersion: expected eks.services.k8s.aws/v1alpha1, got ${String(object.apiVersion)}`);
  if (object.kind !== 'FargateProfile') problems.push(`kind: expected FargateProfile, got ${String(object.kind)}`);
  return problems;
}
