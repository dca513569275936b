import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { html, SafeHtml } from './html.js';

export interface Page {
  title: string;
  body: SafeHtml;
  /** A constant script (never built from request data); it runs under this response's nonce. */
  script?: string;
  /** Show the logout button: the dashboard has a token and the request carried a session. */
  logout?: boolean;
}

/**
 * Everything is served from this process (the network may be loopback only, and an operator's
 * browser should not tell a CDN what it looks at). Progress uses <progress>, not inline widths,
 * so the policy needs no 'unsafe-inline'.
 */
const STYLE = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d; --bad: #b91c1c; --warn: #b45309; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.5rem; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; }
header nav { display: flex; gap: 1rem; flex: 1; }
main { padding: 1rem 1.5rem 3rem; max-width: 1400px; overflow-x: auto; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; word-break: break-word; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.msg { min-width: 20rem; max-width: 40rem; word-break: break-word; }
td.mono { white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
progress { width: 10rem; height: .9rem; vertical-align: middle; }
.big progress { width: 100%; max-width: 40rem; height: 1.2rem; }
.muted { color: var(--muted); }
.state-running { color: var(--warn); font-weight: 600; }
.state-finished { color: var(--ok); font-weight: 600; }
.state-cancelled { color: var(--muted); font-weight: 600; }
.failed { color: var(--bad); }
.flash { padding: .6rem .9rem; border-radius: 4px; margin: 0 0 1rem; border: 1px solid var(--line); }
.flash.ok { border-color: var(--ok); }
.flash.error { border-color: var(--bad); color: var(--bad); }
dl.counts { display: grid; grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: .4rem 1rem; margin: 1rem 0; }
dl.counts div { border: 1px solid var(--line); border-radius: 4px; padding: .4rem .6rem; }
dl.counts dt { color: var(--muted); font-size: .85em; }
dl.counts dd { margin: 0; font-size: 1.25rem; font-variant-numeric: tabular-nums; }
form.inline { display: inline; margin: 0; }
button { font: inherit; padding: .35rem .9rem; cursor: pointer; }
.login { max-width: 24rem; margin: 4rem auto; }
.login input { font: inherit; width: 100%; box-sizing: border-box; padding: .4rem; margin: .3rem 0 .8rem; }
`;

/** Sends a dashboard page with the headers every page gets (policy, no caching of tenant data). */
export function sendPage(reply: FastifyReply, page: Page, statusCode = 200): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  const document = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${page.title} · graph-assignments</title>
<style nonce="${nonce}">${new SafeHtml(STYLE)}</style>
</head>
<body>
<header>
  <span class="brand">graph-assignments</span>
  <nav><a href="/ui">Rollouts</a><a href="/ui/queues">Queues</a></nav>
  ${page.logout && html`<form class="inline" method="post" action="/ui/logout"><button type="submit">Log out</button></form>`}
</header>
<main>
${page.body}
</main>
${page.script !== undefined && html`<script nonce="${nonce}">${new SafeHtml(page.script)}</script>`}
</body>
</html>
`;
  return reply
    .code(statusCode)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header(
      'content-security-policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    )
    .send(document.value);
}
