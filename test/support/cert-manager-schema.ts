/**
 * Schema check for the cert-manager `Certificate` (cert-manager.io/v1), which no installed
 * @kubernetes-models package covers. Restated from the CRD's openAPIV3Schema
 * (cert-manager/cert-manager `deploy/crds/cert-manager.io_certificates.yaml`, v1), reduced to the
 * fields' structure and types; unknown fields are refused (the API server would prune them), and
 * the CRD's own rules are checked: secretName and issuerRef.name are required, and at least one
 * identity (dnsNames, commonName, ipAddresses, uris, emailAddresses, otherNames, literalSubject).
 */
import { JsonSchema, checkAgainstSchema } from './ack-schema';

const str: JsonSchema = { type: 'string' };
const strings: JsonSchema = { type: 'array', items: str };
const stringMap: JsonSchema = { type: 'object', additionalProperties: str };

export const CERTIFICATE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: str,
    kind: str,
    metadata: { type: 'object', preserveUnknownFields: true },
    spec: {
      type: 'object',
      required: ['secretName', 'issuerRef'],
      properties: {
        secretName: str,
        issuerRef: {
          type: 'object',
          required: ['name'],
          properties: { name: str, kind: str, group: str },
        },
        dnsNames: strings,
        commonName: str,
        ipAddresses: strings,
        uris: strings,
        emailAddresses: strings,
        literalSubject: str,
        otherNames: { type: 'array', items: { type: 'object', properties: { oid: str, utf8Value: str } } },
        duration: str,
        renewBefore: str,
        renewBeforePercentage: { type: 'integer' },
        revisionHistoryLimit: { type: 'integer' },
        isCA: { type: 'boolean' },
        usages: strings,
        encodeUsagesInRequest: { type: 'boolean' },
        signatureAlgorithm: str,
        privateKey: {
          type: 'object',
          properties: { algorithm: str, encoding: str, size: { type: 'integer' }, rotationPolicy: str },
        },
        secretTemplate: { type: 'object', properties: { annotations: stringMap, labels: stringMap } },
        subject: {
          type: 'object',
          properties: {
            countries: strings,
            localities: strings,
            organizationalUnits: strings,
            organizations: strings,
            postalCodes: strings,
            provinces: strings,
            serialNumber: str,
            streetAddresses: strings,
          },
        },
        keystores: { type: 'object', preserveUnknownFields: true },
        additionalOutputFormats: { type: 'array', items: { type: 'object', properties: { type: str } } },
        nameConstraints: { type: 'object', preserveUnknownFields: true },
      },
    },
    status: { type: 'object', preserveUnknownFields: true },
  },
};

const ENUMS: ReadonlyArray<[(spec: Record<string, any>) => unknown, string, readonly string[]]> = [
  [(s) => s.issuerRef?.kind, 'spec.issuerRef.kind', ['Issuer', 'ClusterIssuer']],
  [(s) => s.privateKey?.algorithm, 'spec.privateKey.algorithm', ['RSA', 'ECDSA', 'Ed25519']],
  [(s) => s.privateKey?.encoding, 'spec.privateKey.encoding', ['PKCS1', 'PKCS8']],
  [(s) => s.privateKey?.rotationPolicy, 'spec.privateKey.rotationPolicy', ['Never', 'Always']],
];

/** Problems of a cert-manager Certificate object. */
export function checkCertManagerCertificate(object: Record<string, any>): string[] {
  const problems = checkAgainstSchema(object, CERTIFICATE_SCHEMA);
  if (object.apiVersion !== 'cert-manager.io/v1')
    problems.push(`apiVersion: expected cert-manager.io/v1, got ${String(object.apiVersion)}`);
  const spec = object.spec ?? {};
  for (const [read, where, allowed] of ENUMS) {
    const value = read(spec);
    if (value !== undefined && !allowed.includes(String(value)))
      problems.push(`${where}: must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  const identities = [
    'dnsNames',
    'commonName',
    'ipAddresses',
    'uris',
    'emailAddresses',
    'otherNames',
    'literalSubject',
  ];
  if (!identities.some((k) => spec[k] !== undefined && !(Array.isArray(spec[k]) && spec[k].length === 0)))
    problems.push(`spec: at least one of ${identities.join(', ')} is required`);
  return problems;
}
