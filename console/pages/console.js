// Cascade's command-center console: the whole tree as one map (map.js: a
// block of small marks per province, one mark per node, coloured by
// health), the controller's events, search, a node's details and the
// operators' actions (detail.js), and the selected sites' video (views.js).
// This file holds the state they share, the live stream and the start.
// Everything comes from topologyd's /console/api (console/server.h) with
// the operator's bearer token, kept for this tab in sessionStorage. When
// this console's controller stops leading, the page goes to the leader's
// console (findLeader below).
'use strict';

const TOKEN_KEY = 'cascade.console.token';
const MAX_EVENTS = 500;
const MAX_MATCHES = 50;
// Connections to this console that failed outright before the page asks
// the other consoles of its group who leads.
const FOLLOW_AFTER = 2;
const ASK_TIMEOUT_MS = 2000;

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
  group: [],           // the group's console URLs, as this console named them
  failures: 0,         // connections failed outright in a row
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
  if (event.audit && event.audit.who && kind !== 'LEADER') {
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
    // This console is gone (its controller killed, or exited when it
    // stepped down): another of the group may lead by now.
    state.failures += 1;
    if (state.failures >= FOLLOW_AFTER && await findLeader(abort, false)) return;
    return retry(abort);
  }
  if (response.status === 401 || response.status === 403) {
    const why = (await response.text()).trim();
    return askToken(response.status + ': ' + why);
  }
  if (!response.ok) {
    // A follower: its console names the leader's. A full console says so.
    const why = (await response.text()).trim();
    if (response.status === 503 && why.includes('lead') && await findLeader(abort, true)) return;
    return retry(abort, response.status + ': ' + why);
  }
  state.failures = 0;
  setConnection('live', true);
  learnGroup();
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
  else if (type === 'dropped') onEvent({ kind: 'KIND_DROPPED', detail: data + ' events not shown' });
}

// ---------------------------------------------------------------- the leader

// A console URL as a console of the group names it: HTTPS, or plain HTTP
// on loopback (as topologyd serves it), at /console; null otherwise.
function consoleUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch (e) {
    return null;
  }
  const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname);
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
  return secure && url.pathname === '/console' ? url : null;
}

// One console's answer to "who leads" (no credential), or null.
async function askLeader(base) {
  try {
    const response = await fetch(new URL('/console/api/leader', base), {
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    return response.ok ? await response.json() : null;
  } catch (e) {
    return null;
  }
}

// The group's consoles, as this one names them while it leads.
async function learnGroup() {
  const answer = await askLeader(location.origin);
  if (answer && Array.isArray(answer.consoles)) {
    state.group = answer.consoles.filter((text) => consoleUrl(text) !== null);
  }
}

// Goes to the console at `text` (a URL a console of the group named, never
// one from this page's input), handing it the token in the fragment, which
// is not sent to any server and which the next page removes at once.
function follow(abort, text) {
  const url = consoleUrl(text);
  if (!url || url.origin === location.origin || state.abort !== abort) return false;
  abort.abort();
  state.abort = null;
  setConnection('going to the leader\'s console, ' + url.origin, false);
  location.assign(url.href + (state.token ? '#token=' + encodeURIComponent(state.token) : ''));
  return true;
}

// Whether the page went to the leader's console: as this console names it
// (`reachable`, it answered 503), or else as the other consoles of the
// group answer (one that leads, or the one they name).
async function findLeader(abort, reachable) {
  const asked = reachable ? [location.href]
    : state.group.filter((text) => consoleUrl(text).origin !== location.origin);
  for (const base of asked) {
    const answer = await askLeader(base);
    if (!answer) continue;
    if (answer.leading && !reachable) return follow(abort, base);
    if (answer.leader && follow(abort, answer.leader)) return true;
  }
  return false;
}

// The token the console this page came from handed over (follow()).
function takeHandedToken() {
  const handed = /^#token=(.+)$/.exec(location.hash);
  if (!handed) return;
  state.token = decodeURIComponent(handed[1]);
  sessionStorage.setItem(TOKEN_KEY, state.token);
  history.replaceState(null, '', location.pathname + location.search);
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
  takeHandedToken();
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
