import { App, Chart, Testing } from 'cdk8s';
import { Code, Platform, PlatformProps } from '../../constructs';
import { expectValidManifests, ValidateOptions } from '../support/validate';

export type K8sObject = Record<string, any>;

/** A small inline handler; the same text everywhere so the transform cache is shared. */
export const INLINE = Code.fromInline('module.exports = async () => "ok";');

export function newPlatform(props: PlatformProps = {}, app: App = Testing.app()): Platform {
  return new Platform(app, 'platform', props);
}

export function synth(chart: Chart): K8sObject[] {
  return Testing.synth(chart) as K8sObject[];
}

/** The one object of `kind` named `name`; fails with the list of what exists otherwise. */
export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const matches = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (matches.length !== 1) {
    const have = objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ');
    throw new Error(`expected exactly one ${kind}/${name}, found ${matches.length} among: ${have}`);
  }
  return matches[0];
}

export function maybeFind(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata?.name === name);
}

export function kinds(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata?.name}`).sort();
}

export function container(deployment: K8sObject): K8sObject {
  return deployment.spec.template.spec.containers[0];
}

export function envOf(deployment: K8sObject): K8sObject[] {
  return container(deployment).env ?? [];
}

/** Schema, semantic and pod-security validation of everything a test app synthesized. */
export async function expectValid(objects: readonly K8sObject[], options: ValidateOptions = {}): Promise<void> {
  await expectValidManifests(objects, options);
}

/** Runs `fn` and returns the error it throws (fails if it does not throw). */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, none was thrown');
}

/**
 * The code ConfigMap of `codeOf` (a function name, or kubefaas-runtime / -router / -cron): found by
 * its `kubefaas.dev/code-of` label, and checked to be content-named (`<base>-<10 hex>`) and immutable.
 */
export function codeMap(objects: readonly K8sObject[], codeOf: string): K8sObject {
  const matches = objects.filter(
    (o) => o.kind === 'ConfigMap' && o.metadata?.labels?.['kubefaas.dev/code-of'] === codeOf,
  );
  if (matches.length !== 1)
    throw new Error(`expected exactly one code ConfigMap of ${codeOf}, found ${matches.length}`);
  const cm = matches[0];
  const base = codeOf.startsWith('kubefaas-') ? codeOf : `${codeOf}-code`;
  expect(cm.metadata.name).toMatch(new RegExp(`^${base}-[0-9a-f]{10}$`));
  expect(cm.immutable).toBe(true);
  return cm;
}
