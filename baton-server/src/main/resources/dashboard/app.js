// Baton operator dashboard: polls this node's /api/... every 2 s and redraws the cards.
// No framework and no innerHTML: every string from the API (pool keys, tokens, event names are
// user input) reaches the page only as a text node or an attribute value.
'use strict';
(() => {
  const REFRESH_MS = 2000;
  const FETCH_TIMEOUT_MS = 4000; // shorter than a human's patience, longer than /api/cluster's 1 s member wait
  const BUSIEST_POOLS = 10;
  const POOL_DETAILS = 5;        // holders are fetched for the first few pools only, one request each
  const GROUP_TARGETS = 20;
  const LOCKS_SHOWN = 50;
  const HISTORY_MS = 5 * 60 * 1000;  // what the sparklines span
  const WINDOW_MS = 60 * 1000;       // percentiles and per-key rates: over about the last minute
  const SVG_NS = 'http://www.w3.org/2000/svg';
  // Distinct on a light background; targets beyond 10 reuse them dashed.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
                   '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const MAX_COLOR = '#1f2933';

  const $ = (sel) => document.querySelector(sel);

  // ---- DOM helpers ------------------------------------------------------------------------------

  function build(make, tag, attrs, children) {
    const e = make(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c)); // strings become text nodes: escaped by construction
    }
    return e;
  }
  const el = (tag, attrs, ...kids) => build((t) => document.createElement(t), tag, attrs, kids);
  const sv = (tag, attrs, ...kids) => build((t) => document.createElementNS(SVG_NS, t), tag, attrs, kids);

  function fillBody(table, rows, emptyText) {
    const body = table.tBodies[0];
    const cols = table.tHead.rows[0].cells.length;
    body.replaceChildren(...(rows.length ? rows
      : [el('tr', { class: 'empty' }, el('td', { colspan: cols }, emptyText))]));
  }

  // ---- formatting -------------------------------------------------------------------------------

  const num = (n) => (n === null || n === undefined || n < 0 ? '–' : String(n));
  const pad2 = (n) => String(n).padStart(2, '0');

  // A duration in ms as "0.4s", "3.2s", "4m 05s", "2h 03m", "3d 04h".
  function dur(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '–';
    const s = Math.max(0, ms) / 1000;
    if (s < 60) return s.toFixed(1) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + pad2(Math.floor(s % 60)) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + pad2(Math.floor((s % 3600) / 60)) + 'm';
    return Math.floor(s / 86400) + 'd ' + pad2(Math.floor((s % 86400) / 3600)) + 'h';
  }

  // Axis label for an offset before now: "30s", "2m", "1m30s".
  function shortDur(ms) {
    const s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    return Math.floor(s / 60) + 'm' + (s % 60 ? pad2(s % 60) + 's' : '');
  }

  const clock = (d) => pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());

  // "a, b, c +4" with the full list as a tooltip, so a session holding 500 things keeps one line.
  function listCell(items, max = 3) {
    const all = (items || []).map(String);
    if (!all.length) return el('td', { class: 'muted' }, '–');
    const shown = all.slice(0, max).join(', ') + (all.length > max ? ' +' + (all.length - max) : '');
    return el('td', { class: 'mono list', title: all.join('\n') }, shown);
  }

  // ---- the token --------------------------------------------------------------------------------

  // A node with --auth-token-file answers its admin API only to a bearer token (role read to look,
  // admin to close a session). The token lives in sessionStorage: it stays while the tab is open,
  // goes with it, and never appears in a URL (nor in a cookie, so no other site's page can make the
  // browser send it).
  const TOKEN_KEY = 'baton.token';
  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  let token = storedToken();
  let authError = null; // the last 401/403 of a refresh, or null

  const isAuthError = (e) => e && (e.status === 401 || e.status === 403);

  function showTokenForm() {
    $('#token-form').hidden = false;
    $('#token-input').placeholder = token ? 'token set (enter another)' : 'bearer token';
  }

  function showAuth() {
    const banner = $('#auth-banner');
    if (!authError) {
      banner.hidden = true;
      banner.removeAttribute('data-status');
      return;
    }
    showTokenForm();
    banner.hidden = false;
    banner.setAttribute('data-status', String(authError.status));
    if (authError.status === 401) {
      banner.textContent = token
        ? 'This node did not accept the token (' + authError.serverMessage + '): enter another one above.'
        : 'This node asks for a token: enter one with the role read (admin to close sessions) above.';
    } else {
      banner.textContent = 'The token may not do this (' + authError.serverMessage
        + '): the dashboard needs a token with the role read, closing a session the role admin.';
    }
  }

  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault(); // no navigation: the token must not reach a URL or the history
    const input = $('#token-input');
    token = input.value.trim();
    input.value = '';
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage off: the token lasts until the page is reloaded */ }
    showTokenForm();
    loop();
  });
  $('#token-forget').addEventListener('click', () => {
    token = '';
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
    showTokenForm();
    loop();
  });
  if (token) showTokenForm();

  // ---- fetching ---------------------------------------------------------------------------------

  async function api(path, init, asText) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    const headers = Object.assign({}, init && init.headers);
    if (token) headers.Authorization = 'Bearer ' + token;
    try {
      const r = await fetch(path, Object.assign({ cache: 'no-store', signal: ctl.signal }, init, { headers }));
      const body = asText && r.ok ? await r.text() : await r.json().catch(() => null);
      if (!r.ok) {
        const msg = body && (body.message || body.error);
        const err = new Error(r.status + (msg ? ' ' + msg : ''));
        err.status = r.status;
        err.serverMessage = msg || String(r.status);
        throw err;
      }
      return body;
    } catch (e) {
      throw e.name === 'AbortError' ? new Error('no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s') : e;
    } finally {
      clearTimeout(timer);
    }
  }

  const settle = (promises) => Promise.allSettled(promises)
    .then((rs) => rs.map((r) => (r.status === 'fulfilled' ? { ok: r.value } : { err: r.reason })));

  // Durations use the server's clock (cluster.now), advanced by the browser's monotonic clock
  // between refreshes, so a skewed laptop clock does not distort ages.
  let serverNow = null;
  let serverNowAt = 0;
  const now = () => (serverNow === null ? Date.now() : serverNow + (performance.now() - serverNowAt));
  // Stamped times (since, openedAt) are in the cluster time, which a stepped wall clock does not
  // move: their ages are measured against cluster.clusterTime.
  let clusterNow = null;
  const stampNow = () => (clusterNow === null ? now() : clusterNow + (performance.now() - serverNowAt));

  // ---- refresh loop -----------------------------------------------------------------------------

  let lastOkAt = null;     // performance.now() of the last refresh where the node answered
  let lastOkDate = null;
  let lastError = null;
  let timer = null;
  let running = false;
  let again = false;

  async function refresh() {
    const [cluster, pools, dispatch, history, events, queues, sessions, metrics, locks] = await settle([
      api('/api/cluster'),
      api('/api/pools?sort=waiters&limit=' + BUSIEST_POOLS),
      api('/api/dispatch'),
      api('/api/dispatch-history'),
      api('/api/events'),
      api('/api/queues'),
      api('/api/sessions'),
      api('/metrics', undefined, true),
      api('/api/locks?limit=' + LOCKS_SHOWN),
    ]);
    if (metrics.ok) remember(parseMetrics(metrics.ok));
    if (cluster.ok) rememberIndexes(cluster.ok);
    if (cluster.ok) {
      serverNow = cluster.ok.now;
      clusterNow = typeof cluster.ok.clusterTime === 'number' ? cluster.ok.clusterTime : null;
      serverNowAt = performance.now();
    }
    // Second round: details that need the first round's names. A pool that empties between the
    // two requests answers 404; that only loses its holder line, so errors here are ignored.
    const poolKeys = pools.ok ? pools.ok.pools.slice(0, POOL_DETAILS).map((p) => p.key) : [];
    const groupNames = dispatch.ok ? dispatch.ok.groups.map((g) => g.name) : [];
    const details = await settle([
      ...poolKeys.map((k) => api('/api/pools/' + encodeURIComponent(k))),
      ...groupNames.map((g) => api('/api/dispatch/' + encodeURIComponent(g) + '?limit=20')),
    ]);
    const poolDetail = new Map(poolKeys.map((k, i) => [k, details[i].ok]));
    const groupDetail = new Map(groupNames.map((g, i) => [g, details[poolKeys.length + i].ok]));

    // Each card keeps its last content when its own request failed, and says so.
    section('cluster-card', cluster, () => renderCluster(cluster.ok));
    section('pools-card', pools, () => renderPools(pools.ok, poolDetail));
    section('dispatch-card', dispatch.ok && history.err ? history : dispatch,
      () => renderDispatch(dispatch.ok, history.ok, groupDetail));
    section('events-card', events, () => renderEvents(events.ok));
    section('queues-card', queues, () => renderQueues(queues.ok));
    section('sessions-card', sessions, () => renderSessions(sessions.ok));
    section('rates-card', metrics, renderRates);
    section('hot-keys-card', metrics, renderHotKeys);
    section('raft-card', metrics.ok && cluster.err ? cluster : metrics, () => renderRaft(cluster.ok));
    section('locks-card', locks, () => renderLocks(locks.ok));

    const all = [cluster, pools, dispatch, history, events, queues, sessions, metrics, locks];
    // A refused token is not an unreachable node: it gets its own banner, next to the token field.
    const refused = all.find((r) => isAuthError(r.err));
    authError = refused ? refused.err : null;
    if (cluster.ok) {
      lastOkAt = performance.now();
      lastOkDate = new Date();
      lastError = null;
    } else {
      lastError = isAuthError(cluster.err) ? null : cluster.err;
    }
    if (all.every((r) => r.ok)) document.body.setAttribute('data-loaded', 'true');
    showAuth();
    showStatus();
  }

  function section(cardId, result, render) {
    const card = document.getElementById(cardId);
    let note = card.querySelector('.card-error');
    if (result.ok) {
      if (note) note.remove();
      if (render) render();
      return;
    }
    if (!note) {
      note = el('span', { class: 'card-error' });
      card.querySelector('h2').append(note);
    }
    note.textContent = 'stale: ' + result.err.message;
  }

  function showStatus() {
    const banner = $('#banner');
    const ago = lastOkAt === null ? null : Math.round((performance.now() - lastOkAt) / 1000);
    $('#updated').textContent = lastOkDate ? 'updated ' + clock(lastOkDate) + (ago >= 5 ? ' (' + ago + 's ago)' : '')
      : 'loading…';
    if (!lastError) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    banner.textContent = 'Node unreachable (' + lastError.message + ') — '
      + (ago === null ? 'no data yet' : 'last updated ' + ago + 's ago; showing the last data');
  }

  async function loop() {
    clearTimeout(timer);
    if (running) { again = true; return; } // a refresh is in flight: run once more right after it
    running = true;
    try {
      await refresh();
    } catch (e) {
      // A rendering bug must not stop the loop; show it instead of going silently stale.
      console.error(e);
      lastError = new Error('dashboard error: ' + e.message);
      showStatus();
    } finally {
      running = false;
      timer = setTimeout(loop, again ? 0 : REFRESH_MS);
      again = false;
    }
  }

  // ---- cluster ----------------------------------------------------------------------------------

  function renderCluster(c) {
    $('#node-id').textContent = c.nodeId + ' · ' + c.self;
    const role = $('#role');
    const isLeader = c.leader && c.leader === c.self;
    role.textContent = isLeader ? 'leader' : c.leader ? 'follower' : 'no leader';
    role.className = 'badge ' + (isLeader ? 'lead' : c.leader ? 'follow' : 'bad');
    const leader = $('#leader');
    leader.setAttribute('data-leader', c.leader || '');
    leader.textContent = c.leader ? (c.leaderNodeId || '?') + ' · ' + c.leader : 'none known';
    $('#term').textContent = num(c.term);
    $('#last-index').textContent = num(c.summary && c.summary.lastIndex);
    const skew = $('#clock-banner');
    skew.hidden = !c.clockSkewWarning;
    if (c.clockSkewWarning) {
      skew.textContent = 'Clock skew: the cluster time is ' + dur(Math.abs(c.clockSkewMs))
        + (c.clockSkewMs > 0 ? ' ahead of' : ' behind') + ' this node\'s clock (bound '
        + dur(c.clockSkewWarnMs) + '). Waits keep their timeouts; check NTP on this node.';
    }

    const rows = c.members.map((m) => {
      const status = !m.reachable
        ? el('td', { class: 'bad status', title: m.failure || '' }, 'unreachable' + (m.failure ? ': ' + m.failure : ''))
        : m.failure ? el('td', { class: 'warn status', title: m.failure }, m.failure)
        : el('td', { class: 'ok' }, 'ok');
      return el('tr', { class: 'member' + (m.leader ? ' leader' : ''), 'data-node-id': m.nodeId },
        el('td', { class: 'mono strong' }, m.nodeId,
          m.raftAddress === c.self ? el('span', { class: 'tag' }, 'this node') : null),
        el('td', { class: 'mono' }, m.raftAddress),
        el('td', { class: 'mono' }, m.apiAddress || '–'),
        el('td', {}, m.leader ? el('span', { class: 'badge lead' }, '★ leader') : 'follower'),
        el('td', { class: 'num' }, num(m.term)),
        el('td', { class: 'num' }, num(m.commitIndex)),
        el('td', { class: 'num' }, num(m.appliedIndex)),
        el('td', { class: 'num' }, num(m.lastSnapshotIndex)),
        status);
    });
    fillBody($('#members'), rows, 'no members known');
  }

  // ---- pools ------------------------------------------------------------------------------------

  function renderPools(p, detail) {
    const t = p.totals || {};
    const stats = [['keys', t.keys], ['holding', t.processing], ['waiting', t.waiting], ['acquired', t.acquired],
      ['released', t.released], ['done', t.done], ['timeouts', t.timeouts], ['queue full', t.queueFull]];
    $('#pool-totals').replaceChildren(...stats.map(([k, v]) =>
      el('span', { class: 'stat' + ((k === 'timeouts' || k === 'queue full') && v > 0 ? ' warn' : '') },
        el('span', { class: 'k' }, k), el('span', { class: 'v' }, num(v)))));

    const at = stampNow();
    const rows = p.pools.map((pool) => {
      const d = detail.get(pool.key);
      const lines = [];
      if (d) {
        for (const h of d.holders.slice(0, 3)) {
          lines.push(el('div', {}, 'session #' + h.session + ' fence ' + h.fence + ' for ' + dur(at - h.since)));
        }
        if (d.holders.length > 3) lines.push(el('div', { class: 'muted' }, '+' + (d.holders.length - 3) + ' more holders'));
        if (d.waiters.length) {
          const oldest = d.waiters.reduce((a, b) => (b.since < a.since ? b : a));
          lines.push(el('div', { class: 'muted' }, d.waiters.length + ' waiting, longest #' + oldest.session
            + ' for ' + dur(at - oldest.since)));
        }
      }
      return el('tr', { class: 'pool', 'data-key': pool.key, 'data-holders': pool.holders, 'data-waiters': pool.waiters },
        el('td', { class: 'mono key', title: pool.key }, pool.key),
        el('td', { class: 'num' }, String(pool.holders)),
        el('td', { class: 'num' + (pool.waiters > 0 ? ' warn' : '') }, String(pool.waiters)),
        el('td', { class: 'mono detail' }, ...lines));
    });
    fillBody($('#pools'), rows, 'no pool has holders or waiters');
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  function renderDispatch(d, history, detail) {
    const hist = new Map(((history && history.groups) || []).map((g) => [g.name, g]));
    const interval = (history && history.intervalMs) || REFRESH_MS;
    $('#history-note').textContent = history ? 'sampled every ' + dur(interval) + ' by this node' : '';
    const box = $('#dispatch');
    if (!d.groups.length) {
      box.replaceChildren(el('p', { class: 'muted empty' }, 'no dispatch groups'));
      return;
    }
    const charts = [];
    box.replaceChildren(...d.groups.map((g) => {
      const stats = [['head', g.head], ['targets', g.targets], ['locked', g.locked], ['disabled', g.disabled],
        ['max lag', g.maxLag], ['total lag', g.totalLag]];
      const chart = el('div', { class: 'lag-chart', 'data-group': g.name, 'data-points': 0 });
      const block = el('div', { class: 'group', 'data-group': g.name },
        el('h3', {}, el('span', { class: 'mono' }, g.name),
          el('span', { class: 'stats inline' }, ...stats.map(([k, v]) =>
            el('span', { class: 'stat' + (k === 'disabled' && v > 0 ? ' warn' : '') },
              el('span', { class: 'k' }, k), el('span', { class: 'v' }, num(v)))))),
        el('div', { class: 'group-body' }, chart, targetTable(g.name, detail.get(g.name))));
      charts.push([chart, hist.get(g.name)]);
      return block;
    }));
    // Drawn once attached, so each chart can size itself to its grid cell.
    for (const [chart, h] of charts) drawChart(chart, h, interval);
  }

  function targetTable(group, g) {
    const table = el('table', { class: 'targets', 'data-group': group },
      el('thead', {}, el('tr', {}, ...['target', 'seen', 'lag', 'touched', 'holder', 'disabled']
        .map((h, i) => el('th', { class: i === 0 ? null : 'num' }, h)))),
      el('tbody'));
    const targets = g ? g.targets.slice().sort((a, b) => b.lag - a.lag || (a.id < b.id ? -1 : 1)) : [];
    const rows = targets.slice(0, GROUP_TARGETS).map((t) =>
      el('tr', { class: 'target' + (t.disabled ? ' disabled' : ''), 'data-target': t.id },
        el('td', { class: 'mono key', title: t.name && t.name !== t.id ? t.id + ' (' + t.name + ')' : t.id }, t.id),
        el('td', { class: 'num' }, num(t.seen)),
        el('td', { class: 'num strong' }, num(t.lag)),
        el('td', { class: 'num' }, t.secondsSinceTouched === null || t.secondsSinceTouched === undefined
          ? 'never' : dur(t.secondsSinceTouched * 1000) + ' ago'),
        el('td', { class: 'num' }, t.holder ? '#' + t.holder : '–'),
        el('td', { class: 'num' + (t.disabled ? ' warn' : '') }, t.disabled ? 'yes' : '')));
    fillBody(table, rows, g ? 'no targets' : 'details unavailable');
    const wrap = el('div', { class: 'scroll targets-wrap' }, table);
    if (g && g.targets.length > GROUP_TARGETS) {
      wrap.append(el('div', { class: 'muted foot' }, 'top ' + GROUP_TARGETS + ' of ' + g.targets.length + ' by lag'));
    }
    return wrap;
  }

  // 1-2-5 steps so axis labels are round numbers.
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // Line chart in inline SVG. One thin line per listed target, a thick dark line for the group's
  // max lag; null samples break a line (a target that did not exist yet).
  function drawChart(box, h, intervalMs) {
    const W = Math.max(320, box.clientWidth || 560);
    const H = 210;
    const M = { l: 52, r: 14, t: 12, b: 26 };
    const pw = W - M.l - M.r;
    const ph = H - M.t - M.b;
    const times = (h && h.times) || [];
    const series = [];
    if (times.length) {
      series.push({ label: 'max lag (all targets)', values: h.maxLag || [], color: MAX_COLOR, width: 3.5, max: true });
      (h.targets || []).forEach((t, i) => series.push({
        label: t.id, values: t.lag || [], color: PALETTE[i % PALETTE.length], width: 1.6,
        dash: i >= PALETTE.length ? '5 3' : null,
      }));
    }

    // Domains. x ends at the server's "now" and spans at least a minute, so a fresh node with one
    // sample shows a dot at the right edge instead of dividing by a zero-width range.
    const tEnd = Math.max(times.length ? times[times.length - 1] : 0, now());
    const tStart = tEnd - Math.max(times.length ? tEnd - times[0] : 0, 60000, intervalMs);
    let vMax = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > vMax) vMax = v;
    const yStep = Math.max(1, niceStep(Math.max(vMax, 1) / 4)); // lag is a count: never step below 1
    const yTop = Math.max(yStep, Math.ceil(vMax / yStep) * yStep);
    const x = (t) => M.l + ((t - tStart) / (tEnd - tStart)) * pw;
    const y = (v) => M.t + ph - (v / yTop) * ph;
    const f = (n) => n.toFixed(1);

    const svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-label': 'dispatch lag over time' });
    const grid = sv('g', { class: 'grid' });
    const labels = sv('g', { class: 'axis' });
    for (let v = 0; v <= yTop + 1e-9; v += yStep) {
      grid.append(sv('line', { x1: M.l, x2: W - M.r, y1: f(y(v)), y2: f(y(v)) }));
      labels.append(sv('text', { x: M.l - 6, y: f(y(v) + 3.5), 'text-anchor': 'end' }, String(Math.round(v))));
    }
    const span = tEnd - tStart;
    const xStep = [5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].map((s) => s * 1000)
      .find((s) => span / s <= 6) || 3600000;
    for (let k = 0; tEnd - k * xStep >= tStart - 1; k++) {
      const px = f(x(tEnd - k * xStep));
      grid.append(sv('line', { x1: px, x2: px, y1: M.t, y2: M.t + ph }));
      labels.append(sv('text', { x: px, y: H - 8, 'text-anchor': k === 0 ? 'end' : 'middle' },
        k === 0 ? 'now' : '−' + shortDur(k * xStep)));
    }
    labels.append(sv('text', { x: 12, y: M.t + ph / 2, 'text-anchor': 'middle',
      transform: 'rotate(-90 12 ' + (M.t + ph / 2) + ')' }, 'lag'));
    svg.append(grid, sv('line', { class: 'frame', x1: M.l, x2: M.l, y1: M.t, y2: M.t + ph }),
      sv('line', { class: 'frame', x1: M.l, x2: W - M.r, y1: M.t + ph, y2: M.t + ph }), labels);

    let points = 0;
    const lines = sv('g', { fill: 'none', 'stroke-linejoin': 'round', 'stroke-linecap': 'round' });
    for (const s of series) {
      const g = sv('g', { stroke: s.color, 'stroke-width': s.width, 'stroke-dasharray': s.dash, class: s.max ? 'max' : null },
        sv('title', {}, s.label));
      let d = '';
      for (let i = 0; i < times.length; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) continue;
        points++;
        const prev = s.values[i - 1];
        const next = s.values[i + 1];
        const joined = i > 0 && prev !== null && prev !== undefined;
        d += (joined ? 'L' : 'M') + f(x(times[i])) + ',' + f(y(v));
        if (!joined && (next === null || next === undefined)) {
          // An isolated sample has no segment to draw; mark it with a dot.
          g.append(sv('circle', { cx: f(x(times[i])), cy: f(y(v)), r: s.width + 0.5, fill: s.color, stroke: 'none' }));
        }
      }
      if (d) g.append(sv('path', { d }));
      lines.append(g);
    }
    svg.append(lines);
    if (!points) {
      svg.append(sv('text', { class: 'nodata', x: M.l + pw / 2, y: M.t + ph / 2, 'text-anchor': 'middle' },
        'no lag samples yet'));
    }

    const last = (vals) => { for (let i = vals.length - 1; i >= 0; i--) if (vals[i] !== null) return vals[i]; return null; };
    const legend = el('div', { class: 'legend' }, ...series.map((s) =>
      el('span', { class: 'item' + (s.max ? ' max' : '') },
        el('span', { class: 'swatch' + (s.dash ? ' dashed' : ''), style: 'border-color:' + s.color }),
        el('span', { class: 'mono' }, s.label), el('span', { class: 'muted' }, num(last(s.values))))));
    box.setAttribute('data-points', points);
    box.replaceChildren(svg, legend);
  }


  // ---- metrics over time ------------------------------------------------------------------------

  // The Prometheus text format, as much of it as /metrics uses: "# ..." lines, then
  // name{label="value",...} value. Label values may hold escaped quotes, backslashes and newlines.
  function parseMetrics(text) {
    const byName = new Map();
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      let i = 0;
      while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
      const name = line.slice(0, i);
      const labels = {};
      if (line[i] === '{') {
        i++;
        while (i < line.length && line[i] !== '}') {
          const eq = line.indexOf('=', i);
          const key = line.slice(i, eq).trim();
          let j = eq + 2; // past ="
          let v = '';
          while (j < line.length && line[j] !== '"') {
            if (line[j] === '\\') {
              j++;
              v += line[j] === 'n' ? '\n' : line[j];
            } else {
              v += line[j];
            }
            j++;
          }
          labels[key] = v;
          i = j + 1;
          if (line[i] === ',') i++;
        }
        i++;
      }
      const value = parseFloat(line.slice(i).trim().split(' ')[0]);
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push({ labels, value });
    }
    return byName;
  }

  // Samples of /metrics, oldest first, each { t: performance.now(), m: name -> [{labels, value}] }.
  const samples = [];

  function remember(byName) {
    const at = performance.now();
    samples.push({ t: at, m: byName });
    while (samples.length > 2 && at - samples[0].t > HISTORY_MS + 2 * REFRESH_MS) samples.shift();
  }

  // The sum of a metric's samples whose labels include `match` (every series when it is empty).
  function total(sample, name, match) {
    let sum = 0;
    let found = false;
    for (const s of sample.m.get(name) || []) {
      if (match && Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue;
      sum += s.value;
      found = true;
    }
    return found ? sum : null;
  }

  // A counter's rate per second between each two successive samples; a counter that went down
  // restarted (a new process, a key back in the top) and counts from zero.
  function rateSeries(name, match) {
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const a = total(samples[i - 1], name, match);
      const b = total(samples[i], name, match);
      const dt = (samples[i].t - samples[i - 1].t) / 1000;
      out.push(b === null || dt <= 0 ? null : Math.max(0, b - (a === null || b < a ? 0 : a)) / dt);
    }
    return out;
  }

  // The sample about WINDOW_MS before the newest one (the oldest kept if the page is younger).
  function windowStart() {
    if (samples.length < 2) return null;
    const newest = samples[samples.length - 1].t;
    let base = samples[0];
    for (const s of samples) if (newest - s.t >= WINDOW_MS) base = s;
    return base === samples[samples.length - 1] ? null : base;
  }

  // A histogram's buckets (le -> cumulative count) summed over the series matching `match`.
  function buckets(sample, name, match) {
    const out = new Map();
    for (const s of (sample && sample.m.get(name + '_bucket')) || []) {
      if (match && Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue;
      const le = s.labels.le === '+Inf' ? Infinity : parseFloat(s.labels.le);
      out.set(le, (out.get(le) || 0) + s.value);
    }
    return out;
  }

  // The q-quantile of what a histogram observed between `from` (null: since the process started)
  // and the newest sample, interpolated inside its bucket as Prometheus' histogram_quantile does.
  // Returns { value (seconds), count } or null without observations.
  function quantile(q, name, match, from) {
    const now = buckets(samples[samples.length - 1], name, match);
    let before = from ? buckets(from, name, match) : new Map();
    const les = [...now.keys()].sort((a, b) => a - b);
    if (!les.length) return null;
    if (les.some((le) => (before.get(le) || 0) > now.get(le))) before = new Map(); // series restarted
    const count = now.get(Infinity) - (before.get(Infinity) || 0);
    if (!(count > 0)) return null;
    const rank = q * count;
    let prevLe = 0;
    let prevCum = 0;
    for (const le of les) {
      const cum = now.get(le) - (before.get(le) || 0);
      if (cum >= rank) {
        if (le === Infinity) return { value: prevLe, count, above: true };
        const inBucket = cum - prevCum;
        // In the first bucket all that is known is "at most its bound" (0 s waits land there).
        if (prevLe === 0) return { value: le, count, below: true };
        return { value: prevLe + (le - prevLe) * (inBucket > 0 ? (rank - prevCum) / inBucket : 1), count };
      }
      prevLe = le;
      prevCum = cum;
    }
    return { value: prevLe, count, above: true };
  }

  // p99 over the last minute, or since the process started when the minute saw nothing.
  function p99(name, match) {
    return quantile(0.99, name, match, windowStart()) || quantile(0.99, name, match, null);
  }

  function secs(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v < 0.001) return (v * 1e6).toFixed(0) + ' µs';
    if (v < 1) return (v * 1000).toFixed(v < 0.01 ? 2 : 1) + ' ms';
    return v.toFixed(2) + ' s';
  }
  const rateText = (v) => (v === null || v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
  function bytes(n) {
    if (n === null || n === undefined || n < 0) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  // A small line chart of a series (null breaks the line), newest at the right, scaled to its own
  // maximum; the latest value goes in the text next to it.
  function sparkline(values, color, w = 160, h = 34) {
    const svg = sv('svg', { class: 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' });
    const n = Math.max(values.length, 2);
    let max = 0;
    for (const v of values) if (v !== null && v > max) max = v;
    const x = (i) => (w - 2) * (i + (n - values.length)) / (n - 1) + 1;
    const y = (v) => h - 2 - (max > 0 ? (v / max) * (h - 4) : 0);
    let d = '';
    let points = 0;
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += (i > 0 && values[i - 1] !== null && values[i - 1] !== undefined ? 'L' : 'M') + x(i).toFixed(1) + ',' + y(v).toFixed(1);
      points++;
    });
    svg.append(sv('line', { class: 'base', x1: 0, x2: w, y1: h - 1.5, y2: h - 1.5 }));
    if (d) svg.append(sv('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
    svg.setAttribute('data-points', points);
    return svg;
  }

  function spark(id, label, values, format, color, warnIfPositive) {
    const last = values.length ? values[values.length - 1] : null;
    let peak = null;
    for (const v of values) if (v !== null && (peak === null || v > peak)) peak = v;
    return el('div', { class: 'spark-box' + (warnIfPositive && last > 0 ? ' warn' : ''), 'data-series': id,
      'data-value': last === null ? '' : last, 'data-points': values.filter((v) => v !== null).length },
    el('div', { class: 'spark-head' }, el('span', { class: 'k' }, label),
      el('span', { class: 'v' }, format(last))),
    sparkline(values, color),
    el('div', { class: 'spark-foot muted' }, 'peak ' + format(peak)));
  }

  // ---- rates ------------------------------------------------------------------------------------

  function renderRates() {
    const acq = 'baton_pool_acquires_total';
    $('#rates').replaceChildren(
      spark('acquires', 'acquires granted/s', rateSeries(acq, { result: 'locked' }), rateText, PALETTE[0]),
      spark('timeouts', 'time-outs/s', rateSeries(acq, { result: 'timeout' }), rateText, PALETTE[3], true),
      spark('queue-full', 'queue full/s', rateSeries(acq, { result: 'queue_full' }), rateText, PALETTE[1], true),
      spark('releases', 'releases/s', rateSeries('baton_pool_releases_total'), rateText, PALETTE[2]),
      spark('lock-grants', 'lock grants/s', rateSeries('baton_lock_wait_seconds_count'), rateText, PALETTE[4]),
      spark('entries', 'Raft entries applied/s', rateSeries('baton_raft_entries_applied_total'), rateText, PALETTE[7]),
      spark('rejected', 'commands rejected/s', rateSeries('baton_commands_rejected_total'), rateText, PALETTE[5], true));
  }

  // ---- hot keys ---------------------------------------------------------------------------------

  function renderHotKeys() {
    const newest = samples[samples.length - 1];
    const from = windowStart();
    const keys = new Map(); // key -> acquires in the window
    for (const s of newest.m.get('baton_pool_key_acquires_total') || []) keys.set(s.labels.key, 0);
    const perSec = (key) => {
      if (!from) return null;
      const a = total(from, 'baton_pool_key_acquires_total', { key });
      const b = total(newest, 'baton_pool_key_acquires_total', { key });
      return Math.max(0, b - (a === null || b < a ? 0 : a)) / ((newest.t - from.t) / 1000);
    };
    const gauge = (name, key) => total(newest, name, { key });
    const rows = [...keys.keys()].map((key) => {
      const wait = p99('baton_pool_key_wait_seconds', { key });
      const hold = p99('baton_pool_key_hold_seconds', { key });
      return { key, rate: perSec(key), wait, hold, holders: gauge('baton_pool_key_holders', key),
        waiters: gauge('baton_pool_key_waiters', key) };
    });
    rows.sort((a, b) => (b.rate || 0) - (a.rate || 0) || (b.waiters || 0) - (a.waiters || 0) || (a.key < b.key ? -1 : 1));
    const p99Cell = (r) => el('td', { class: 'num' + (r && r.above ? ' warn' : ''),
      title: r ? r.count + ' observations' + (r.above ? '; above the highest bucket' : '') : 'no observations' },
    r ? (r.above ? '> ' : r.below ? '≤ ' : '') + secs(r.value) : '–');
    const all = { wait: p99('baton_pool_wait_seconds'), hold: p99('baton_pool_hold_seconds') };
    const allRate = rateSeries('baton_pool_acquire_outcomes_total');
    const body = [el('tr', { class: 'hot-key all', 'data-key': '' },
      el('td', { class: 'strong' }, 'all keys'),
      el('td', { class: 'num' }, rateText(allRate.length ? allRate[allRate.length - 1] : null)),
      p99Cell(all.wait), p99Cell(all.hold),
      el('td', { class: 'num' }, num(total(newest, 'baton_pool_holders'))),
      el('td', { class: 'num' }, num(total(newest, 'baton_pool_waiters'))))];
    for (const r of rows) {
      body.push(el('tr', { class: 'hot-key', 'data-key': r.key,
        'data-wait-p99': r.wait ? r.wait.value : '', 'data-hold-p99': r.hold ? r.hold.value : '' },
      el('td', { class: 'mono key', title: r.key }, r.key),
      el('td', { class: 'num' }, rateText(r.rate)),
      p99Cell(r.wait), p99Cell(r.hold),
      el('td', { class: 'num' }, num(r.holders)),
      el('td', { class: 'num' + (r.waiters > 0 ? ' warn' : '') }, num(r.waiters))));
    }
    fillBody($('#hot-keys'), body, 'no pool activity yet');
  }

  // ---- Raft health ------------------------------------------------------------------------------

  // Each member's commit and applied index as /api/cluster reported them, per refresh.
  const indexHistory = []; // { t, members: nodeId -> {commit, applied} }

  function rememberIndexes(c) {
    const members = new Map();
    for (const m of c.members) {
      if (m.reachable && m.commitIndex >= 0) members.set(m.nodeId, { commit: m.commitIndex, applied: m.appliedIndex });
    }
    const at = performance.now();
    indexHistory.push({ t: at, members });
    while (indexHistory.length > 2 && at - indexHistory[0].t > HISTORY_MS + 2 * REFRESH_MS) indexHistory.shift();
  }

  function renderRaft(c) {
    const newest = samples[samples.length - 1];
    const g = (name) => total(newest, name);
    const changes = g('baton_raft_leader_changes_total');
    const oldest = samples[0];
    const changesNow = changes === null ? null : changes - Math.min(changes, total(oldest, 'baton_raft_leader_changes_total') || 0);
    const commit = p99('baton_raft_commit_seconds');
    const leading = g('baton_raft_leader') === 1;
    const failed = g('baton_raft_failed') === 1;
    const snapAge = g('baton_raft_snapshot_age_seconds');
    const budget = g('baton_state_bytes_limit');
    const used = g('baton_state_bytes');
    const stats = [
      ['role', failed ? 'FAILED' : leading ? 'leader' : g('baton_raft_leader_known') === 1 ? 'follower' : 'no leader', failed || !g('baton_raft_leader_known'), 'role'],
      ['term', num(g('baton_raft_term')), false, 'term'],
      ['leader changes', num(changes) + (changesNow ? ' (' + changesNow + ' in 5 min)' : ''), changesNow > 0, 'leader-changes'],
      ['commit p99', commit ? (commit.above ? '> ' : commit.below ? '≤ ' : '') + secs(commit.value) : leading ? '–' : 'measured on the leader', commit && commit.value > 0.5, 'commit-p99'],
      ['log', bytes(g('baton_raft_log_size_bytes')), false, 'log-size'],
      ['snapshot', snapAge === null || snapAge < 0 ? 'none yet' : bytes(g('baton_raft_snapshot_size_bytes'))
        + ', ' + dur(snapAge * 1000) + ' old', false, 'snapshot'],
      ['state budget', used === null || !budget ? '–' : (100 * used / budget).toFixed(1) + ' %', budget && used / budget > 0.8, 'state-budget'],
    ];
    $('#raft-stats').replaceChildren(...stats.map(([k, v, warn, id]) =>
      el('span', { class: 'stat' + (warn ? ' warn' : ''), 'data-stat': id },
        el('span', { class: 'k' }, k), el('span', { class: 'v' }, String(v)))));
    const commitRate = rateSeries('baton_raft_commit_seconds_count');
    const commitMean = [];
    for (let i = 1; i < samples.length; i++) {
      const dn = total(samples[i], 'baton_raft_commit_seconds_count') - total(samples[i - 1], 'baton_raft_commit_seconds_count');
      const ds = total(samples[i], 'baton_raft_commit_seconds_sum') - total(samples[i - 1], 'baton_raft_commit_seconds_sum');
      commitMean.push(dn > 0 && ds >= 0 ? ds / dn : null);
    }
    $('#raft-sparks').replaceChildren(
      spark('commits', 'entries proposed here/s', commitRate, rateText, PALETTE[0]),
      spark('commit-mean', 'mean commit time', commitMean, secs, PALETTE[3]),
      spark('log-size', 'log size', samples.map((s) => total(s, 'baton_raft_log_size_bytes')), bytes, PALETTE[8]));

    if (!c) return;
    const rows = c.members.map((m) => {
      const behind = m.commitIndex >= 0 && m.appliedIndex >= 0 ? Math.max(0, m.commitIndex - m.appliedIndex) : null;
      const series = indexHistory.map((h) => {
        const x = h.members.get(m.nodeId);
        return x ? Math.max(0, x.commit - x.applied) : null;
      });
      return el('tr', { class: 'raft-node', 'data-node-id': m.nodeId, 'data-commit': m.commitIndex,
        'data-applied': m.appliedIndex },
      el('td', { class: 'mono strong' }, m.nodeId, m.leader ? el('span', { class: 'tag' }, 'leader') : null),
      el('td', { class: 'num' }, num(m.commitIndex)),
      el('td', { class: 'num' }, num(m.appliedIndex)),
      el('td', { class: 'num' + (behind > 0 ? ' warn' : '') }, m.reachable ? num(behind) : 'unreachable'),
      el('td', {}, sparkline(series, PALETTE[3], 120, 22)));
    });
    fillBody($('#raft-nodes'), rows, 'no members known');
  }

  // ---- locks ------------------------------------------------------------------------------------

  function renderLocks(l) {
    const at = stampNow();
    $('#locks-count').textContent = l.count > l.locks.length ? l.locks.length + ' of ' + l.count + ', most waiters first'
      : String(l.count);
    fillBody($('#locks'), l.locks.map((lk) => {
      const oldest = lk.waiters.length ? lk.waiters.reduce((a, b) => (b.since < a.since ? b : a)) : null;
      return el('tr', { class: 'lock', 'data-name': lk.name, 'data-holder': lk.holder, 'data-fence': lk.fence,
        'data-waiters': lk.waiters.length },
      el('td', { class: 'mono key', title: lk.name }, lk.name),
      el('td', { class: 'num' }, '#' + lk.holder),
      el('td', { class: 'num' }, String(lk.fence)),
      el('td', { class: 'num' }, dur(at - lk.since)),
      el('td', { class: 'num' + (lk.waiters.length ? ' warn' : '') }, String(lk.waiters.length)),
      el('td', { class: 'mono' }, oldest ? '#' + oldest.session + ' for ' + dur(at - oldest.since) : '–'));
    }), 'no lock is held');
  }

  // ---- events, queues, sessions -------------------------------------------------------------------

  function renderEvents(e) {
    const at = stampNow();
    fillBody($('#events'), e.events.map((ev) => el('tr', { class: 'event', 'data-name': ev.name },
      el('td', { class: 'mono key', title: ev.name }, ev.name),
      el('td', { class: 'num' }, '#' + ev.owner),
      el('td', { class: 'num' }, dur(at - ev.since)))), 'no pending events');
  }

  function renderQueues(q) {
    fillBody($('#queues'), q.queues.map((qu) => el('tr', { class: 'queue', 'data-name': qu.name },
      el('td', { class: 'mono key', title: qu.name }, qu.name),
      el('td', { class: 'num' }, num(qu.items)),
      el('td', { class: 'num' }, num(qu.ready)),
      el('td', { class: 'num' }, num(qu.claimed)),
      el('td', { class: 'num' }, num(qu.gated)))), 'no queues');
  }

  function renderSessions(s) {
    const at = stampNow();
    $('#sessions-count').textContent = s.count > s.sessions.length
      ? s.sessions.length + ' of ' + s.count : String(s.count);
    fillBody($('#sessions'), s.sessions.map((ss) => {
      const locks = Object.keys(ss.locksHeld || {}).concat((ss.lockWaits || []).map((l) => 'waiting ' + l));
      const slots = ss.slots || [];
      return el('tr', { class: 'session', 'data-session-id': ss.id },
        el('td', { class: 'num strong' }, '#' + ss.id),
        el('td', { class: 'mono key', title: ss.token }, ss.token || '–'),
        el('td', { class: 'num' }, dur(ss.ttlMs)),
        el('td', { class: 'num' }, dur(at - ss.openedAt)),
        el('td', { class: 'num', title: slots.map((x) => x.key + ' ' + x.state).join('\n') }, String(slots.length)),
        listCell(locks), listCell(ss.dispatchTargets), listCell(ss.events), listCell(ss.claimedItems),
        el('td', {}, el('button', { type: 'button', class: 'close', 'data-session': ss.id, 'data-token': ss.token || '' },
          'close')));
    }), 'no sessions');
  }

  // One listener for all close buttons, since the rows are rebuilt every refresh.
  $('#sessions').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.close');
    if (!b) return;
    const id = b.getAttribute('data-session');
    const token = b.getAttribute('data-token');
    if (!confirm('Close session #' + id + (token ? ' (' + token + ')' : '')
      + '?\nEverything it holds is released, as if its client had disconnected.')) return;
    b.disabled = true;
    try {
      // The node refuses a write without this header (or a JSON content type): a page on another
      // site cannot make the browser send it, so it cannot close sessions through this tab.
      await api('/api/sessions/' + encodeURIComponent(id) + '/close',
        { method: 'POST', headers: { 'X-Baton-Request': 'dashboard' } });
    } catch (e) {
      const why = e.status === 401 ? 'this node asks for a token with the role admin; enter it in the token field at'
        + ' the top (' + e.serverMessage + ')'
        : e.status === 403 && e.serverMessage.includes('lacks the role') ? 'the token lacks the role admin ('
        + e.serverMessage + ')' : e.message;
      if (isAuthError(e)) showTokenForm();
      alert('Could not close session #' + id + ': ' + why);
    }
    loop();
  });

  // Keeps "Xs ago" honest while a request hangs; cheap, it only rewrites two strings.
  setInterval(() => { if (lastError || lastOkAt !== null) showStatus(); }, 1000);
  loop();
})();
