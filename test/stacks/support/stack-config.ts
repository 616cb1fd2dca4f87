import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

const ROOT = path.join(__dirname, '..', '..', '..');

/**
 * The config of `Pulumi.<stack>.yaml` as the Pulumi CLI hands it to a program: every value a
 * string, structured values as JSON.
 */
export function stackConfig(stack: string): Record<string, string> {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as {
    config?: Record<string, unknown>;
  };
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.config ?? {})) {
    config[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return config;
}

/** Replaces the program's whole configuration (what `pulumi up` on that stack would pass). */
export function useConfig(config: Record<string, string>, secretKeys: string[] = []): void {
  pulumi.runtime.setAllConfig(config, secretKeys);
}
