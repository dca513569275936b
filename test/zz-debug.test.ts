import { it } from 'vitest';
import { makeRows, startStack } from './support/stack.js';
import { enqueueRows, progressOf, waitUntil } from './support/rollout-checks.js';

it('debug snapshot lock', async () => {
  const stack = await startStack({ emulator: { latencyMs: 1500 }, env: { WORKER_LOCK_MS: '3000', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', GRAPH_TIMEOUT_MS: '5000' } });
  const rows = makeRows([stack.tenantId], 2, 10);
  const victim = await stack.worker();
  const id = await enqueueRows(stack, rows);
  await waitUntil('locks', async () => (await stack.redis.keys(`${stack.prefix}:snapshot:*:lock`)).length === 2, 20_000, 20);
  await victim.stop('SIGKILL');
  for (const k of await stack.redis.keys(`${stack.prefix}:snapshot:*:lock`)) console.log(k.slice(-50), await stack.redis.get(k), await stack.redis.pttl(k));
  await stack.worker();
  const t0 = Date.now();
  await waitUntil('finished', async () => (await progressOf(stack, id)).pending === 0, 180_000, 500);
  console.log('finished after kill in', Date.now() - t0);
  await stack.stop();
}, 240_000);
