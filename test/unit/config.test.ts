import { describe, expect, it } from 'vitest';
import { loadConfig, requireGraphCredentials } from '../../lib/config.js';
import { UserError } from '../../lib/errors/user-error.js';

const problem = (env: NodeJS.ProcessEnv): UserError => {
  try {
    loadConfig(env);
  } catch (err) {
    return err as UserError;
  }
  throw new Error('expected a configuration error');
};

describe('configuration from the environment', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'assign',
      graphBaseUrl: 'https://graph.microsoft.com/beta',
      authorityHost: 'https://login.microsoftonline.com',
      rateLimit: undefined,
    });
  });
  it('reads GRAPH_RATE_LIMIT as requests per window', () => {
    expect(loadConfig({ GRAPH_RATE_LIMIT: '100/20s' }).rateLimit).toEqual({ max: 100, windowMs: 20_000 });
    expect(loadConfig({ GRAPH_RATE_LIMIT: '25/1s' }).rateLimit).toEqual({ max: 25, windowMs: 1000 });
  });
  it.each([
    ['GRAPH_RATE_LIMIT', 'abc'],
    ['REDIS_URL', 'http://x'],
    ['AZURE_TENANT_ID', 'contoso'],
    ['AZURE_AUTHORITY_HOST', 'http://login.example'],
    ['WORKER_CONCURRENCY', '0'],
    ['GRAPH_TIMEOUT_MS', 'soon'],
    ['LOG_LEVEL', 'loud'],
    ['QUEUE_PREFIX', 'a:b'],
  ])('a bad %s is named in the error', (name, value) => {
    const err = problem({ [name]: value });
    expect(err).toBeInstanceOf(UserError);
    expect(err.code).toBe('E_CONFIG_INVALID');
    expect(err.message.startsWith(`${name}:`)).toBe(true);
  });
  it('never echoes a secret back', () => {
    const err = problem({ AZURE_CLIENT_SECRET: 's3cret-value', WORKER_CONCURRENCY: 'x' });
    expect([err.message, ...err.details].join(' ')).not.toContain('s3cret-value');
  });
  it('a worker needs an app identity: client id and a secret or certificate', () => {
    expect(() => requireGraphCredentials(loadConfig({}))).toThrow(/AZURE_CLIENT_ID/);
    expect(() => requireGraphCredentials(loadConfig({ AZURE_CLIENT_ID: 'x' }))).toThrow(/AZURE_CLIENT_SECRET/);
    expect(() =>
      requireGraphCredentials(loadConfig({ AZURE_CLIENT_ID: 'x', AZURE_CLIENT_CERTIFICATE_PATH: '/p.pem' })),
    ).not.toThrow();
  });
});
