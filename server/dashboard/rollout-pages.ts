import type { Outcome } from '../../lib/outcome.js';
import type { RolloutState, RolloutStatus } from '../../lib/rollout/rollout-store.js';
import { hasDeletes } from '../../lib/rollout/progress-text.js';
import { html, type SafeHtml } from './html.js';
import type { Flash } from './flash.js';
import { MAX_FAILED_ROWS, MAX_TENANTS, progressOf, type RolloutView, type TenantLine } from './rollout-view.js';

/**
 * The rollouts' pages, as pure functions of what the store says: the list (what `assignments list`
 * prints) and one rollout (what `status` prints, plus the lanes and the failed rows of `report`).
 */

export function rolloutsListBody(rollouts: readonly RolloutStatus[], queuePrefix: string): SafeHtml {
  if (rollouts.length === 0) {
    return html`<h1>Rollouts</h1><p class="muted">No rollouts within retention (QUEUE_PREFIX=<code>${queuePrefix}</code>).</p>`;
  }
  const deletes = rollouts.some(hasDeletes);
  return html`<h1>Rollouts</h1>
<p class="muted">Newest first, within retention (QUEUE_PREFIX=<code>${queuePrefix}</code>).</p>
<table>
<thead><tr>
  <th>name</th><th>created</th><th>state</th><th class="n">total</th><th class="n">pending</th><th class="n">created</th><th class="n">already</th>
  ${deletes && html`<th class="n">deleted</th><th class="n">already deleted</th>`}
  <th class="n">failed</th><th class="n">cancelled</th><th>progress</th>
</tr></thead>
<tbody>
${rollouts.map((r) => {
  const { done, percent } = progressOf(r);
  return html`<tr data-rollout="${r.rolloutId}">
  <td><a href="${rolloutPath(r.rolloutId)}">${r.name ?? r.rolloutId}</a>${r.name !== null && html`<br><span class="muted mono">${r.rolloutId}</span>`}</td>
  <td>${time(r.createdAt)}</td>
  <td>${stateBadge(r.state)}</td>
  <td class="n">${r.total}</td><td class="n">${r.pending}</td><td class="n">${r.created}</td><td class="n">${r.alreadyAssigned}</td>
  ${deletes && html`<td class="n">${r.deleted}</td><td class="n">${r.alreadyDeleted}</td>`}
  <td class="n${r.failed > 0 ? ' failed' : ''}">${r.failed}</td><td class="n">${r.cancelled}</td>
  <td><progress max="100" value="${percent}" title="${done} of ${r.total}"></progress> ${percent}%</td>
</tr>`;
})}
</tbody>
</table>`;
}

export interface RolloutPageData {
  view: RolloutView;
  failed: readonly Outcome[];
  flash: Flash | null;
  /** Whether the lane interval is GRAPH_RATE_LIMIT's (set on this server) or learned from Graph. */
  intervalSource: 'configured' | 'learned';
}

export function rolloutBody({ view, failed, flash, intervalSource }: RolloutPageData): SafeHtml {
  const s = view.status;
  const deletes = hasDeletes(s);
  const count = (label: string, key: string, value: number, extra = '') =>
    html`<div><dt>${label}</dt><dd data-k="${key}" class="${extra}">${value}</dd></div>`;
  const when = s.state === 'cancelled' ? s.cancelledAt : s.finishedAt;
  return html`<p><a href="/ui">← Rollouts</a></p>
<h1>${s.name ?? s.rolloutId}</h1>
<p class="muted"><span class="mono">${s.rolloutId}</span> · created ${time(s.createdAt)} from <span class="mono">${s.source}</span></p>
${flash && html`<p class="flash ${flash.kind}" role="status">${flash.text}</p>`}
<section data-poll="${rolloutApiPath(s.rolloutId)}" data-state="${s.state}">
<p>State: <span data-k="state" class="state-${s.state}">${s.state}</span>${when && html` at ${time(when)}`}
${s.state === 'running' && html` <span class="muted">· updated <span data-k="updated">now</span></span>`}</p>
<p class="big"><progress data-k="progress" max="100" value="${view.percent}"></progress>
<strong><span data-k="done">${view.done}</span> / <span data-k="total">${s.total}</span></strong> rows done (<span data-k="percent">${view.percent}</span>%)</p>
<dl class="counts">
  ${count('pending', 'pending', s.pending)}
  ${count('succeeded', 'succeeded', s.succeeded)}
  ${count('created', 'created', s.created)}
  ${count('already assigned', 'alreadyAssigned', s.alreadyAssigned)}
  ${deletes && [count('deleted', 'deleted', s.deleted), count('already deleted', 'alreadyDeleted', s.alreadyDeleted)]}
  ${count('failed', 'failed', s.failed, s.failed > 0 ? 'failed' : '')}
  ${count('cancelled', 'cancelled', s.cancelled)}
  ${count('retries', 'retries', s.retries)}
</dl>
<form method="post" action="${rolloutPath(s.rolloutId)}/retry">
  <button type="submit">Retry failed rows</button>
  <span class="muted">Re-enqueues every failed row with a fresh attempt budget, as <code>assignments retry</code>.</span>
</form>
<h2>Tenants</h2>
${tenantTable(view, deletes, intervalSource)}
</section>
${failedSection(s, failed)}`;
}

