import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRows, rolloutIdOf, startStack, type ServerHandle, type Stack } from '../support/stack.js';

/**
 * `/ui` over plain HTTP against a real `assignments serve`: who gets in (bearer, login cookie,
 * nobody), that Bull Board sits behind the same door, that writes from another site are refused,
 * and that names from the input are shown as text, never as markup.
 */
const TOKEN = 'dashboard-test-token-5f2c9a1e';
const XSS_NAME = '<script>alert(1)</script>';

describe('dashboard /ui', () => {
  let stack: Stack;
  let server: ServerHandle;
  let rolloutId: string;
  let xssRolloutId: string;
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers, redirect: 'manual' });

  beforeAll(async () => {
    // No worker: the rollouts stay running with every row pending, which is all these tests need.
    stack = await startStack();
    server = await stack.serve({ DASHBOARD_TOKEN: TOKEN });
    rolloutId = rolloutIdOf(
      await stack.cli([
        'enqueue',
        stack.writeCsv(makeRows([stack.tenantId], 1, 3)),
        '--json',
        '--name',
        'Quarterly baseline',
      ]),
    );
    xssRolloutId = rolloutIdOf(
      await stack.cli(['enqueue', stack.writeCsv(makeRows([stack.tenantId], 1, 2)), '--json', '--name', XSS_NAME]),
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('sends a browser without credentials to the login form, and a script a 401', async () => {
    const page = await get('/ui', { accept: 'text/html' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/ui/login?next=%2Fui');

    const deep = await get(`/ui/rollouts/${rolloutId}`, { accept: 'text/html,application/xhtml+xml' });
    expect(deep.status).toBe(303);
    expect(deep.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent(`/ui/rollouts/${rolloutId}`)}`);

    const api = await get(`/ui/api/rollouts/${rolloutId}`, { accept: 'application/json' });
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await api.json()).toMatchObject({ error: 'unauthorized' });

    const login = await get('/ui/login', { accept: 'text/html' });
    expect(login.status).toBe(200);
    const form = await login.text();
    expect(form).toContain('type="password"');
    expect(form).not.toContain(TOKEN);
  });

  it('lets a correct bearer token in and keeps a wrong one out', async () => {
    const ok = await get('/ui', { ...bearer, accept: 'text/html' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/html/);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(ok.headers.get('x-frame-options')).toBe('DENY');
    const body = await ok.text();
    expect(body).toContain(rolloutId);
    expect(body).toContain('Quarterly baseline');
    expect(body).not.toContain(TOKEN);
    // Newest first.
    expect(body.indexOf(xssRolloutId)).toBeLessThan(body.indexOf(rolloutId));

    const wrong = await get('/ui', { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
    const notBearer = await get('/ui', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
    expect(notBearer.status).toBe(401);

    const api = await get(`/ui/api/rollouts/${rolloutId}`, bearer);
    expect(api.status).toBe(200);
    const view = (await api.json()) as {
      status: { rolloutId: string; total: number; pending: number; state: string };
      done: number;
      tenants: { tenantId: string; laneText: string }[];
    };
    expect(view.status).toMatchObject({ rolloutId, total: 3, pending: 3, state: 'running' });
    expect(view.done).toBe(0);
    expect(view.tenants).toEqual([expect.objectContaining({ tenantId: stack.tenantId, laneText: 'open' })]);
  });

  it('answers a wrong login with the form again and 401, a right one with an HttpOnly SameSite=Strict cookie', async () => {
    const wrong = await fetch(`${server.url}/ui/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'not-the-token-at-all' }),
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.getSetCookie()).toEqual([]);
    const wrongBody = await wrong.text();
    expect(wrongBody).toContain('Wrong token');
    expect(wrongBody).not.toContain('not-the-token-at-all');

    const right = await fetch(`${server.url}/ui/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, next: `/ui/rollouts/${rolloutId}` }),
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe(`/ui/rollouts/${rolloutId}`);
    const [setCookie] = right.headers.getSetCookie();
    expect(setCookie).toMatch(/^assignments_dashboard=/);
    expect(setCookie).toMatch(/; HttpOnly/i);
    expect(setCookie).toMatch(/; SameSite=Strict/i);
    expect(setCookie).toMatch(/; Path=\/ui/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie!.split(';')[0]!;

    const page = await get(`/ui/rollouts/${rolloutId}`, { cookie, accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Quarterly baseline');

    // An open redirect through `next` is not possible.
    const away = await fetch(`${server.url}/ui/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, next: '//evil.example/ui' }),
      redirect: 'manual',
    });
    expect(away.headers.get('location')).toBe('/ui');

    // A cookie of the right shape without the token's MAC is nobody's.
    const forged = `assignments_dashboard=v1.${Date.now() + 3_600_000}.${'A'.repeat(43)}`;
    expect((await get('/ui', { cookie: forged })).status).toBe(401);

    const logout = await fetch(`${server.url}/ui/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(logout.status).toBe(303);
    expect(logout.headers.getSetCookie().join()).toMatch(/assignments_dashboard=;/);
  });

  it('puts Bull Board, its API and its static files behind the same login, read-only', async () => {
    expect((await get('/ui/queues', { accept: 'text/html' })).status).toBe(303);
    expect((await get('/ui/queues/api/queues')).status).toBe(401);

    const page = await get('/ui/queues', { ...bearer, accept: 'text/html' });
    expect(page.status).toBe(200);
    const board = await page.text();
    expect(board).toContain('<base href="/ui/queues/"');
    expect(board).not.toContain('fonts.googleapis.com');
    const script = /src="(static\/js\/[^"]+\.js)"/.exec(board)?.[1];
    expect(script).toBeDefined();
    expect((await get(`/ui/queues/${script}`)).status).toBe(401);
    expect((await get(`/ui/queues/${script}`, bearer)).status).toBe(200);

    const api = await get('/ui/queues/api/queues', bearer);
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(queues.map((q) => q.name).sort()).toEqual(['assignments', 'events', 'syncs'].sort());
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    // Read-only is enforced by the server, not just hidden in the UI.
    const pause = await fetch(`${server.url}/ui/queues/api/queues/assignments/pause`, {
      method: 'PUT',
      headers: bearer,
    });
    expect(pause.status).toBeGreaterThanOrEqual(400);
  });

  it('refuses the retry POST from another origin, and runs the CLI retry code from ours', async () => {
    const path = `/ui/rollouts/${rolloutId}/retry`;
    const foreign = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer, origin: 'https://evil.example' },
      redirect: 'manual',
    });
    expect(foreign.status).toBe(403);
    const foreignReferer = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer, referer: 'https://evil.example/page' },
      redirect: 'manual',
    });
    expect(foreignReferer.status).toBe(403);
    const opaque = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer, origin: 'null' },
      redirect: 'manual',
    });
    expect(opaque.status).toBe(403);

    // Same origin: it reaches retryRollout, which has nothing to retry (no row failed, none ran).
    const same = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer, origin: server.url },
      redirect: 'manual',
    });
    expect(same.status).toBe(409);
    expect(await same.json()).toMatchObject({
      error: 'E_ROLLOUT_STATE',
      message: expect.stringContaining('has no failed rows'),
    });

    // A browser gets the message back on the page after the redirect.
    const form = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer, origin: server.url, accept: 'text/html' },
      redirect: 'manual',
    });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe(`/ui/rollouts/${rolloutId}`);
    const flash = form.headers
      .getSetCookie()
      .find((c) => c.startsWith('assignments_dashboard_flash='))!
      .split(';')[0]!;
    const shown = await (
      await get(`/ui/rollouts/${rolloutId}`, { ...bearer, cookie: flash, accept: 'text/html' })
    ).text();
    expect(shown).toMatch(/class="flash error"[^>]*>[^<]*has no failed rows: nothing to retry/);

    // Without credentials the POST does not get as far as the retry.
    expect((await fetch(`${server.url}${path}`, { method: 'POST', headers: { origin: server.url } })).status).toBe(401);
  });

  it('shows a rollout name with markup in it as text', async () => {
    const list = await (await get('/ui', bearer)).text();
    expect(list).not.toContain(XSS_NAME);
    expect(list).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');

    const page = await (await get(`/ui/rollouts/${xssRolloutId}`, bearer)).text();
    expect(page).not.toContain(XSS_NAME);
    expect(page).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>');
    expect(page).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt; · graph-assignments</title>');
  });

  it('answers 404 for an unknown rollout and an unknown page, after the login', async () => {
    const unknown = await get('/ui/rollouts/does-not-exist', { ...bearer, accept: 'text/html' });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('No rollout &quot;does-not-exist&quot;');

    const echoed = await get(`/ui/rollouts/${encodeURIComponent('<b>x</b>')}`, { ...bearer, accept: 'text/html' });
    expect(echoed.status).toBe(404);
    expect(await echoed.text()).not.toContain('<b>x</b>');

    expect((await get('/ui/api/rollouts/does-not-exist', bearer)).status).toBe(404);
    expect((await get('/ui/nothing-here', { accept: 'text/html' })).status).toBe(303);
    expect((await get('/ui/nothing-here', { ...bearer, accept: 'text/html' })).status).toBe(404);
  });

  it('never writes the token to its log', () => {
    expect(server.logs()).toContain('dashboard: login refused');
    expect(server.logs()).not.toContain(TOKEN);
  });
});

describe('dashboard /ui without DASHBOARD_TOKEN (loopback only)', () => {
  let stack: Stack;
  let server: ServerHandle;
  beforeAll(async () => {
    stack = await startStack();
    server = await stack.serve();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('needs no login, and answers loopback host names only (DNS rebinding)', async () => {
    const page = await fetch(`${server.url}/ui`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('No rollouts within retention');
    expect((await fetch(`${server.url}/ui/login`, { redirect: 'manual' })).status).toBe(303);

    const port = new URL(server.url).port;
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/ui', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`rebound.evil.example:${port}`)).toBe(403);
  });
});
