import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { generate } from 'selfsigned';

/**
 * The emulator's TLS identity: one self-signed certificate that is both the server certificate and
 * the trust anchor clients add with NODE_EXTRA_CA_CERTS. Its subject alternative names cover every
 * way a local client reaches the emulator (127.0.0.1, ::1, localhost), since Node checks the name
 * against the SAN and ignores the common name.
 */
export interface EmulatorCertificate {
  /** Absolute path of the certificate (PEM); give it to clients as NODE_EXTRA_CA_CERTS. */
  certPath: string;
  /** Absolute path of the private key (PEM, mode 0600). */
  keyPath: string;
  cert: string;
  key: string;
}

const CERT_FILE = 'emulator-cert.pem';
const KEY_FILE = 'emulator-key.pem';
const LOCK_FILE = 'emulator-cert.lock';
const VALIDITY_DAYS = 365;
/** A certificate closer than this to expiry is replaced, so a long test run never sees it lapse. */
const MIN_REMAINING_MS = 7 * 24 * 3600 * 1000;
/** A lock older than this was left by a process that died while generating. */
const STALE_LOCK_MS = 30_000;
const LOCK_POLL_MS = 50;

/** SAN entries as Node's X509Certificate prints them. */
const REQUIRED_NAMES = ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'];

/**
 * Returns the certificate in `dir`, generating it first if it is missing, unreadable, about to
 * expire or lacks a required name. Generation is guarded by a lock file because parallel test
 * workers start emulators on the same directory at the same moment, and a cert from one process
 * paired with a key from another would serve a certificate no client trusts.
 */
export async function ensureCertificate(dir: string): Promise<EmulatorCertificate> {
  const directory = resolve(dir);
  await mkdir(directory, { recursive: true });
  const paths = { certPath: resolve(directory, CERT_FILE), keyPath: resolve(directory, KEY_FILE) };
  const existing = await readUsable(paths);
  if (existing) return existing;

  const lockPath = resolve(directory, LOCK_FILE);
  await acquireLock(lockPath);
  try {
    // Another process may have finished generating while this one waited for the lock.
    const fresh = await readUsable(paths);
    if (fresh) return fresh;
    return await generateInto(paths);
  } finally {
    await unlink(lockPath);
  }
}

async function generateInto(paths: { certPath: string; keyPath: string }): Promise<EmulatorCertificate> {
  // An hour of slack before "now" so a client whose clock runs a little behind still accepts it.
  const notBefore = new Date(Date.now() - 3600 * 1000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  // EC P-256: generated in milliseconds (RSA 2048 can take a second), and every TLS client takes it.
  const pems = await generate([{ name: 'commonName', value: 'graph-assignments emulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  // Temporary names then rename: a reader never sees a half-written PEM.
  const suffix = `.${process.pid}.tmp`;
  await writeFile(paths.keyPath + suffix, pems.private, { mode: 0o600 });
  await writeFile(paths.certPath + suffix, pems.cert, { mode: 0o644 });
  await rename(paths.keyPath + suffix, paths.keyPath);
  await rename(paths.certPath + suffix, paths.certPath);
  return { ...paths, cert: pems.cert, key: pems.private };
}

/** The pair in the directory if it can serve as is; undefined if it must be (re)generated. */
async function readUsable(paths: { certPath: string; keyPath: string }): Promise<EmulatorCertificate | undefined> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(paths.certPath, 'utf8'), readFile(paths.keyPath, 'utf8')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return isUsable(cert, key) ? { ...paths, cert, key } : undefined;
}

function isUsable(cert: string, key: string): boolean {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return false;
  } catch {
    // Corrupt or foreign files: regenerate rather than fail, the directory is ours.
    return false;
  }
  const now = Date.now();
  const names = (x509.subjectAltName ?? '').split(', ');
  return (
    Date.parse(x509.validFrom) <= now &&
    Date.parse(x509.validTo) - now > MIN_REMAINING_MS &&
    REQUIRED_NAMES.every((name) => names.includes(name))
  );
}

async function acquireLock(lockPath: string): Promise<void> {
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await lockAgeMs(lockPath);
    if (age !== undefined && age > STALE_LOCK_MS) {
      await unlink(lockPath).catch((error: NodeJS.ErrnoException) => {
        // Another waiter removed the stale lock first; the next round decides who gets it.
        if (error.code !== 'ENOENT') throw error;
      });
      continue;
    }
    await delay(LOCK_POLL_MS);
  }
}

async function lockAgeMs(lockPath: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
