import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { startStack, type Stack } from '../support/stack.js';

/** `/readyz` follows Redis; `/healthz` only says the process is up. */
describe('server readiness', () => {
  let stack: Stack;
  let redis: LocalRedis;

  beforeAll(async () => {
    stack = await startStack();
    // A Redis of this test's own, so it can be stopped under the server.
    redis = await startLocalRedis();
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop().catch(() => undefined);
  });

  it('is ready while Redis answers and not ready (503) once it stops, while staying healthy', async () => {
    const server = await stack.serve({ REDIS_URL: redis.url });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', redis: 'up', workers: 0 });

    await redis.stop();
    const down = await fetch(`${server.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', redis: 'down' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Nothing about Redis being away ended the process.
    expect(server.child.exitCode).toBeNull();
  });

  it('refuses to start on a non-loopback address without DASHBOARD_TOKEN', async () => {
    const result = await stack.cli(['serve'], { env: { SERVER_HOST: '0.0.0.0', SERVER_PORT: '0' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error E_CONFIG_INVALID: DASHBOARD_TOKEN');
  });

  it('refuses a RULES_FILE that does not validate, naming its line', async () => {
    const rules = join(stack.dir, 'bad-rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: x\n    match: { type: group.created }\n    configurations: [not-a-guid]\n');
    const result = await stack.cli(['serve'], { env: { RULES_FILE: rules, SERVER_PORT: '0' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('E_INPUT_INVALID');
    expect(result.stderr).toContain(`${rules}:4`);
  });
});
