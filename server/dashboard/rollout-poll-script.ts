/**
 * Keeps a running rollout's page current: polls `data-poll` (the RolloutView JSON) every 1.5 s and
 * writes the numbers into the elements marked `data-k` (rollout) and `data-t` (tenant row), with
 * textContent only, so nothing in the JSON can become markup. When the rollout stops running the
 * page reloads once, which renders the final failed rows, and, no longer running, polls no more.
 *
 * A constant: it takes nothing from the request, so it can run under the page's CSP nonce.
 */
export const ROLLOUT_POLL_SCRIPT = `
(function () {
  var root = document.querySelector('[data-poll]');
  if (!root || root.getAttribute('data-state') !== 'running') return;
  var url = root.getAttribute('data-poll');
  var COUNTS = ['done', 'total', 'percent', 'pending', 'succeeded', 'created', 'alreadyAssigned', 'deleted', 'alreadyDeleted', 'failed', 'cancelled', 'retries'];
  var TENANT = ['total', 'pending', 'created', 'alreadyAssigned', 'deleted', 'alreadyDeleted', 'failed', 'cancelled', 'laneText', 'intervalText'];
  function set(scope, attr, name, value) {
    var els = scope.querySelectorAll('[' + attr + '="' + name + '"]');
    for (var i = 0; i < els.length; i++) els[i].textContent = String(value);
  }
  function show(view) {
    var s = view.status;
    var values = { done: view.done, percent: view.percent };
    for (var i = 0; i < COUNTS.length; i++) {
      var k = COUNTS[i];
      set(root, 'data-k', k, k in values ? values[k] : s[k]);
    }
    set(root, 'data-k', 'state', s.state);
    var bars = root.querySelectorAll('progress[data-k="progress"]');
    for (var b = 0; b < bars.length; b++) bars[b].value = view.percent;
    var rows = root.querySelectorAll('tr[data-tenant]');
    var byId = {};
    for (var t = 0; t < view.tenants.length; t++) byId[view.tenants[t].tenantId] = view.tenants[t];
    for (var r = 0; r < rows.length; r++) {
      var line = byId[rows[r].getAttribute('data-tenant')];
      if (!line) continue;
      for (var j = 0; j < TENANT.length; j++) set(rows[r], 'data-t', TENANT[j], line[TENANT[j]]);
    }
    set(root, 'data-k', 'updated', new Date().toLocaleTimeString());
  }
  function tick() {
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401 || res.status === 404) throw new Error('stop ' + res.status);
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (view) {
        show(view);
        if (view.status.state !== 'running') { window.location.reload(); return; }
        setTimeout(tick, 1500);
      })
      .catch(function (err) {
        if (String(err.message).indexOf('stop ') === 0) { set(root, 'data-k', 'updated', 'stopped (' + err.message.slice(5) + ': reload the page)'); return; }
        setTimeout(tick, 5000);
      });
  }
  setTimeout(tick, 1500);
})();
`;
