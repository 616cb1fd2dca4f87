import { isIP } from 'node:net';
import { Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { Paths, PythonPaths } from '../src/contract';
import { EnvInput, EnvVarSource, toEnvValue } from './env';
import { ValidationError } from './errors';
import { Egress, egressList } from './network/egress';
import { NetworkPort } from './network/ports';
import { restrictedContainerSecurity } from './pod-security';
import { readRequirements, REQUIREMENTS_FILE } from './python-requirements';
import { bytesQuantity, cpuMillis, sizeBytes } from './validation';

/** Options of `PythonDependencies.installAtStart`. */
export interface InstallAtStartOptions {
  /**
   * The package index (`PIP_INDEX_URL`): an https URL, or `EnvValue.fromSecret(name, key)` for a URL
   * carrying credentials (then give `egress`: the host is not known at synth). Credentials in a
   * plain string are refused: they would be stored in the manifests.
   * @default - pip's default, https://pypi.org/simple
   */
  readonly indexUrl?: EnvInput;
  /**
   * More indexes (`PIP_EXTRA_INDEX_URL`). pip picks the best version across all indexes, so a
   * private package name that also exists on a public index can be shadowed: prefer one index, or
   * hash-pinned requirements.
   * @default - none
   */
  readonly extraIndexUrls?: readonly string[];
  /**
   * Pages or directory listings with links to wheels (`PIP_FIND_LINKS`), http(s) URLs.
   * @default - none
   */
  readonly findLinks?: readonly string[];
  /**
   * Use only `findLinks` (and URLs in requirements.txt), no index (`PIP_NO_INDEX`).
   * @default false
   */
  readonly noIndex?: boolean;
  /**
   * Where the pods may connect for the install. NetworkPolicies cannot name hosts, so by default the
   * rule is `Egress.internet()` on the ports of the URLs (443 for PyPI), or `Egress.cidr` for an IP
   * address; an index inside the cluster or on private addresses needs this, e.g.
   * `Egress.namespace('pypi-mirror', { ports: [NetworkPort.tcp(3141)] })`. The rule is the pod's, so
   * the function container may reach the index too.
   * @default - derived from the URLs, as above
   */
  readonly egress?: Egress | readonly Egress[];
  /**
   * CPU request of the init container.
   * @default Cpu.millis(250)
   */
  readonly cpu?: Cpu;
  /**
   * Memory request and limit of the init container (pip's resolver and the unpacking).
   * @default Size.mebibytes(256)
   */
  readonly memory?: Size;
  /**
   * Size limit of the emptyDir the packages are installed into (ephemeral storage of the node).
   * @default Size.gibibytes(1)
   */
  readonly size?: Size;
}

/**
 * How a PythonFunction gets the packages of its `requirements.txt`:
 * - `bundled()` (the default): resolved into wheels at synth and shipped in the code ConfigMap, so the
 *   pods need no index and start as fast as without dependencies; limited by the ConfigMap's 1 MiB.
 * - `installAtStart()`: an init container runs `pip install --target` from the index each time a pod
 *   starts: no size limit, but every cold start waits for the install and the pods need egress to
 *   the index.
 */
export class PythonDependencies {
  /** Wheels resolved at synth and shipped beside the code (docs/python.md, Dependencies). */
  public static bundled(): PythonDependencies {
    return new PythonDependencies(undefined);
  }

  /** `pip install` in an init container at every pod start (docs/python.md, Installing at start). */
  public static installAtStart(options: InstallAtStartOptions = {}): PythonDependencies {
    return new PythonDependencies(options ?? {});
  }

  private constructor(
    /** @internal Undefined for bundled. */
    public readonly _install: InstallAtStartOptions | undefined,
  ) {}

  /** Whether the wheels are resolved at synth and shipped in the code ConfigMap. */
  public get bundled(): boolean {
    return this._install === undefined;
  }
}

/** What an install at start adds to a PythonFunction's pods. */
export interface InstallAtStartPod {
  readonly initContainer: Record<string, unknown>;
  /** Volume only the init container mounts (requirements.txt and its includes). */
  readonly requirementsVolume: Record<string, unknown>;
  /** The emptyDir the packages go into, mounted read-only in the function container. */
  readonly depsVolume: {
    readonly volume: string;
    readonly source: Record<string, unknown>;
    readonly mountPath: string;
  };
  /** Env of the function container. */
  readonly env: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly egress: readonly Egress[];
}

const DEFAULT_INDEX = 'https://pypi.org/simple';
const DEPS_VOLUME = 'python-deps';
const REQUIREMENTS_VOLUME = 'requirements';

/**
 * The init container and volumes of an install at start. `files` are the code's files (requirements.txt
 * must be one); `codeConfigMap` is the code ConfigMap they are in; `image` the function's.
 */
export function installAtStartPod(
  scope: IConstruct,
  options: InstallAtStartOptions,
  files: ReadonlyMap<string, Buffer>,
  codeConfigMap: string,
  image: string,
): InstallAtStartPod {
  if (!files.has(REQUIREMENTS_FILE)) {
    throw new ValidationError(
      scope,
      `dependencies: PythonDependencies.installAtStart() needs a ${REQUIREMENTS_FILE} in the code, which has ${[...files.keys()].join(', ')}`,
      `Add ${REQUIREMENTS_FILE} beside the handler (Code.fromAsset of a directory), or leave \`dependencies\` unset`,
    );
  }
  const requirements = readRequirements(scope, files, REQUIREMENTS_FILE);
  const cpu = cpuMillis(scope, 'installAtStart cpu', options.cpu ?? Cpu.millis(250), 10, 64_000);
  const memory = sizeBytes(
    scope,
    'installAtStart memory',
    options.memory ?? Size.mebibytes(256),
    64 * 1024 * 1024,
    64 * 1024 ** 3,
  );
  const size = sizeBytes(scope, 'installAtStart size', options.size ?? Size.gibibytes(1), 16 * 1024 * 1024, 1024 ** 4);
  const extra = urlList(scope, 'extraIndexUrls', options.extraIndexUrls);
  const findLinks = urlList(scope, 'findLinks', options.findLinks);
  const indexUrl =
    options.indexUrl === undefined ? undefined : toEnvValue(scope, 'indexUrl', options.indexUrl).bind(scope);
  const literalIndex = indexUrl !== undefined && 'value' in indexUrl ? indexUrl.value : undefined;
  if (literalIndex !== undefined) checkUrl(scope, 'indexUrl', literalIndex);
  const noIndex = options.noIndex === true;
  if (noIndex && findLinks.length === 0 && !requirements.urls.length) {
    throw new ValidationError(
      scope,
      'installAtStart({ noIndex: true }) leaves pip nowhere to find packages',
      'Give findLinks (URLs of pages listing the wheels), or drop noIndex',
    );
  }

  const env: { name: string; [k: string]: unknown }[] = [
    // pip writes its build and temporary files under $HOME and $TMPDIR: /tmp, the pod's emptyDir.
    { name: 'HOME', value: Paths.tmpDir },
    { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
    ...(indexUrl !== undefined ? [{ name: 'PIP_INDEX_URL', ...(indexUrl as EnvVarSource) }] : []),
    ...(extra.length ? [{ name: 'PIP_EXTRA_INDEX_URL', value: extra.join(' ') }] : []),
    ...(findLinks.length ? [{ name: 'PIP_FIND_LINKS', value: findLinks.join(' ') }] : []),
    ...(noIndex ? [{ name: 'PIP_NO_INDEX', value: '1' }] : []),
  ];
  const initContainer = {
    name: PythonPaths.installContainer,
    image,
    imagePullPolicy: 'IfNotPresent',
    command: [
      'python3',
      '-m',
      'pip',
      'install',
      '--target',
      PythonPaths.installDir,
      '--requirement',
      `${PythonPaths.requirementsDir}/${REQUIREMENTS_FILE}`,
      // As at synth: wheels only, nothing is built (the slim image has no compiler, and a build would
      // run the package's setup code at every pod start).
      '--only-binary=:all:',
      ...(requirements.hashPinned ? ['--require-hashes'] : []),
      '--no-cache-dir',
      '--disable-pip-version-check',
      '--no-input',
      '--progress-bar',
      'off',
    ],
    env,
    resources: {
      requests: { cpu: `${cpu}m`, memory: bytesQuantity(memory) },
      limits: { memory: bytesQuantity(memory) },
    },
    securityContext: restrictedContainerSecurity(),
    volumeMounts: [
      { name: REQUIREMENTS_VOLUME, mountPath: PythonPaths.requirementsDir, readOnly: true },
      { name: DEPS_VOLUME, mountPath: PythonPaths.installDir },
      { name: 'tmp', mountPath: Paths.tmpDir },
    ],
  };

  let egress: Egress[];
  if (options.egress !== undefined) {
    egress = egressList(scope, 'installAtStart egress', options.egress);
  } else {
    if (indexUrl !== undefined && literalIndex === undefined) {
      throw new ValidationError(
        scope,
        'installAtStart: the index URL comes from a Secret, so synth cannot tell which host the pods must reach',
        "Give installAtStart({ egress: ... }) too, e.g. Egress.internet({ ports: [NetworkPort.tcp(443)] }) or Egress.cidr('203.0.113.0/24', ...)",
      );
    }
    const urls = [
      ...(noIndex ? [] : [literalIndex ?? DEFAULT_INDEX, ...extra]),
      ...findLinks,
      ...requirements.urls.filter((u) => /^https?:/i.test(u)),
    ];
    egress = egressFor(scope, urls);
  }

  return {
    initContainer,
    requirementsVolume: {
      name: REQUIREMENTS_VOLUME,
      configMap: { name: codeConfigMap, items: requirements.files.map((f) => ({ key: f, path: f })) },
    },
    depsVolume: {
      volume: DEPS_VOLUME,
      source: { emptyDir: { sizeLimit: bytesQuantity(size) } },
      mountPath: PythonPaths.installDir,
    },
    env: [{ name: 'PYTHONPATH', value: PythonPaths.installDir }],
    egress,
  };
}

function urlList(scope: IConstruct, what: string, value: readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new ValidationError(
      scope,
      `installAtStart ${what} must be an array of URLs`,
      `Pass e.g. ${what}: ['https://…']`,
    );
  return value.map((url) => checkUrl(scope, what, url));
}

function checkUrl(scope: IConstruct, what: string, url: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new ValidationError(
      scope,
      `installAtStart ${what}: '${String(url)}' is not an http(s) URL`,
      'The install runs in the pod, which reaches indexes over the network: give https URLs (a local wheel directory works for the synth-time default, PythonDependencies.bundled(), through PIP_FIND_LINKS)',
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ValidationError(
      scope,
      `installAtStart ${what}: the URL carries credentials, which would be stored in the manifests in plain text`,
      "Put the URL in a Secret and pass indexUrl: EnvValue.fromSecret('<secret>', '<key>') with an `egress` rule",
    );
  }
  return url as string;
}

/** One egress rule per kind of destination: the public internet on the URLs' ports, and each IP literal. */
function egressFor(scope: IConstruct, urls: readonly string[]): Egress[] {
  const publicPorts = new Set<number>();
  const addresses = new Map<string, Set<number>>();
  for (const url of urls) {
    const parsed = new URL(url);
    const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) {
      const cidr = `${host}/${isIP(host) === 4 ? 32 : 128}`;
      addresses.set(cidr, (addresses.get(cidr) ?? new Set()).add(port));
      continue;
    }
    if (!host.includes('.') || /\.svc(\.|$)|\.local$|\.internal$/i.test(host)) {
      throw new ValidationError(
        scope,
        `installAtStart: the index host '${host}' looks like it is inside the cluster or a private network, which Egress.internet() leaves out (NetworkPolicies cannot name hosts)`,
        `Give installAtStart({ egress: ... }) for it, e.g. Egress.namespace('<its namespace>', { ports: [NetworkPort.tcp(${port})] }) or Egress.cidr('<its range>', ...)`,
      );
    }
    publicPorts.add(port);
  }
  const tcp = (ports: Set<number>) => [...ports].sort((a, b) => a - b).map((p) => NetworkPort.tcp(p));
  return [
    ...(publicPorts.size > 0 ? [Egress.internet({ ports: tcp(publicPorts) })] : []),
    ...[...addresses].map(([cidr, ports]) => Egress.cidr(cidr, { ports: tcp(ports) })),
  ];
}
