/**
 * `kubefaas/refs` on its own: references are checked when made (the constructs' naming rules), are
 * plain frozen values, InvokeError is recognised across bundles, and defineHandler hands each kind of
 * source its payload. Through real processes: test/runtime/invoke.test.ts, test/queue/refs-queue.test.ts.
 */
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import type { FunctionContext, FunctionEvent } from '../../src/contract';
import { InvokeError, cron, defineHandler, fn, http, isFunctionRef, isTopicRef, topic } from '../../src/refs';

describe('references', () => {
  test('topic() and fn() make frozen { kind, name } values', () => {
    const raw = topic<{ city: string }>('weather.raw');
    expect(raw).toEqual({ kind: 'topic', name: 'weather.raw' });
    expect(Object.isFrozen(raw)).toBe(true);
    expect(fn('pricer')).toEqual({ kind: 'function', name: 'pricer' });
    expect(JSON.parse(JSON.stringify(fn('pricer')))).toEqual({ kind: 'function', name: 'pricer' });
    expect([isTopicRef(raw), isFunctionRef(raw), isTopicRef('weather.raw'), isFunctionRef(fn('a'))]).toEqual([
      true,
      false,
      false,
      true,
    ]);
  });

  test('names follow the constructs’ rules, checked when the reference is made', () => {
    expect(() => topic('weather raw')).toThrow("invalid topic 'weather raw'");
    expect(() => topic('weather.>')).toThrow(/no spaces, '\*' or '>'/);
    expect(() => fn('Pricer')).toThrow("invalid function name 'Pricer'");
    expect(() => fn('kubefaas-router')).toThrow("the prefix 'kubefaas-' is reserved");
    expect(() => topic(42 as unknown as string)).toThrow('topic(name): the name must be a string, got number');
  });
});

describe('InvokeError', () => {
  /** A second copy of kubefaas/refs, as a handler bundle carries its own. */
  function anotherCopy(): typeof import('../../src/refs') {
    const { outputFiles } = esbuild.buildSync({
      entryPoints: [path.resolve(__dirname, '..', '..', 'src', 'refs', 'index.ts')],
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'node',
    });
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', 'exports', outputFiles[0].text)(module, module.exports);
    return module.exports as unknown as typeof import('../../src/refs');
  }

  test('instanceof works across copies (the runtime throws, the handler checks), and not for other errors', () => {
    const other = anotherCopy();
    expect(other.InvokeError).not.toBe(InvokeError);
    const thrown = new other.InvokeError('pricer', 404, { error: 'no' }, 'answered 404', 'req-1');
    expect(thrown instanceof InvokeError).toBe(true);
    expect(thrown).toMatchObject({ name: 'InvokeError', functionName: 'pricer', status: 404, requestId: 'req-1' });
    expect(new Error('x') instanceof InvokeError).toBe(false);
    expect(Object.assign(new Error('x'), { status: 404 }) instanceof other.InvokeError).toBe(false);
  });
});

describe('defineHandler', () => {
  const context = {} as FunctionContext;
  function event(body: string, contentType?: string): FunctionEvent {
    const bytes = Buffer.from(body);
    return {
      body: bytes,
      headers: contentType ? { 'content-type': contentType } : {},
      text: () => bytes.toString('utf8'),
      json: () => JSON.parse(bytes.toString('utf8')),
    } as unknown as FunctionEvent;
  }
  const received = (source: Parameters<typeof defineHandler>[0], e: FunctionEvent) =>
    defineHandler(source, ((...args: unknown[]) => args) as never)(e, context);

  test('a topic or function source gets the payload decoded by its content type', () => {
    const ref = topic('t');
    expect(received(ref, event('{"a":1}', 'application/json'))).toEqual([{ a: 1 }, context, expect.anything()]);
    // No content type (or a form's, as curl -d sends): JSON.
    expect((received(fn('f'), event('[1,2]')) as unknown[])[0]).toEqual([1, 2]);
    expect((received(fn('f'), event('[1]', 'application/x-www-form-urlencoded')) as unknown[])[0]).toEqual([1]);
    expect((received(ref, event('hi', 'text/plain; charset=utf-8')) as unknown[])[0]).toBe('hi');
    expect(Buffer.isBuffer((received(ref, event('\x01', 'application/octet-stream')) as unknown[])[0])).toBe(true);
    expect((received(ref, event('')) as unknown[])[0]).toBeUndefined();
  });

  test('cron gets the tick, http the event itself', () => {
    const tick = { function: 'report', trigger: 'hourly', firedAt: '2026-01-01T00:00:00.000Z', data: { x: 1 } };
    expect((received(cron(), event(JSON.stringify(tick))) as unknown[])[0]).toEqual(tick);
    const e = event('raw');
    expect(received(http(), e)).toEqual([e, context]);
  });

  test('anything else is refused when the module loads', () => {
    expect(() => defineHandler('weather.raw' as never, (() => undefined) as never)).toThrow(
      'the source must be a topic() or fn() reference, http() or cron()',
    );
    expect(() => defineHandler(topic('t'), 'nope' as never)).toThrow('the handler must be a function');
  });
});
