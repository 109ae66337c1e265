// Cascade's command-center console: the whole tree as one map (map.js: a
// block of small marks per province, one mark per node, coloured by
// health), the controller's events, search, a node's details and the
// operators' actions (detail.js), and the selected sites' video (views.js).
// This file holds the state they share, the live stream and the start.
// Everything comes from topologyd's /console/api (console/server.h) with
// the operator's bearer token, kept for this tab in sessionStorage.
'use strict';

const TOKEN_KEY = 'cascade.console.token';
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
