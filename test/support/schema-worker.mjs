// Schema validation of Kubernetes objects against the kubernetes-models packages, in a worker thread.
//
// Why a worker: kubernetes-models and @kubernetes-models/* are ESM-only (their package "exports" have
// only an "import" condition). Under jest with the @swc/jest transform, test code is CommonJS run in a
// vm context: `await import('kubernetes-models/apps/v1')` is compiled to require() and fails to resolve,
// `new Function('s', 'return import(s)')` fails with "A dynamic import callback was invoked without
// --experimental-vm-modules", and createRequire() of the file path hits jest's own require, which cannot
// load ES modules. A worker thread runs in plain Node, outside jest's module system, so a real import()
// works there, under jest, tsx and node alike, without changing how jest is started.
//
// Protocol: workerData = { sources: SchemaSource[] } (see schema-sources.ts);
// request { id, objects, options: { crds } } -> reply { id, results: Array<{ index, messages: string[] }> }
// or { id, error } when the request itself could not be handled.

import { parentPort, workerData } from 'node:worker_threads';

/** @type {ReadonlyArray<{ group: string, module: string, crd: boolean }>} */
const sources = workerData.sources;
/** @type {Map<string, Promise<Record<string, unknown> | undefined>>} module specifier -> module (undefined: missing) */
const modules = new Map();

function splitApiVersion(apiVersion) {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function loadModule(specifier) {
  let loaded = modules.get(specifier);
  if (!loaded) {
    loaded = import(specifier).catch((err) => {
      // A version the package does not ship is "unknown", not a crash; anything else is a real failure.
      if (err && (err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || err.code === 'ERR_MODULE_NOT_FOUND'))
        return undefined;
      throw err;
    });
    modules.set(specifier, loaded);
  }
  return loaded;
}

/** The model class for apiVersion/kind, or a string saying why there is none. */
async function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !apiVersion || !kind) {
    return { reason: 'has no apiVersion/kind' };
  }
  const { group, version } = splitApiVersion(apiVersion);
  const source = sources.find((s) => s.group === group);
  if (!source) return { reason: `unknown kind ${kind} (${apiVersion}): no schema for API group "${group}"` };
  if (!/^v\d+((alpha|beta)\d+)?$/.test(version))
    return { reason: `unknown kind ${kind}: malformed apiVersion "${apiVersion}"` };
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) return { reason: `unknown kind "${kind}"` };
  // One module per kind rather than the version's index: the core v1 index pulls in ~250 schemas.
  const mod = await loadModule(`${source.module.replace('{version}', version)}/${kind}`);
  const cls = mod && Object.prototype.hasOwnProperty.call(mod, kind) ? mod[kind] : undefined;
  // Index modules also export nested types (Container, PodSpec...): only top-level models carry apiVersion/kind.
  if (typeof cls !== 'function' || cls.kind !== kind || cls.apiVersion !== apiVersion) {
    return {
      reason: `unknown kind ${kind} (${apiVersion}): not in the ${source.module.replace('{version}', version)} schemas`,
    };
  }
  return { cls, crd: source.crd };
}

/** JSON-pointer segment escaping, the way AJV writes instancePath. */
function escapeSegment(key) {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `/spec/template/spec/containers/0/image` -> `spec.template.spec.containers[0].image` */
function readablePath(pointer) {
  if (!pointer) return '(object)';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function schemaErrors(cls, data) {
  try {
    new cls(data).validate();
    return [];
  } catch (err) {
    if (err && Array.isArray(err.errors)) return err.errors;
    throw err;
  }
}

function describeError(err) {
  const where = readablePath(err.instancePath);
  if (err.keyword === 'required') return `${where}: missing required field "${err.params.missingProperty}"`;
  if (err.keyword === 'enum') return `${where}: ${err.message} (${err.params.allowedValues.join(', ')})`;
  return `${where}: ${err.message ?? err.keyword}`;
}

/** Drops the noise AJV adds around nullable refs and one-of alternatives when a precise error exists. */
function meaningfulErrors(errors) {
  const precise = errors.filter(
    (e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && !(e.keyword === 'type' && e.params.type === 'null'),
  );
  return precise.length > 0 ? precise : errors;
}

// A value no schema type accepts (not a string, number, boolean, object, array or null), so every
// property the schema knows reports an error at its own path or below.
function POISON() {}

/**
 * Replaces every leaf (and every empty object/array) of a JSON value with POISON, and records the
 * JSON pointer of every object property on the way, with the pointer of the nearest enclosing
 * property (`owner`, '' at the top).
 */
function poison(value, pointer, owner, keyPaths) {
  if (Array.isArray(value)) {
    if (value.length === 0) return POISON;
    return value.map((item, i) => poison(item, `${pointer}/${i}`, owner, keyPaths));
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return POISON;
    const out = {};
    for (const key of keys) {
      const path = `${pointer}/${escapeSegment(key)}`;
      keyPaths.push({ path, owner });
      // defineProperty: a "__proto__" key must stay a plain property, as JSON.parse made it.
      Object.defineProperty(out, key, {
        value: poison(value[key], path, path, keyPaths),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return POISON;
}

/**
 * Fields the schema does not define. The models accept unknown properties (their schemas leave
 * additionalProperties open), so a misspelled `imagePullPolicyy` would pass silently. Validating a
 * poisoned copy makes the schema itself tell which properties it knows: a known property always
 * produces an error at or below its own path; an unknown one never does. Maps (labels, data,
 * resources.requests) are schema'd with additionalProperties, so their keys count as known.
 * Limitation: a property typed "anything" (x-kubernetes-preserve-unknown-fields without a type)
 * also accepts POISON, so it reads as unknown; none of the kinds we synthesize have one.
 */
function unknownFields(cls, data) {
  const keyPaths = [];
  const poisoned = poison(data, '', '', keyPaths);
  const touched = new Set();
  for (const err of schemaErrors(cls, poisoned)) {
    // Every prefix of an error path is a property the schema walked into.
    let p = err.instancePath;
    while (p && !touched.has(p)) {
      touched.add(p);
      p = p.slice(0, p.lastIndexOf('/'));
    }
  }
  const unknown = [];
  for (const { path, owner } of keyPaths) {
    if (touched.has(path)) continue;
    // Report the outermost unknown property only, not everything under it.
    if (owner && !touched.has(owner)) continue;
    unknown.push(
      `${readablePath(path)}: unknown field "${path
        .slice(path.lastIndexOf('/') + 1)
        .replace(/~1/g, '/')
        .replace(/~0/g, '~')}"`,
    );
  }
  return unknown;
}

async function validateOne(obj, options) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return ['is not an object'];
  const found = await modelClass(obj.apiVersion, obj.kind);
  if (found.reason) return [found.reason];
  if (found.crd && options.crds === false) return [];
  const messages = meaningfulErrors(schemaErrors(found.cls, obj)).map(describeError);
  return messages.concat(unknownFields(found.cls, obj));
}

parentPort.on('message', async ({ id, objects, options }) => {
  try {
    const results = [];
    for (let index = 0; index < objects.length; index++) {
      const messages = await validateOne(objects[index], options ?? {});
      if (messages.length > 0) results.push({ index, messages });
    }
    parentPort.postMessage({ id, results });
  } catch (err) {
    parentPort.postMessage({ id, error: err && err.stack ? err.stack : String(err) });
  }
});
