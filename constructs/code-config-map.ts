import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { Labels } from '../src/contract';
import { objectMeta } from './metadata';

/**
 * A ConfigMap that carries code (a function bundle, the runtime, router or cron sender), named
 * after its content: `<base>-<hash>`, `immutable: true`.
 *
 * Why: with a fixed-name, mutable ConfigMap, `kubectl rollout undo` restores the pod template but
 * not the code it ran, and an old pod that restarts mounts the new code. With a content-hashed name
 * the pod template names the exact code, so every ReplicaSet revision keeps pointing at its own
 * version, and the kubelet can stop watching an immutable ConfigMap. New code is a new object: the
 * old one is not overwritten, and `kubectl apply` (without `--prune`) leaves it in place; the
 * `kubefaas.dev/code-of` label lets a cleanup keep the last N (docs/architecture.md, "Code history").
 */
export interface CodeConfigMapProps {
  /** Name without the hash: `<fn>-code`, `kubefaas-runtime`, … */
  readonly baseName: string;
  readonly namespace: string;
  /** Value of the `kubefaas.dev/code-of` label: the function name, or `kubefaas-<component>`. */
  readonly codeOf: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The files: key → text (a bundle is one file; the Python runtime and packages are several). */
  readonly data: Readonly<Record<string, string>>;
  /** Binary files (base64), e.g. compiled Python wheels. @default - none */
  readonly binaryData?: Readonly<Record<string, string>>;
  /** sha256 (hex) of the content: the name's suffix. */
  readonly sha256: string;
}

/** Hex digits of the content hash in the name: 40 bits, no accidental collision in a namespace's history. */
export const CODE_HASH_NAME_DIGITS = 10;

/** `<base>-<first 10 hex digits of sha256>`. */
export function codeConfigMapName(baseName: string, sha256: string): string {
  return `${baseName}-${sha256.slice(0, CODE_HASH_NAME_DIGITS)}`;
}

export class CodeConfigMap extends ApiObject {
  /** The hashed name the pod templates mount. */
  public readonly configMapName: string;

  constructor(scope: Construct, id: string, props: CodeConfigMapProps) {
    const name = codeConfigMapName(props.baseName, props.sha256);
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: objectMeta(name, props.namespace, { ...props.labels, [Labels.codeOf]: props.codeOf }),
      immutable: true,
      data: { ...props.data },
      ...(props.binaryData && Object.keys(props.binaryData).length > 0 ? { binaryData: { ...props.binaryData } } : {}),
    });
    this.configMapName = name;
  }
}
