// The console's map (console.js): the whole tree as one canvas, a block of
// small marks per province, one mark per node, coloured by health; which
// node is under the pointer; the counts in the header.
'use strict';

const COLOURS = {
  ok: '#43a047',
  warn: '#fbc02d',
  busy: '#8e7cc3',
  down: '#e53935',
  unknown: '#616161',
};
const TIER_ORDER = { TIER_NATIONAL: 0, TIER_PROVINCIAL: 1, TIER_DISTRICT: 2, TIER_SITE: 3 };

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
