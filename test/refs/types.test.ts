/**
 * Type tests of `kubefaas/refs` (issue 16): snippets a user would write, compiled by the TypeScript
 * checker with the repository's settings. The valid ones must compile without a diagnostic (with
 * type-equality assertions on what the compiler infers); each invalid one must fail, on the line
 * and for the reason it is about. No library needed: the checker is the test.
 */
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');
const dir = path.join(root, 'test', 'refs', '__virtual__');

/** Shared by every snippet: the model of the example. */
const MODEL = `
import { defineHandler, fn, topic, http, cron, InvokeError } from 'kubefaas/refs';
import type { FunctionContext } from 'kubefaas/refs';
export interface Reading { city: string; tempF: number }
export interface Celsius { city: string; tempC: number }
export const rawReadings = topic<Reading>('weather.raw');
export const celsius = topic<Celsius>('weather.celsius');
export const pricer = fn<{ sku: string }, { price: number }>('pricer');
export const ping = fn<void, 'pong'>('ping');
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export function assertType<T extends true>(): void {}
declare const ctx: FunctionContext;
declare const aCelsius: Celsius;
declare const aReading: Reading;
void defineHandler; void http; void cron; void InvokeError; void ctx; void aCelsius; void aReading;
`;

const VALID = `${MODEL}
// A handler on rawReadings receives a Reading.
export const toCelsius = defineHandler(rawReadings, async (reading, context, event) => {
  assertType<Equal<typeof reading, Reading>>();
  void event.id;
  await context.publish(celsius, { city: reading.city, tempC: ((reading.tempF - 32) * 5) / 9 });
  // invoke's result type is the reference's Out.
  const quoted = context.invoke(pricer, { sku: 'x' });
  assertType<Equal<typeof quoted, Promise<{ price: number }>>>();
  const { price } = await quoted;
  assertType<Equal<typeof price, number>>();
  // A function without input: the input may be left out.
  const pong = await context.invoke(ping);
  assertType<Equal<typeof pong, 'pong'>>();
  // invokeAsync resolves with the call id.
  const callId = context.invokeAsync(pricer, { sku: 'y' });
  assertType<Equal<typeof callId, Promise<string>>>();
  // Strings keep working (untyped).
  await context.publish('weather.raw', { anything: true });
  const untyped = await context.invoke('pricer', { sku: 1 });
  assertType<Equal<typeof untyped, unknown>>();
});
// A function reference types its input and its answer.
export const price = defineHandler(pricer, (input, _context, event) => {
  assertType<Equal<typeof input, { sku: string }>>();
  void event.callId;
  return { price: input.sku.length };
});
export const pinged = defineHandler(ping, async () => 'pong' as const);
export const ticked = defineHandler(cron<{ report: string }>(), (tick) => {
  assertType<Equal<typeof tick.data, { report: string } | undefined>>();
  return tick.firedAt;
});
export const served = defineHandler(http(), (event) => event.text());
export function isPricingFailure(err: unknown): number | undefined {
  return err instanceof InvokeError ? err.status : undefined;
}
`;

/** The platform side: the same references in constructs. */
const PLATFORM = `
import { App } from 'cdk8s';
import { Code, NodeFunction, Platform, Queue, QueueTrigger } from 'kubefaas';
import { celsius, pricer, rawReadings } from './valid';
const platform = new Platform(new App(), 'faas', { queue: Queue.nats() });
new NodeFunction(platform, 'to-celsius', {
  code: Code.fromInline('module.exports = () => undefined'),
  triggers: [new QueueTrigger({ topic: rawReadings, responseTopic: celsius })],
  publishes: [celsius, 'audit'],
  invokes: [pricer, 'other'],
});
`;

/** Snippets that must not compile: name → [source, the message a diagnostic must contain]. */
const INVALID: Record<string, [string, RegExp]> = {
  'publishing a Celsius to rawReadings': [`await ctx.publish(rawReadings, aCelsius);`, /Property 'tempF' is missing/],
  'a handler on rawReadings reading a Celsius field': [
    `defineHandler(rawReadings, (reading) => reading.tempC);`,
    /Property 'tempC' does not exist on type 'Reading'/,
  ],
  'invoking with the wrong input': [
    `await ctx.invoke(pricer, { sku: 42 });`,
    /Type 'number' is not assignable to type 'string'/,
  ],
  "using invoke's result as the wrong type": [
    `const label: string = (await ctx.invoke(pricer, { sku: 'x' })).price;`,
    /Type 'number' is not assignable to type 'string'/,
  ],
  'a function handler answering the wrong type': [
    `defineHandler(pricer, () => ({ cost: 1 }));`,
    /Type '\{ cost: number; \}' is not assignable to type 'Result<\{ price: number; \}>'/,
  ],
  'a function reference where a topic is expected': [
    `await ctx.publish(pricer, aReading);`,
    /not assignable to parameter of type 'string'|TopicRef/,
  ],
  'invokeAsync with the wrong input': [
    `await ctx.invokeAsync(pricer, aReading);`,
    /'city' does not exist|missing the following properties|Property 'sku' is missing/,
  ],
};

function compile(files: Record<string, string>): ts.Diagnostic[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: root,
    paths: { kubefaas: ['./constructs/index.ts'], 'kubefaas/refs': ['./src/refs/index.ts'] },
  };
  const virtual = new Map(Object.entries(files).map(([name, text]) => [path.join(dir, name), text]));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (f) => virtual.has(f) || fileExists(f);
  const directoryExists = host.directoryExists?.bind(host);
  host.directoryExists = (d) => d === dir || (directoryExists?.(d) ?? true);
  host.readFile = (f) => virtual.get(f) ?? readFile(f);
  host.getSourceFile = (f, language, onError) => {
    const text = virtual.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, language) : getSourceFile(f, language, onError);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || virtual.has(d.file.fileName));
}

const cases = Object.entries(INVALID);
let diagnostics: ts.Diagnostic[];

beforeAll(() => {
  const files: Record<string, string> = { 'valid.ts': VALID, 'platform.ts': PLATFORM };
  cases.forEach(([, [body]], i) => {
    files[`invalid-${i}.ts`] = `${MODEL}\nexport async function check(): Promise<void> {\n${body}\n}\n`;
  });
  diagnostics = compile(files);
}, 120_000);

function messagesOf(file: string): string[] {
  return diagnostics
    .filter((d) => d.file?.fileName === path.join(dir, file))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

test('the valid uses compile, with the types the assertions expect (handler input, invoke result, call id)', () => {
  expect(messagesOf('valid.ts')).toEqual([]);
});

test('the constructs take the same references (QueueTrigger topic, publishes, invokes)', () => {
  expect(messagesOf('platform.ts')).toEqual([]);
});

test.each(cases.map(([name, [, expected]], i) => [name, i, expected] as const))(
  'does not compile: %s',
  (_name, i, expected) => {
    const messages = messagesOf(`invalid-${i}.ts`);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).toMatch(expected);
  },
);
