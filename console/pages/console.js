// Cascade's command-center console: the whole tree as one map (a block of
// small marks per province, one mark per node, coloured by health), the
// controller's events, search, a node's details, the operators' actions and
// the selected sites' video (views.js).
// Everything comes from topologyd's /console/api (console/server.h) with
// the operator's bearer token, kept for this tab in sessionStorage.
'use strict';

const TOKEN_KEY = 'cascade.console.token';
const COLOURS = {
  ok: '#43a047',
  warn: '#fbc02d',
  busy: '#8e7cc3',
  down: '#e53935',
  unknown: '#616161',
};
const TIER_ORDER = { TIER_NATIONAL: 0, TIER_PROVINCIAL: 1, TIER_DISTRICT: 2, TIER_SITE: 3 };
const MAX_EVENTS = 500;
const MAX_MATCHES = 50;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  nodes: new Map(),    // id -> ConsoleNode (JSON)
  groups: [],          // {name, x, y, cols, cells: [id]}
  where: new Map(),    // id -> {x, y}
  cell: 8,
  matches: new Set(),
  selected: null,
  events: [],
  eventKeys: new Set(),
  drawn: 0,
  abort: null,
  history: [],         // the selected node's [time ms, packets in]
  view: null,          // the detail pane's NodeView
  following: null,     // a follower's last refusal, shown once in the feed
  wall: null,          // CascadeViews.Wall
};

const $ = (id) => document.getElementById(id);
const num = (v) => (v === undefined ? 0 : Number(v));

// ---------------------------------------------------------------- health

function health(node) {
  switch (node.status) {
    case 'STATUS_DOWN':
    case 'STATUS_FAILED':
      return 'down';
    case 'STATUS_DRAINING':
    case 'STATUS_HOLD_DOWN':
      return 'busy';
    case 'STATUS_UP':
      if (!node.receiving || node.reportLate || node.orphan || node.ackError ||
          num(node.ackedVersion) < num(node.assignmentVersion)) {
        return 'warn';
      }
      return 'ok';
    default:
      return 'unknown';
  }
}

// ---------------------------------------------------------------- the map

function groupName(node) {
  return node.province || 'national';
}

// One block per province (national first), marks in tier then name order;
// the mark size is the largest that fits the pane, so every node shows.
function layout() {
  const byGroup = new Map();
  for (const node of state.nodes.values()) {
    const name = groupName(node);
    if (!byGroup.has(name)) byGroup.set(name, []);
    byGroup.get(name).push(node);
  }
  const names = [...byGroup.keys()].sort((a, b) =>
    a === 'national' ? -1 : b === 'national' ? 1 : a.localeCompare(b));
  const pane = $('map-pane');
  const width = Math.max(300, pane.clientWidth - 12);
  const height = Math.max(200, pane.clientHeight - 60);
  for (const cell of [14, 12, 10, 8, 7, 6, 5, 4, 3]) {
    const placed = place(names, byGroup, cell, width);
    if (placed.height <= height || cell === 3) {
      state.cell = cell;
      state.groups = placed.groups;
      resize(width, placed.height);
      break;
    }
  }
  state.where.clear();
  for (const group of state.groups) {
    group.cells.forEach((id, i) => {
      state.where.set(id, {
        x: group.x + (i % group.cols) * state.cell,
        y: group.y + LABEL + Math.floor(i / group.cols) * state.cell,
      });
    });
  }
  draw();
}

const LABEL = 14;
const GAP = 10;

function place(names, byGroup, cell, width) {
  const groups = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const name of names) {
    const members = byGroup.get(name).sort((a, b) =>
      (TIER_ORDER[a.tier] ?? 9) - (TIER_ORDER[b.tier] ?? 9) || a.id.localeCompare(b.id));
    const n = members.length;
    const cols = Math.max(8, Math.min(Math.ceil(Math.sqrt(n * 1.6)),
                                      Math.floor(width / cell)));
    const w = cols * cell;
    const h = LABEL + Math.ceil(n / cols) * cell;
    if (x > 0 && x + w > width) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    groups.push({ name, x, y, cols, w, h, cells: members.map((m) => m.id) });
    x += w + GAP;
    rowHeight = Math.max(rowHeight, h);
  }
  return { groups, height: y + rowHeight };
}

function resize(width, height) {
  const canvas = $('map');
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = width + 'px';
  canvas.style.height = height + 'px';
  canvas.width = Math.ceil(width * ratio);
  canvas.height = Math.ceil(height * ratio);
  canvas.getContext('2d').setTransform(ratio, 0, 0, ratio, 0, 0);
}

