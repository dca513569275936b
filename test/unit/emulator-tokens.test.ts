import { describe, expect, it } from 'vitest';
import { TokenService } from '../../emulator/token-service.js';

const TENANT = '0c4a7f0e-1111-4222-8333-444455556666';
const CLIENT = 'b3e5d7a9-2c4f-4e6a-8b1d-9f0e2c4a6b8d';

describe('TokenService', () => {
  it('recognises the tokens it issued, with their tenant', () => {
    const tokens = new TokenService(3599, () => 1_000_000);
    const { accessToken, expiresInSeconds } = tokens.issue(TENANT, CLIENT, 'https://graph.microsoft.com');
    expect(expiresInSeconds).toBe(3599);
    expect(tokens.check(`Bearer ${accessToken}`)).toEqual({ ok: true, tenantId: TENANT });
    expect(tokens.check(`bearer ${accessToken}`)).toEqual({ ok: true, tenantId: TENANT });
  });

  it('issues JWT-shaped tokens whose claims name the tenant and expiry', () => {
    const tokens = new TokenService(60, () => 1_700_000_000_000);
    const { accessToken } = tokens.issue(TENANT, CLIENT, 'https://graph.microsoft.com');
    const [, payload = ''] = accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims).toMatchObject({
      tid: TENANT,
      appid: CLIENT,
      aud: 'https://graph.microsoft.com',
      exp: 1_700_000_060,
    });
  });

  it('refuses missing, malformed, unknown and expired tokens, each for its own reason', () => {
    let now = 1_000_000;
    const tokens = new TokenService(10, () => now);
    const { accessToken } = tokens.issue(TENANT, CLIENT, 'https://graph.microsoft.com');
    expect(tokens.check(undefined)).toEqual({ ok: false, refusal: 'missing' });
    expect(tokens.check(accessToken)).toEqual({ ok: false, refusal: 'malformed' });
    expect(tokens.check('Bearer nope')).toEqual({ ok: false, refusal: 'unknown' });
    now += 9_999;
    expect(tokens.check(`Bearer ${accessToken}`).ok).toBe(true);
    now += 1;
    expect(tokens.check(`Bearer ${accessToken}`)).toEqual({ ok: false, refusal: 'expired' });
  });
});
