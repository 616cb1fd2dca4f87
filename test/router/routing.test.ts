import { Headers } from '../../src/contract';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';

describe('router: matching and forwarding', () => {
  let users: Upstream;
  let files: Upstream;
  let apiHost: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;

  beforeAll(async () => {
    [users, files, apiHost] = await Promise.all([echoUpstream(), echoUpstream(), echoUpstream()]);
    routes = new ConfigMapDir(
      table({ users: users.url, files: files.url, 'api-host': apiHost.url }, [
        { function: 'users', methods: ['GET', 'POST'], path: '/users' },
        { function: 'users', methods: ['GET', 'DELETE'], path: '/users/:id' },
        { function: 'users', methods: ['GET'], path: '/orgs/:org/users/:id' },
        { function: 'files', methods: ['GET', 'PUT'], path: '/files/*' },
        { function: 'api-host', methods: ['GET'], path: '/users', host: 'api.example.com' },
      ]),
    );
    router = await startRouter(routes.file);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all([users, files, apiHost].map((u) => u?.close()));
    routes?.remove();
  });

  it('routes by method and static path, forwarding path and query unchanged', async () => {
    const reply = await request(router.port, { path: '/users?page=2&sort=name' });
    expect(reply.status).toBe(200);
    const seen = reply.json();
    expect(seen.url).toBe('/users?page=2&sort=name');
    expect(seen.headers[Headers.functionName]).toBe('users');
    expect(JSON.parse(decodeURIComponent(seen.headers[Headers.params]))).toEqual({});
  });

  it('passes path parameters as URI-encoded JSON', async () => {
    const reply = await request(router.port, { path: '/orgs/acme%20inc/users/42' });
    expect(reply.status).toBe(200);
    const seen = reply.json();
    expect(seen.url).toBe('/orgs/acme%20inc/users/42');
    expect(JSON.parse(decodeURIComponent(seen.headers[Headers.params]))).toEqual({ org: 'acme inc', id: '42' });
  });

  it('matches wildcards', async () => {
    const reply = await request(router.port, { method: 'PUT', path: '/files/a/b/c.txt', body: 'hello' });
    expect(reply.status).toBe(200);
    const seen = reply.json();
    expect(seen.method).toBe('PUT');
    expect(seen.bytes).toBe(5);
    expect(seen.headers[Headers.functionName]).toBe('files');
    expect(JSON.parse(decodeURIComponent(seen.headers[Headers.params]))).toEqual({ '*': 'a/b/c.txt' });
  });

  it('prefers a host-specific route and ignores the port in Host', async () => {
    const onHost = await request(router.port, { path: '/users', headers: { host: 'API.example.com:8443' } });
    expect(onHost.json().headers[Headers.functionName]).toBe('api-host');
    const otherHost = await request(router.port, { path: '/users', headers: { host: 'www.example.com' } });
    expect(otherHost.json().headers[Headers.functionName]).toBe('users');
  });

  it('serves /function/<name> and /function/<name>/<rest> for any method on the admin listener', async () => {
    const root = await request(router.adminPort, { method: 'PATCH', path: '/function/files' });
    expect(root.status).toBe(200);
    expect(root.json()).toMatchObject({ method: 'PATCH', url: '/' });
    const rest = await request(router.adminPort, {
      method: 'POST',
      path: '/function/users/deep/path?x=1',
      body: 'abc',
    });
    expect(rest.json()).toMatchObject({ method: 'POST', url: '/deep/path?x=1', bytes: 3 });
    expect(rest.json().headers[Headers.functionName]).toBe('users');
    const queryOnly = await request(router.adminPort, { path: '/function/users?x=1' });
    expect(queryOnly.json().url).toBe('/?x=1');
  });

  it('does not serve by-name calls on the public listener for functions that did not opt in', async () => {
    const reply = await request(router.port, { method: 'PATCH', path: '/function/files' });
    expect(reply.status).toBe(404);
    expect(reply.json()).toEqual({ error: 'no route for PATCH /function/files' });
  });

  it('answers 404 with a JSON body for unknown paths and functions', async () => {
    const reply = await request(router.port, { path: '/nothing/here?x=1' });
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.json()).toEqual({ error: 'no route for GET /nothing/here' });
    const unknownFn = await request(router.port, { path: '/function/ghost' });
    expect(unknownFn.status).toBe(404);
    expect(unknownFn.json()).toEqual({ error: 'no route for GET /function/ghost' });
  });

  it('answers 405 with Allow when the path exists for other methods', async () => {
    const reply = await request(router.port, { method: 'PATCH', path: '/users/7' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, DELETE');
    expect(reply.json().error).toMatch(/PATCH.*\/users\/7/);
  });

  it('answers HEAD on GET routes', async () => {
    const reply = await request(router.port, { method: 'HEAD', path: '/users/1' });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(0);
    expect(users.received.at(-1)?.method).toBe('HEAD');
  });

  it('keeps an incoming request id and traceparent and returns the id', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const reply = await request(router.port, {
      path: '/users',
      headers: { 'x-request-id': 'req-abc-123', traceparent },
    });
    expect(reply.headers['x-request-id']).toBe('req-abc-123');
    const seen = reply.json().headers;
    expect(seen['x-request-id']).toBe('req-abc-123');
    expect(seen.traceparent).toBe(traceparent);
    const logged = await router.waitForLog(
      (l) => l.msg === 'request' && l.requestId === 'req-abc-123',
      'access log line',
    );
    expect(logged).toMatchObject({ status: 200, function: 'users', method: 'GET', url: '/users' });
  });

  it('generates a request id and a valid traceparent when missing or invalid', async () => {
    const reply = await request(router.port, {
      path: '/users',
      headers: { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' },
    });
    const seen = reply.json().headers;
    expect(seen['x-request-id']).toEqual(expect.any(String));
    expect(reply.headers['x-request-id']).toBe(seen['x-request-id']);
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen.traceparent).not.toContain('00000000000000000000000000000000');
    const again = (await request(router.port, { path: '/users' })).json().headers;
    expect(again['x-request-id']).not.toBe(seen['x-request-id']);
    expect(again.traceparent.slice(3, 35)).not.toBe(seen.traceparent.slice(3, 35));
  });

  it('sets X-Forwarded-*, strips hop-by-hop headers and refuses spoofed router headers', async () => {
    const reply = await request(router.port, {
      path: '/users/9',
      headers: {
        host: 'shop.example.com',
        'x-forwarded-for': '203.0.113.7',
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': 'drop me',
        'keep-alive': 'timeout=5',
        [Headers.params]: encodeURIComponent('{"id":"evil"}'),
        [Headers.functionName]: 'other',
        'x-custom': 'kept',
      },
    });
    const seen = reply.json().headers;
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-forwarded-host']).toBe('shop.example.com');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['x-custom']).toBe('kept');
    expect(seen[Headers.functionName]).toBe('users');
    expect(JSON.parse(decodeURIComponent(seen[Headers.params]))).toEqual({ id: '9' });
  });

  it('serves health and readiness on the admin listener only', async () => {
    expect((await request(router.adminPort, { path: '/healthz' })).status).toBe(200);
    const ready = await request(router.adminPort, { path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect({ path, status: (await request(router.port, { path })).status }).toEqual({ path, status: 404 });
  });

  it('logged no uncaught exceptions while doing all of the above', () => {
    expect(router.logs.filter((l) => l.msg === 'uncaught exception')).toEqual([]);
  });
});
