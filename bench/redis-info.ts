import type { Redis } from 'ioredis';

/** The fields of one `INFO <section>` reply, as strings. */
export async function redisInfo(redis: Redis, section: string): Promise<Map<string, string>> {
  const fields = new Map<string, string>();
  for (const line of (await redis.info(section)).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** What the Redis server has spent so far: CPU seconds (user + system) and commands executed. */
export async function redisWork(redis: Redis): Promise<{ cpuSeconds: number; commands: number }> {
  const cpu = await redisInfo(redis, 'cpu');
  let commands = 0;
  // cmdstat_evalsha:calls=123,usec=…
  for (const value of (await redisInfo(redis, 'commandstats')).values())
    commands += Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
  return { cpuSeconds: Number(cpu.get('used_cpu_user') ?? 0) + Number(cpu.get('used_cpu_sys') ?? 0), commands };
}
