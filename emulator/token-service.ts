import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './monotonic-clock.js';

/** Why a bearer token was refused; each maps to its own 401 message. */
export type TokenRefusal = 'missing' | 'malformed' | 'unknown' | 'expired';

export type TokenCheck = { ok: true; tenantId: string } | { ok: false; refusal: TokenRefusal };

/**
 * How the token endpoint fails on demand (control API `PUT /_emulator/token-failure`): `'500'` a
 * server error with no Retry-After, `'503'` temporarily_unavailable with `Retry-After: 1`,
 * `'invalid_client'` the answer to a revoked or expired secret. null: tokens are issued as usual.
 */
export type TokenFailureMode = '500' | '503' | 'invalid_client';

export const TOKEN_FAILURE_MODES: readonly TokenFailureMode[] = ['500', '503', 'invalid_client'];

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

interface TokenRecord {
  tenantId: string;
  expiresAtMs: number;
}

/** Sweep expired tokens once this many have been issued since the last sweep. */
const SWEEP_EVERY = 1000;

/**
 * Issues app-only access tokens and recognises them later. A token is a JWT in shape (header,
 * claims, signature) so tools that peek at `tid` or `exp` work, but the signature is random bytes:
 * the emulator trusts only tokens it remembers, which is also what makes "unknown token" testable.
 * Tokens survive a state reset on purpose: clients cache them (MSAL does, for an hour) and a reset
 * between test cases must not turn into a wave of 401s.
 */
export class TokenService {
  private readonly tokens = new Map<string, TokenRecord>();
  private issuedSinceSweep = 0;
  /**
   * Refuses new tokens only: tokens already issued stay valid, as with Entra ID, where revoking a
   * secret or an outage of the token endpoint does not recall access tokens a client holds.
   */
  failure: TokenFailureMode | null = null;

  constructor(
    private readonly lifetimeSeconds: number,
    /** Wall clock: expiry is compared with the `exp` claim clients see, which is wall time. */
    private readonly now: Clock = Date.now,
  ) {}

  issue(tenantId: string, clientId: string, audience: string): IssuedToken {
    const nowMs = this.now();
    const nowSeconds = Math.floor(nowMs / 1000);
    const header = { typ: 'JWT', alg: 'RS256', kid: 'graph-assignments-emulator' };
    const claims = {
      aud: audience,
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + this.lifetimeSeconds,
      appid: clientId,
      idtyp: 'app',
      roles: ['DeviceManagementConfiguration.ReadWrite.All'],
      tid: tenantId,
      uti: randomUUID(),
      ver: '1.0',
    };
    const accessToken = [
      base64url(JSON.stringify(header)),
      base64url(JSON.stringify(claims)),
      randomBytes(32).toString('base64url'),
    ].join('.');
    this.tokens.set(accessToken, { tenantId, expiresAtMs: nowMs + this.lifetimeSeconds * 1000 });
    this.sweepSometimes(nowMs);
    return { accessToken, expiresInSeconds: this.lifetimeSeconds };
  }

  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    if (authorization === undefined || authorization.trim() === '') return { ok: false, refusal: 'missing' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) return { ok: false, refusal: 'malformed' };
    const record = this.tokens.get(match[1]);
    if (!record) return { ok: false, refusal: 'unknown' };
    if (record.expiresAtMs <= this.now()) return { ok: false, refusal: 'expired' };
    return { ok: true, tenantId: record.tenantId };
  }

  private sweepSometimes(nowMs: number): void {
    this.issuedSinceSweep += 1;
    if (this.issuedSinceSweep < SWEEP_EVERY) return;
    this.issuedSinceSweep = 0;
    for (const [token, record] of this.tokens) {
      if (record.expiresAtMs <= nowMs) this.tokens.delete(token);
    }
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