function draw() {
  const canvas = $('map');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  let drawn = 0;
  for (const group of state.groups) {
    ctx.fillStyle = '#9aa4b2';
    ctx.fillText(group.name + ' (' + group.cells.length + ')', group.x, group.y, group.w);
    for (const id of group.cells) {
      drawNode(ctx, id);
      drawn++;
    }
  }
  state.drawn = drawn;
}

function drawNode(ctx, id) {
  const node = state.nodes.get(id);
  const at = state.where.get(id);
  if (!node || !at) return;
  const s = state.cell;
  const inner = s > 4 ? s - 1 : s;
  ctx.clearRect(at.x, at.y, s, s);
  ctx.fillStyle = COLOURS[health(node)];
  // Relays are drawn whole, sites a little smaller: the tiers show apart.
  const inset = node.tier === 'TIER_SITE' && s >= 6 ? 1 : 0;
  ctx.fillRect(at.x + inset, at.y + inset, inner - 2 * inset, inner - 2 * inset);
  if (state.matches.has(id) || state.selected === id || node.upstreamSelected) {
    ctx.strokeStyle = state.selected === id ? '#ffffff' : node.upstreamSelected ? '#29b6f6' : '#ff80ff';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(at.x + 0.75, at.y + 0.75, inner - 1.5, inner - 1.5);
  }
}

function redraw(ids) {
  const ctx = $('map').getContext('2d');
  for (const id of ids) drawNode(ctx, id);
}

function nodeAt(x, y) {
  const s = state.cell;
  for (const group of state.groups) {
    if (x < group.x || x >= group.x + group.w || y < group.y + LABEL || y >= group.y + group.h) {
      continue;
    }
    const i = Math.floor((y - group.y - LABEL) / s) * group.cols + Math.floor((x - group.x) / s);
    return group.cells[i] ?? null;
  }
  return null;
}

function summarize() {
  const counts = { ok: 0, warn: 0, busy: 0, down: 0, unknown: 0 };
  for (const node of state.nodes.values()) counts[health(node)]++;
  $('summary').textContent = state.nodes.size + ' nodes: ' + counts.ok + ' receiving, ' +
    counts.warn + ' warning, ' + counts.busy + ' draining/held, ' + counts.down + ' down, ' +
    counts.unknown + ' unknown';
}

// ---------------------------------------------------------------- data

function onTree(tree) {
  state.nodes = new Map((tree.nodes || []).map((n) => [n.id, n]));
  state.wall.follow(state.nodes);
  layout();
  summarize();
  refreshDetail();
}

function onDelta(delta) {
  let structural = false;
  const changed = [];
  for (const node of delta.changed || []) {
    const before = state.nodes.get(node.id);
    if (!before || groupName(before) !== groupName(node) || before.tier !== node.tier) {
      structural = true;
    }
    state.nodes.set(node.id, node);
    changed.push(node.id);
  }
  for (const id of delta.removed || []) {
    state.nodes.delete(id);
    structural = true;
  }
  // The view wall taking or giving back room resizes the map.
  if (state.wall.follow(state.nodes) || structural) layout(); else redraw(changed);
  summarize();
  if (state.selected && changed.includes(state.selected)) refreshDetail();
}

function describe(event) {
  const kind = (event.kind || 'KIND_UNSPECIFIED').replace(/^KIND_/, '');
  const parts = [kind];
  if (event.nodeId) parts.push(event.nodeId);
  if (event.detail) parts.push(event.detail);
  if (event.audit && event.audit.who) {
    parts.push('by ' + event.audit.who + (event.audit.peer ? ' from ' + event.audit.peer : ''));
  }
  return { kind, text: parts.join(' ') };
}

// A reconnected stream starts with the audit history again: shown once.
function eventKey(event) {
  return [event.unixMs, event.kind, event.nodeId, event.detail].join('|');
}

