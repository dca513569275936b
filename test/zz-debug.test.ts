import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { makeRows, startStack } from './support/stack.js';
import { dumpRedis, enqueueRows, progressOf, waitUntil } from './support/rollout-checks.js';

it('debug snapshot lock', async () => {
  const stack = await startStack({ emulator: { latencyMs: 1500 }, env: { LOG_LEVEL: 'debug', WORKER_LOCK_MS: '3000', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', GRAPH_TIMEOUT_MS: '5000' } });
  const rows = makeRows([stack.tenantId], 2, 10);
  const victim = await stack.worker();
  const id = await enqueueRows(stack, rows);
  await waitUntil('locks', async () => (await stack.redis.keys(`${stack.prefix}:snapshot:*:lock`)).length >= 1, 20_000, 20);
  await victim.stop('SIGKILL');
  writeFileSync('/tmp/dbg/victim.log', victim.logs());
  const w = await stack.worker();
  const t0 = Date.now();
  try { await waitUntil('finished', async () => (await progressOf(stack, id)).pending === 0, 140_000, 500); } catch (e) { console.log(String(e)); }
  console.log('after kill', Date.now() - t0, JSON.stringify(await progressOf(stack, id)));
  writeFileSync('/tmp/dbg/w.log', w.logs());
  writeFileSync('/tmp/dbg/redis.txt', await dumpRedis(stack.redis, stack.prefix));
  console.log(JSON.stringify(await stack.control.stats()));
  await stack.stop();
}, 240_000);
