// The console's detail pane (console.js): the selected node's view from
// /console/api/node, its packet rate, and the operators' actions on it,
// each confirmed first and posted to /console/api/ACTION.
'use strict';

// ---------------------------------------------------------------- detail

function select(id) {
  const before = state.selected;
  state.selected = id;
  state.history = [];
  if (before) redraw([before]);
  redraw([id]);
  refreshDetail();
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  const response = await fetch('/console/api/node?id=' + encodeURIComponent(id), { headers: headers() });
  if (state.selected !== id) return;
  if (!response.ok) {
    $('detail-body').textContent = response.status + ': ' + (await response.text());
    return;
  }
  showDetail(await response.json());
}

function row(list, term, value) {
  if (value === undefined || value === '' || (Array.isArray(value) && !value.length)) return;
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = Array.isArray(value) ? value.join(', ') : String(value);
  list.append(dt, dd);
}

function showDetail(view) {
  state.view = view;
  const node = state.nodes.get(view.id) || {};
  const stats = view.stats || {};
  $('detail-title').textContent = view.id + ' (' + health(node) + ')';
  const list = document.createElement('dl');
  row(list, 'tier', (view.tier || '').replace(/^TIER_/, '').toLowerCase());
  row(list, 'status', (view.status || '').replace(/^STATUS_/, '').toLowerCase());
  row(list, 'province', node.province);
  row(list, 'active parent', (view.parents || [])[0]);
  row(list, 'standbys', (view.parents || []).slice(1));
  row(list, 'desired parent', view.desiredParent);
  row(list, 'receiving from', stats.receivingFrom);
  row(list, 'receiving', node.receiving ? 'yes' : 'no');
  row(list, 'last report', num(view.lastReportMsAgo) < 0 || view.lastReportMsAgo === undefined
    ? 'never' : num(view.lastReportMsAgo) + ' ms ago');
  row(list, 'assignment', 'v' + num(view.assignmentVersion) + ', acked v' + num(view.ackedVersion));
  row(list, 'ack error', view.ackError);
  row(list, 'packets in / out', num(stats.packetsIn) + ' / ' + num(stats.packetsOut));
  row(list, 'NACKs sent', num(stats.nacksSent));
  row(list, 'retransmissions', num(stats.retransmissions));
  row(list, 'drops', num(stats.drops));
  row(list, 'active children', view.activeChildren);
  row(list, 'standby children', view.standbyChildren);
  row(list, 'orphan', view.orphan ? 'yes' : undefined);
  row(list, 'on the big screen', view.upstreamSelected ? 'yes' : undefined);
  row(list, 'hold-down left', view.holdDownMsLeft ? num(view.holdDownMsLeft) + ' ms' : undefined);
  row(list, 'labels', Object.entries(view.labels || {}).map(([k, v]) => k + '=' + v));
  $('detail-body').replaceChildren(list);
  state.history.push([Date.now(), num(stats.packetsIn)]);
  if (state.history.length > 60) state.history.shift();
  spark();
  showActions(view);
}

// Packets per second over the last refreshes of the detail pane.
function spark() {
  const canvas = $('spark');
  const h = state.history;
  canvas.hidden = h.length < 3;
  if (canvas.hidden) return;
  const rates = [];
  for (let i = 1; i < h.length; i++) {
    const dt = (h[i][0] - h[i - 1][0]) / 1000;
    rates.push(dt > 0 ? Math.max(0, h[i][1] - h[i - 1][1]) / dt : 0);
  }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1, ...rates);
  ctx.strokeStyle = '#90caf9';
  ctx.beginPath();
  rates.forEach((r, i) => {
    const x = (i / Math.max(1, rates.length - 1)) * (canvas.width - 2) + 1;
    const y = canvas.height - 12 - (r / max) * (canvas.height - 16);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = '#9aa4b2';
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillText(Math.round(rates[rates.length - 1]) + ' packets/s in', 2, canvas.height - 10);
}

// ---------------------------------------------------------------- actions

const ACTIONS = {
  drain: 'Drain %s: its children move to their standbys.',
  restore: 'Restore %s: it takes its children back.',
  failover: 'Fail over %s: treated as down until restored, its children move to their standbys.',
  move: 'Move %s under another parent (its desired parent):',
  select: 'Put %s on the big screen (select its upstream) and watch it here.',
  release: 'Take %s off the big screen (release its upstream).',
};

// Relays one tier above `id`'s, but its desired parent: where it may move.
function parentsFor(id) {
  const node = state.nodes.get(id);
  if (!node) return [];
  const above = (TIER_ORDER[node.tier] ?? 0) - 1;
  const desired = state.view && state.view.id === id ? state.view.desiredParent : node.parent;
  return [...state.nodes.values()]
    .filter((n) => TIER_ORDER[n.tier] === above && n.id !== desired)
    .map((n) => n.id).sort();
}

function showActions(view) {
  const box = $('actions');
  box.replaceChildren();
  const names = view.tier === 'TIER_SITE' ? ['select', 'release', 'move', 'drain', 'restore']
    : view.tier === 'TIER_NATIONAL' ? ['drain', 'failover', 'restore']
      : ['drain', 'failover', 'restore', 'move'];
  for (const action of names) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = action;
    button.dataset.action = action;
    button.addEventListener('click', () => confirmAction(action, view.id));
    box.append(button);
  }
}

function confirmAction(action, id) {
  const dialog = $('confirm');
  $('confirm-text').textContent = ACTIONS[action].replace('%s', id);
  const parent = $('confirm-parent');
  parent.hidden = action !== 'move';
  if (action === 'move') {
    parent.replaceChildren(...parentsFor(id).map((p) => new Option(p, p)));
  }
  dialog.onclose = () => {
    if (dialog.returnValue === 'ok') act(action, id, action === 'move' ? parent.value : '');
  };
  dialog.returnValue = '';
  dialog.showModal();
}

// The server checks the role: a viewer's action is refused there (403).
async function act(action, id, parent) {
  const result = $('action-result');
  result.className = '';
  result.textContent = action + ' ' + id + (parent ? ' under ' + parent : '') + '...';
  const query = '?node=' + encodeURIComponent(id) +
    (parent ? '&parent=' + encodeURIComponent(parent) : '');
  const response = await fetch('/console/api/' + action + query,
                               { method: 'POST', headers: headers() });
  const text = (await response.text()).trim();
  if (response.ok) {
    result.textContent = action + ' ' + id + ': done ' + text;
  } else {
    result.className = 'refused';
    result.textContent = action + ' ' + id + ': ' + response.status + ' ' + text;
  }
  state.lastAction = { action, id, status: response.status, text };
}