function onEvent(event) {
  const key = eventKey(event);
  if (state.eventKeys.has(key)) return;
  state.eventKeys.add(key);
  state.events.push(event);
  if (state.events.length > MAX_EVENTS) {
    state.eventKeys.delete(eventKey(state.events.shift()));
  }
  const { kind, text } = describe(event);
  const item = document.createElement('li');
  item.className = 'k-' + kind;
  const when = new Date(num(event.unixMs) || Date.now());
  item.textContent = when.toLocaleTimeString([], { hour12: false }) + '.' +
    String(when.getMilliseconds()).padStart(3, '0') + ' ' + text;
  if (event.nodeId) item.addEventListener('click', () => select(event.nodeId));
  const list = $('events');
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// ---------------------------------------------------------------- the stream

function headers() {
  return { Authorization: 'Bearer ' + state.token };
}

function setConnection(text, on) {
  const el = $('connection');
  el.textContent = text;
  el.className = on ? 'state-on' : 'state-off';
}

// Server-sent events read through fetch, which can send the token
// (EventSource cannot set headers).
async function connect() {
  if (state.abort) state.abort.abort();
  const abort = new AbortController();
  state.abort = abort;
  setConnection('connecting', false);
  let response;
  try {
    response = await fetch('/console/api/stream', { headers: headers(), signal: abort.signal });
  } catch (e) {
    return retry(abort);
  }
  if (response.status === 401 || response.status === 403) {
    const why = (await response.text()).trim();
    return askToken(response.status + ': ' + why);
  }
  if (!response.ok) {
    // A follower names the leader (once in the feed); a full console says so.
    const why = (await response.text()).trim();
    if (response.status === 503 && why.includes('lead') && why !== state.following) {
      state.following = why;
      onEvent({ kind: 'KIND_LEADER', detail: why, unixMs: Date.now() });
    }
    return retry(abort, response.status + ': ' + why);
  }
  state.following = null;
  setConnection('live', true);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (e) {
    // Aborted or cut: reconnect below.
  }
  retry(abort);
}

function retry(abort, why) {
  if (state.abort !== abort) return;
  setConnection(why ? 'reconnecting (' + why + ')' : 'reconnecting', false);
  setTimeout(() => { if (state.abort === abort) connect(); }, 1000);
}

function dispatch(block) {
  let type = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return;
  if (type === 'tree') onTree(JSON.parse(data));
  else if (type === 'delta') onDelta(JSON.parse(data));
  else if (type === 'event') onEvent(JSON.parse(data));
  else if (type === 'leader') onEvent(Object.assign(JSON.parse(data), { kind: 'KIND_LEADER' }));
  else if (type === 'dropped') onEvent({ kind: 'KIND_DROPPED', detail: data + ' events not shown' });
}

// ---------------------------------------------------------------- login

function askToken(why) {
  if (state.abort) state.abort.abort();
  state.abort = null;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  setConnection('not connected', false);
  $('login').hidden = false;
  $('login-error').textContent = why || '';
  $('token').focus();
}

// ---------------------------------------------------------------- search

function search(text) {
  const query = text.trim().toLowerCase();
  const before = [...state.matches];
  state.matches = new Set();
  const list = $('matches');
  list.replaceChildren();
  if (query) {
    for (const node of state.nodes.values()) {
      if (node.id.toLowerCase().includes(query) ||
          (node.province || '').toLowerCase().includes(query) ||
          (node.parent || '').toLowerCase().includes(query)) {
        state.matches.add(node.id);
      }
    }
    [...state.matches].sort().slice(0, MAX_MATCHES).forEach((id) => {
      const item = document.createElement('li');
      item.textContent = id + ' (' + health(state.nodes.get(id)) + ')';
      item.addEventListener('click', () => select(id));
      list.append(item);
    });
    if (state.matches.size > MAX_MATCHES) {
      const more = document.createElement('li');
      more.textContent = '... ' + (state.matches.size - MAX_MATCHES) + ' more, outlined on the map';
      list.append(more);
    }
  }
  redraw(before.concat([...state.matches]));
}

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

// ---------------------------------------------------------------- start

function start() {
  // The selected sites, played beside the map (views.js).
  state.wall = new CascadeViews.Wall({
    element: $('wall'),
    headers,
    onPick: select,
    onRelease: (id) => confirmAction('release', id),
  });
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('token').value = '';
    $('login').hidden = true;
    connect();
  });
  $('signout').addEventListener('click', () => askToken(''));
  $('search').addEventListener('input', (e) => search(e.target.value));
  $('map').addEventListener('click', (e) => {
    const box = e.target.getBoundingClientRect();
    const id = nodeAt(e.clientX - box.left, e.clientY - box.top);
    if (id) select(id);
  });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(layout, 150);
  });
  setInterval(() => { if (state.selected && !document.hidden) refreshDetail(); }, 2000);
  if (state.token) connect(); else askToken('');
}

// For tests and the curious: the state the map is drawn from.
window.cascadeConsole = {
  state,
  health: (id) => (state.nodes.has(id) ? health(state.nodes.get(id)) : null),
};

start();
