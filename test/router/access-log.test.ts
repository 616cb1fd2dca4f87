import fc from 'fast-check';
import { AccessLog, RouterLog } from '../../src/router/log';

describe('router access log', () => {
  function linesFor(record: (log: AccessLog) => void): string[] {
    let written = '';
    const log = new RouterLog((chunk) => (written += chunk));
    record(new AccessLog(log, 1));
    log.flush();
    return written.split('\n').filter((l) => l !== '');
  }

  it('writes one JSON line per request whatever the request id and URL contain', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.integer({ min: 100, max: 599 }),
        fc.option(fc.string()),
        (requestId, url, status, error) => {
          const [line] = linesFor((log) =>
            log.record({
              requestId,
              method: 'GET',
              url,
              status,
              fn: 'hello',
              durationMs: 1.2345,
              error: error ?? undefined,
            }),
          );
          const parsed = JSON.parse(line);
          expect(parsed).toMatchObject({
            requestId,
            url,
            status,
            method: 'GET',
            function: 'hello',
            durationMs: 1.234,
            msg: 'request',
          });
          expect(parsed.level).toBe(status >= 500 ? 'warn' : 'info');
          if (error !== null) expect(parsed.error).toBe(error);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('logs every error but only the sampled share of other requests', () => {
    let written = '';
    const log = new RouterLog((chunk) => (written += chunk));
    const none = new AccessLog(log, 0);
    none.record({ requestId: 'a', method: 'GET', url: '/', status: 200, fn: 'f', durationMs: 1 });
    none.record({ requestId: 'b', method: 'GET', url: '/', status: 502, fn: 'f', durationMs: 1 });
    log.flush();
    expect(
      written
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).requestId),
    ).toEqual(['b']);
  });
});
