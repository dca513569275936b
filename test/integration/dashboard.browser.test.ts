import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { rolloutIdOf, startStack, type ServerHandle, type Stack } from '../support/stack.js';
import { expectEachAssignedOnce } from '../support/rollout-checks.js';

/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core): log in, watch a
 * running rollout advance, then fix the cause of its failed rows and retry them from the page.
 * Screenshots (failed rows before the retry, the finished rollout after it) are kept in artifacts/
 * for whoever reads the CI run.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../../artifacts');
const SCREENSHOT = resolve(ARTIFACTS, 'dashboard-rollout.png');
const TOKEN = 'browser-test-dashboard-token-7d41';
const GOOD_ROWS = 30;
const BAD_ROWS = 6;

describe('dashboard in a browser', () => {
  let stack: Stack;
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does: apt-get install -y chromium) or set CHROMIUM_PATH`,
      );
    }
    // Only configurations created through the control API exist: rows of any other fail with 404.
    stack = await startStack({
      emulator: { strictConfigurations: true },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
    // The server shares the workers' GRAPH_RATE_LIMIT, so the lane column shows its interval.
    server = await stack.serve({ DASHBOARD_TOKEN: TOKEN, GRAPH_RATE_LIMIT: '5/1s' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('logs in, follows a running rollout, and retries its failed rows once their cause is fixed', async () => {
    const tenantId = stack.tenantId;
    const existing = await stack.control.createConfiguration(tenantId, { displayName: 'Office baseline' });
    const missingConfiguration = randomUUID();
    const good: AssignmentRow[] = Array.from({ length: GOOD_ROWS }, () => ({
      tenantId,
      configurationId: existing.id,
      groupId: randomUUID(),
    }));
    const bad: AssignmentRow[] = Array.from({ length: BAD_ROWS }, () => ({
      tenantId,
      configurationId: missingConfiguration,
      groupId: randomUUID(),
    }));
    const rows = good.flatMap((g, i) => (i < bad.length ? [g, bad[i]!] : [g]));
    const total = rows.length;
    // Enqueued with no worker yet, so the page is open before the first row runs.
    const rolloutId = rolloutIdOf(
      await stack.cli(['enqueue', stack.writeCsv(rows), '--json', '--name', 'Browser rollout']),
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);

    await page.goto(`${server.url}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await page.fill('input[name="token"]', 'a wrong token, surely');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.textContent('body')).toContain('Wrong token');
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${server.url}/ui`), page.click('button[type="submit"]')]);

    const listed = page.locator(`tr[data-rollout="${rolloutId}"]`);
    await expect.poll(() => listed.textContent()).toContain('Browser rollout');
    await Promise.all([page.waitForURL(`**/ui/rollouts/${rolloutId}`), listed.locator('a').click()]);
    expect(await text(page, 'state')).toBe('running');
    expect(await text(page, 'done')).toBe('0');
    expect(await text(page, 'total')).toBe(String(total));

    // 5 writes a second per tenant: the rollout takes several seconds, and the page follows it.
    await stack.worker({ GRAPH_RATE_LIMIT: '5/1s' });
    const first = await pollNumber(page, 'done', (n) => n > 0);
    const second = await pollNumber(page, 'done', (n) => n > first);
    expect(second).toBeGreaterThan(first);
    expect(first).toBeLessThan(total);

    // Finished: the page reloads itself and lists the failed rows with Graph's reason.
    await expect.poll(() => text(page, 'state'), { timeout: 60_000, interval: 500 }).toBe('finished');
    expect(await text(page, 'failed')).toBe(String(BAD_ROWS));
    expect(await text(page, 'created')).toBe(String(GOOD_ROWS));
    const failedTable = page.locator('table[data-failed-rows]');
    expect(await failedTable.getAttribute('data-failed-rows')).toBe(String(BAD_ROWS));
    const failedText = (await failedTable.textContent()) ?? '';
    expect(failedText).toContain('E_GRAPH_NOT_FOUND');
    expect(failedText).toContain('ResourceNotFound');
    expect(failedText).toContain(missingConfiguration);
    await page.screenshot({ path: resolve(ARTIFACTS, 'dashboard-failed-rows.png'), fullPage: true });

    // Fix the cause (the configuration now exists), then retry from the page.
    await stack.control.createConfiguration(tenantId, { id: missingConfiguration, displayName: 'Created late' });
    await Promise.all([page.waitForURL(`**/ui/rollouts/${rolloutId}`), page.click('text=Retry failed rows')]);
    expect(await page.textContent('.flash')).toContain(`${BAD_ROWS} failed rows re-enqueued`);

    await expect.poll(() => text(page, 'created'), { timeout: 60_000, interval: 500 }).toBe(String(total));
    await expect.poll(() => text(page, 'state'), { timeout: 30_000, interval: 500 }).toBe('finished');
    expect(await text(page, 'failed')).toBe('0');
    expect(await text(page, 'retries')).toBe('1');
    expect(await page.textContent('[data-failed-rows="0"]')).toContain('No failed rows');
    await expectEachAssignedOnce(stack, rows);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(1000);

    // The Bull Board page opens with the same session.
    await page.goto(`${server.url}/ui/queues`);
    await expect.poll(() => page.textContent('body'), { timeout: 15_000 }).toContain('assignments');
    await page.close();
  }, 180_000);
});

/** A `data-k` value of the rollout page; null while the page is between two loads. */
async function text(page: Page, key: string): Promise<string | null> {
  try {
    return (await page.locator(`[data-k="${key}"]`).first().textContent({ timeout: 2000 }))?.trim() ?? null;
  } catch {
    return null;
  }
}

async function pollNumber(page: Page, key: string, until: (n: number) => boolean): Promise<number> {
  let value = NaN;
  await expect
    .poll(
      async () => {
        value = Number(await text(page, key));
        return until(value);
      },
      { timeout: 30_000, interval: 200 },
    )
    .toBe(true);
  return value;
}
