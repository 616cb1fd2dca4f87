/**
 * Pulumi mocks that record what the engine would receive for every resource: the inputs (as the
 * mocks see them, secrets still wrapped), and from the registration request itself the parent,
 * the dependencies (dependsOn), the provider and `additionalSecretOutputs`.
 *
 * setMocks is process-global, and jest gives every test file its own module registry, so each
 * test file installs these once.
 */
import * as pulumi from '@pulumi/pulumi';

export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly inputs: Record<string, any>;
  readonly parent: string;
  readonly provider: string;
  readonly dependencies: readonly string[];
  readonly additionalSecretOutputs: readonly string[];
}

export interface Recorder {
  readonly resources: RegisteredResource[];
  /** Forget everything recorded so far (between tests of one file). */
  reset(): void;
  find(type: string, nameSuffix: string): RegisteredResource;
  byUrn(urn: string): RegisteredResource;
}

/** Pulumi's marker for a secret value in serialized properties. */
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
const SIG_KEY = '4dabf18193072939515e22adb298388d';

export function isSecretValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function installRecordingMocks(
  state: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> = (a) => a.inputs,
  stack = 'test',
): Recorder {
  const inputsByTypeName = new Map<string, Record<string, any>>();
  const resources: RegisteredResource[] = [];
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        inputsByTypeName.set(`${args.type}::${args.name}`, args.inputs);
        return { id: `${args.name}-id`, state: state(args) };
      },
      call(args) {
        return args.inputs;
      },
    },
    'kubefaas',
    stack,
    false,
  );

  // Wrap the mock monitor to see the registration request the engine would get.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, res: any) => void) => {
    register(req, (err: unknown, res: any) => {
      if (!err && res) {
        const key = `${req.getType()}::${req.getName()}`;
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: inputsByTypeName.get(key) ?? {},
          parent: req.getParent(),
          provider: req.getProvider(),
          dependencies: req.getDependenciesList(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        });
      }
      callback(err, res);
    });
  };

  return {
    resources,
    reset() {
      resources.length = 0;
      inputsByTypeName.clear();
    },
    find(type, nameSuffix) {
      const found = resources.filter((r) => r.type === type && r.name.endsWith(nameSuffix));
      if (found.length !== 1) throw new Error(`expected one ${type} named *${nameSuffix}, found ${found.length}`);
      return found[0];
    },
    byUrn(urn) {
      const found = resources.find((r) => r.urn === urn);
      if (!found) throw new Error(`no resource with urn ${urn}`);
      return found;
    },
  };
}

/** Resolves once every child of the component (and the component) has been registered. */
export async function settled(component: {
  urn: pulumi.Output<string>;
  resources: readonly pulumi.Resource[];
}): Promise<void> {
  await Promise.all([component.urn, ...component.resources.map((r) => r.urn)].map(outputValue));
}

/** The value of an Output (for tests; Outputs have no public await). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** The value with every secret wrapper replaced by its plaintext (to compare with synthesized YAML). */
export function revealSecrets(value: any): any {
  if (isSecretValue(value)) return revealSecrets(value.value);
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}