function tenantTable(view: RolloutView, deletes: boolean, intervalSource: RolloutPageData['intervalSource']): SafeHtml {
  const cell = (key: keyof TenantLine, value: string | number, cls = 'n') =>
    html`<td class="${cls}" data-t="${key}">${value}</td>`;
  return html`<table>
<thead><tr>
  <th>tenant</th><th class="n">total</th><th class="n">pending</th><th class="n">created</th><th class="n">already</th>
  ${deletes && html`<th class="n">deleted</th><th class="n">already deleted</th>`}
  <th class="n">failed</th><th class="n">cancelled</th><th>lane</th>
  <th class="n">${intervalSource === 'configured' ? 'interval (GRAPH_RATE_LIMIT)' : 'learned interval'}</th>
</tr></thead>
<tbody>
${view.tenants.map(
  (t) => html`<tr data-tenant="${t.tenantId}">
  <td class="mono">${t.tenantId}</td>
  ${cell('total', t.total)}${cell('pending', t.pending)}${cell('created', t.created)}${cell('alreadyAssigned', t.alreadyAssigned)}
  ${deletes && [cell('deleted', t.deleted), cell('alreadyDeleted', t.alreadyDeleted)]}
  ${cell('failed', t.failed)}${cell('cancelled', t.cancelled)}${cell('laneText', t.laneText, '')}${cell('intervalText', t.intervalText)}
</tr>`,
)}
</tbody>
</table>
${view.tenantsNotShown > 0 && html`<p class="muted">${view.tenantsNotShown} more tenants not shown (the first ${MAX_TENANTS} are); <code>assignments status ${view.status.rolloutId}</code> lists them all.</p>`}`;
}

function failedSection(s: RolloutView['status'], failed: readonly Outcome[]): SafeHtml {
  if (s.failed === 0) return html`<h2>Failed rows</h2><p class="muted" data-failed-rows="0">No failed rows.</p>`;
  return html`<h2>Failed rows (${s.failed})</h2>
${s.failed > failed.length && html`<p class="muted">Showing the first ${failed.length} of ${s.failed} (at most ${MAX_FAILED_ROWS}); <code>assignments report ${s.rolloutId} --outcome failed</code> has them all.</p>`}
<table data-failed-rows="${failed.length}">
<thead><tr><th class="n">row</th><th>tenant</th><th>configuration</th><th>group</th><th>code</th><th>errorCode</th><th>errorMessage</th><th class="n">httpStatus</th><th class="n">attempts</th></tr></thead>
<tbody>
${failed.map(
  (o) => html`<tr>
  <td class="n">${o.row}</td><td class="mono">${o.tenantId}</td><td class="mono">${o.configurationId}</td><td class="mono">${o.groupId}${o.action === 'delete' && html` <span class="muted">(delete)</span>`}</td>
  <td class="mono">${o.code ?? '–'}</td><td class="mono">${o.errorCode ?? '–'}</td><td class="msg">${o.errorMessage ?? '–'}</td>
  <td class="n">${o.httpStatus ?? '–'}</td><td class="n">${o.attempts}</td>
</tr>`,
)}
</tbody>
</table>`;
}

export function notFoundBody(what: string): SafeHtml {
  return html`<p><a href="/ui">← Rollouts</a></p><h1>Not found</h1><p>${what}</p>`;
}

/** Ids are ours (UUIDs), but a path segment is still encoded: the 404 page echoes whatever came. */
export function rolloutPath(rolloutId: string): string {
  return `/ui/rollouts/${encodeURIComponent(rolloutId)}`;
}

/** What the page's script polls (RolloutView as JSON). */
export function rolloutApiPath(rolloutId: string): string {
  return `/ui/api/rollouts/${encodeURIComponent(rolloutId)}`;
}

function stateBadge(state: RolloutState): SafeHtml {
  return html`<span class="state-${state}">${state}</span>`;
}

/** ISO to the second, as the CLI shows it; the full value stays in `datetime`. */
function time(iso: string): SafeHtml {
  return html`<time datetime="${iso}">${iso.replace(/\.\d+Z$/, 'Z').replace('T', ' ')}</time>`;
}
