/*
 * OmniBioTE admin console: the page's logic. Plain JavaScript, no build step.
 *
 * The run arrives through the server's Server-Sent Events stream (/api/v1/stream), read with
 * fetch() rather than EventSource because EventSource cannot send the Authorization header.
 * The token lives in sessionStorage only (this tab, never a URL). The page keeps at most
 * MAX_POINTS points per chart: past that it drops every second one of the older points.
 */
(function () {
  'use strict';

  const TOKEN_KEY = 'omnibiote.console.token';
  const X_KEY = 'omnibiote.console.x';
  const MAX_POINTS = 4000; // per history kept by the page
  const KEEP_RECENT = 1000; // the newest points are never thinned
  const MAX_EVENTS = 500;
  const CHART_REDRAW_MS = 500; // at most two chart redraws a second
  const STALL_MS = 40000; // the server sends a keep-alive every 15 s
  const ENDED = ['done', 'stopped', 'failed'];
  const CHANGEABLE = ['save_freq', 'test_freq', 'keep_checkpoints', 'token_budget'];
  const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0d9488', '#ca8a04', '#db2777'];

  const $ = (id) => document.getElementById(id);

  // ---- state ------------------------------------------------------------------------------------
  const S = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    xMode: sessionStorage.getItem(X_KEY) === 'time' ? 'time' : 'tokens',
    run: null,
    startedAt: null,
    workers: [],
    data: [],
    train: [], // rows: step, tokens, time, loss, lr, batch, tokens_per_s, mfu, compute_s, wait_s, comm_s, step_s
    val: [], // rows: step, tokens, time, values {dataset: loss}
    valNames: [],
    trainSeq: 0,
    valSeq: 0,
    trainStride: 1,
    events: [],
    eventSeq: 0,
    eventKinds: new Set(),
    checkpoints: [],
    lastCkptKey: null,
    openLogs: new Set(), // live workers whose log rows are open
    openDeparted: new Set(),
    conn: 'connecting',
  };

  // ---- formatting -------------------------------------------------------------------------------
  const nf = new Intl.NumberFormat('en-US');
  function fmtInt(v) {
    return v == null || !isFinite(v) ? '–' : nf.format(Math.round(v));
  }
  function fmtSI(v) {
    if (v == null || !isFinite(v)) return '–';
    const a = Math.abs(v);
    const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (const [scale, unit] of units) {
      if (a >= scale) return short(v / scale) + unit;
    }
    return short(v);
  }
  /** Three significant digits at most, without trailing zeros: 1.5, 12.3, 512. */
  function short(v) {
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a < 0.01) return v.toExponential(1);
    return trim(v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2));
  }
  function trim(s) {
    return s.indexOf('e') >= 0 || s.indexOf('.') < 0 ? s : s.replace(/\.?0+$/, '');
  }
  function fmtNum(v, digits) {
    if (v == null || !isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return trim(v.toPrecision(digits || 4));
  }
  function fmtSeconds(s) {
    if (s == null || !isFinite(s)) return '–';
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 1) + ' ms';
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
    return fmtDuration(s);
  }
  function fmtDuration(s) {
    if (s == null || !isFinite(s)) return '–';
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + String(m).padStart(2, '0') + 'm';
    if (m > 0) return m + 'm ' + String(sec).padStart(2, '0') + 's';
    return sec + 's';
  }
  function fmtBytes(b) {
    if (b == null || !isFinite(b)) return '–';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) {
      b /= 1024;
      i++;
    }
    return (i === 0 ? b : b.toFixed(b < 10 ? 2 : 1)) + ' ' + u[i];
  }
  function fmtMb(mb) {
    return mb == null || !isFinite(mb) ? '–' : fmtBytes(mb * 1024 * 1024);
  }
  function fmtClock(ms) {
    if (ms == null) return '–';
    const d = new Date(ms);
    const now = new Date();
    const t = d.toLocaleTimeString('en-GB', { hour12: false });
    if (d.toDateString() === now.toDateString()) return t;
    return d.toLocaleDateString('en-CA') + ' ' + t;
  }
  function fmtAgo(ms) {
    if (ms == null) return '';
    return fmtDuration((Date.now() - ms) / 1000) + ' ago';
  }
  /** A setting's value: whole numbers in full (102,400,000), others as they are. */
  function fmtSetting(v) {
    return v == null ? '–' : Number.isInteger(v) ? fmtInt(v) : fmtNum(v, 6);
  }
  function num(v) {
    if (v == null || v === '') return null;
    const n = Number(v);
    return isFinite(n) ? n : null;
  }
  function setText(el, text) {
    const s = text == null ? '' : String(text);
    if (el.textContent !== s) el.textContent = s;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- toasts and results -----------------------------------------------------------------------
  function toast(text, error) {
    const t = el('div', 'toast' + (error ? ' error' : ''), text);
    $('toasts').appendChild(t);
    setTimeout(() => t.remove(), error ? 6000 : 3000);
  }
  function showResult(kind, text) {
    const r = $('action-result');
    r.hidden = false;
    r.className = 'action-result ' + kind;
    r.textContent = text;
  }

  // ---- the token --------------------------------------------------------------------------------
  function setToken(t) {
    S.token = (t || '').trim();
    if (S.token) sessionStorage.setItem(TOKEN_KEY, S.token);
    else sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
  }
  function showTokenState() {
    const st = $('token-state');
    st.textContent = S.token ? 'token set' : 'no token';
    st.classList.toggle('set', !!S.token);
    $('token-input').value = '';
    $('token-input').placeholder = S.token ? '•••••••• (set)' : 'console token';
  }
  function authHeaders(extra) {
    const h = Object.assign({ Accept: 'application/json' }, extra || {});
    if (S.token) h.Authorization = 'Bearer ' + S.token;
    return h;
  }

  let tokenThen = null;
  /** Asks for the token in the page's dialog; {@code then} runs once one is given. */
  function askToken(why, then) {
    tokenThen = then || null;
    $('token-dialog-why').textContent = why;
    $('token-dialog-input').value = '';
    const d = $('token-dialog');
    if (!d.open) d.showModal();
    $('token-dialog-input').focus();
  }

  // ---- the API ----------------------------------------------------------------------------------
  async function api(method, path, body) {
    const init = { method: method, headers: authHeaders(), cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch('/api/v1/' + path, init);
    let json = null;
    try {
      json = await res.json();
    } catch (e) {
      json = null;
    }
    return { status: res.status, ok: res.ok, json: json };
  }

  // ---- the live stream --------------------------------------------------------------------------
  let backoff = 1000;
  let streamAbort = null;
  let reconnectTimer = null;

  function setConn(state, text) {
    S.conn = state;
    const c = $('conn');
    c.className = 'conn conn-' + state;
    c.textContent = text;
  }

  async function connect() {
    clearTimeout(reconnectTimer);
    if (streamAbort) streamAbort.abort();
    const ctrl = new AbortController();
    streamAbort = ctrl;
    setConn('connecting', 'connecting…');
    let lastData = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastData > STALL_MS) ctrl.abort();
    }, 5000);
    try {
      const res = await fetch('/api/v1/stream', {
        headers: authHeaders({ Accept: 'text/event-stream' }),
        cache: 'no-store',
        signal: ctrl.signal,
      });
      if (res.status === 401) {
        setConn('down', 'token needed');
        askToken('This console is reachable beyond its host: reading the run needs the token too.', connect);
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConn('live', 'live');
      backoff = 1000;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        lastData = Date.now();
        buf += decoder.decode(r.value, { stream: true });
        let m;
        while ((m = /\r?\n\r?\n/.exec(buf)) !== null) {
          const block = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          dispatch(block);
        }
      }
    } catch (e) {
      if (ctrl !== streamAbort) return; // replaced by a newer connection
    } finally {
      clearInterval(watchdog);
    }
    if (ctrl !== streamAbort) return;
    // The stream dropped: the run ended (the coordinator's JVM exits) or the network did.
    const ended = S.run && ENDED.indexOf(S.run.phase) >= 0;
    const wait = ended ? 15000 : backoff;
    setConn(ended ? 'ended' : 'down', (ended ? 'run ended · ' : 'disconnected · ') + 'retry in ' + Math.round(wait / 1000) + ' s');
    reconnectTimer = setTimeout(connect, wait + Math.random() * 300);
    backoff = Math.min(backoff * 2, 15000);
  }

  function dispatch(block) {
    let event = 'message';
    const data = [];
    for (const raw of block.split(/\r?\n/)) {
      if (raw === '' || raw.charAt(0) === ':') continue;
      const i = raw.indexOf(':');
      const field = i < 0 ? raw : raw.slice(0, i);
      let value = i < 0 ? '' : raw.slice(i + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch (e) {
      return;
    }
    if (event === 'state') onState(payload);
    else if (event === 'metrics') onMetrics(payload);
    else if (event === 'events') onEvents(payload);
  }

  // ---- state: run, workers, data ----------------------------------------------------------------
  function onState(st) {
    const run = st.run;
    if (S.startedAt != null && run.started_at !== S.startedAt) resetRun(); // another run's console
    S.startedAt = run.started_at;
    const prev = S.run;
    S.run = run;
    S.workers = st.workers || [];
    S.data = st.data || [];
    S.generations = st.generations || null;
    renderRun(run, prev);
    renderWorkers();
    renderData();
    const ck = run.last_checkpoint ? run.last_checkpoint.name + '@' + run.last_checkpoint.step : null;
    if (ck !== S.lastCkptKey || (prev && prev.phase !== run.phase && ENDED.indexOf(run.phase) >= 0)) {
      S.lastCkptKey = ck;
      loadCheckpoints();
    }
  }

  function resetRun() {
    S.train = [];
    S.val = [];
    S.valNames = [];
    S.trainSeq = 0;
    S.valSeq = 0;
    S.events = [];
    S.eventSeq = 0;
    S.lastCkptKey = null;
    $('events-list').textContent = '';
    rebuildCharts();
  }

  function renderRun(r, prev) {
    document.title = r.phase + ' · step ' + fmtInt(r.step) + ' · OmniBioTE console';
    setText($('run-dir'), r.run_dir);
    const phase = $('phase');
    setText(phase, r.phase);
    phase.className = 'badge phase phase-' + r.phase.split(' ')[0];
    setText($('phase-detail'), r.detail || '');
    $('phase-detail').title = r.detail || '';
    setText($('run-step'), fmtInt(r.step));
    setText($('run-total-steps'), fmtInt(r.total_steps));
    const pct = r.total_steps > 0 ? Math.min(100, (100 * r.step) / r.total_steps) : 0;
    setText($('run-percent'), r.total_steps > 0 ? pct.toFixed(pct < 10 ? 2 : 1) + '%' : '');
    $('run-progress').style.width = pct + '%';
    setText($('run-tokens'), fmtInt(r.tokens));
    setText($('run-total-tokens'), fmtSI(r.total_tokens));
    $('run-tokens').title = fmtInt(r.tokens) + ' of ' + fmtInt(r.total_tokens) + ' tokens';
    const ended = ENDED.indexOf(r.phase) >= 0;
    setText($('run-eta'), ended ? (r.phase === 'done' ? 'finished' : r.phase) : r.paused ? 'paused' : fmtDuration(r.eta_seconds));
    setText($('run-rate'), r.steps_per_second != null && !ended ? fmtNum(r.steps_per_second, 3) + ' steps/s' : '');
    setText($('run-world'), r.world_size + (r.world_size === 1 ? ' worker' : ' workers'));
    setText($('run-generation'), 'generation ' + r.generation);
    const c = r.last_checkpoint;
    setText($('run-last-ckpt'), c ? String(c.name).replace(/\.checkpoint\.json$/, '') : 'none yet');
    $('run-last-ckpt').title = c ? c.name : '';
    setText($('run-last-ckpt-when'), c ? 'step ' + fmtInt(c.step) + ' · ' + fmtClock(c.time) : '');
    const pend = $('run-pending');
    const pendKey = JSON.stringify(r.pending || []) + r.paused;
    if (pend.dataset.key !== pendKey) {
      pend.dataset.key = pendKey;
      pend.textContent = '';
      const items = (r.pending || []).slice();
      if (r.paused && r.phase === 'paused') items.push('paused: resume to go on');
      if (items.length === 0) pend.appendChild(el('span', 'muted', 'none'));
      for (const p of items) pend.appendChild(el('span', 'chip', p));
    }
    // actions
    $('act-pause').hidden = r.paused;
    $('act-resume').hidden = !r.paused;
    for (const id of ['act-pause', 'act-resume', 'act-checkpoint', 'act-stop', 'settings-apply']) {
      $(id).disabled = ended;
    }
    renderSettings(r, prev);
  }

  function renderSettings(r, prev) {
    const settings = r.settings || {};
    const key = JSON.stringify(settings);
    if (prev && JSON.stringify(prev.settings || {}) === key && $('settings-table').dataset.ready) return;
    $('settings-table').dataset.ready = '1';
    const tbody = $('settings-table').tBodies[0];
    tbody.textContent = '';
    for (const k of Object.keys(settings).sort()) {
      const tr = el('tr', CHANGEABLE.indexOf(k) >= 0 ? 'changeable' : '');
      tr.dataset.key = k;
      tr.appendChild(el('td', '', k));
      tr.appendChild(el('td', '', settings[k]));
      tbody.appendChild(tr);
    }
    const tps = tokensPerStep();
    for (const k of CHANGEABLE) {
      const v = num(settings[k]);
      $('set-' + k).placeholder = v == null ? '' : 'now ' + fmtSetting(v);
      let hint = '';
      if ((k === 'save_freq' || k === 'test_freq') && v != null && tps) {
        hint = v > 0 ? 'now every ' + fmtInt(v / tps) + ' steps' : 'now off';
      } else if (k === 'token_budget' && v != null && tps) {
        hint = 'now ' + fmtInt(v / tps) + ' steps';
      } else if (k === 'keep_checkpoints' && v != null) {
        hint = v === 0 ? 'now keeps all' : 'now keeps the last ' + fmtInt(v);
      }
      setText($('hint-' + k), hint);
    }
    setText(
      $('settings-summary'),
      CHANGEABLE.map((k) => k + ' ' + (k === 'keep_checkpoints' ? fmtInt(num(settings[k])) : fmtSI(num(settings[k])))).join(' · ')
    );
  }

  function tokensPerStep() {
    const r = S.run;
    if (r && r.step > 0 && r.tokens > 0) return r.tokens / r.step;
    if (r && r.total_steps > 0) return r.total_tokens / r.total_steps;
    return null;
  }

  /**
   * Keeps {@code tbody}'s rows in step with {@code items} by key: existing rows are updated in
   * place (a button under the pointer is not replaced while it is clicked), new ones created,
   * gone ones removed, and the order follows {@code items}.
   */
  function syncRows(container, items, create, update) {
    const byKey = new Map();
    for (const child of Array.from(container.children)) byKey.set(child.dataset.key, child);
    let at = container.firstElementChild;
    for (const item of items) {
      let row = byKey.get(item.key);
      if (row) byKey.delete(item.key);
      else {
        row = create(item);
        row.dataset.key = item.key;
      }
      update(row, item);
      if (row !== at) container.insertBefore(row, at);
      else at = at.nextElementSibling;
    }
    for (const row of byKey.values()) row.remove();
  }

  // ---- workers ----------------------------------------------------------------------------------
  const WORKER_CELLS = ['rank', 'id', 'device', 'host', 'pid', 'gen', 'state', 'step', 'wait', 'comm', 'hb', 'rss', 'gpu', 'act'];
  const NUM_CELLS = ['pid', 'gen', 'step', 'wait', 'comm', 'hb', 'rss', 'gpu'];

  function renderWorkers() {
    const live = S.workers.filter((w) => w.departed_at == null);
    const departed = S.workers.filter((w) => w.departed_at != null);
    const anyGpu = live.some((w) => w.gpu_mb != null);
    document.querySelectorAll('#workers-table .gpu-col').forEach((c) => (c.hidden = !anyGpu));
    const ended = S.run && ENDED.indexOf(S.run.phase) >= 0;
    const items = [];
    for (const w of live) {
      items.push({ key: 'w:' + w.id, kind: 'worker', w: w });
      if (S.openLogs.has(w.id)) items.push({ key: 'log:' + w.id, kind: 'log', w: w });
    }
    if (live.length === 0) items.push({ key: 'empty', kind: 'empty' });
    syncRows(
      $('workers-body'),
      items,
      (item) => createWorkerRow(item),
      (row, item) => updateWorkerRow(row, item, anyGpu, ended)
    );
    const inWorld = live.filter((w) => w.rank != null).length;
    setText(
      $('workers-note'),
      live.length + ' live (' + inWorld + ' in the world)' + (departed.length ? ', ' + departed.length + ' departed' : '')
    );
    renderDeparted(departed);
  }

  function createWorkerRow(item) {
    const tr = document.createElement('tr');
    if (item.kind === 'empty') {
      const td = el('td', 'empty', 'No live worker: waiting for workers to register.');
      td.colSpan = WORKER_CELLS.length;
      tr.appendChild(td);
      return tr;
    }
    if (item.kind === 'log') {
      tr.className = 'log-row';
      const td = document.createElement('td');
      td.colSpan = WORKER_CELLS.length;
      td.appendChild(el('pre', 'log'));
      tr.appendChild(td);
      return tr;
    }
    tr.dataset.worker = item.w.id;
    for (const c of WORKER_CELLS) {
      const td = el('td', 'c-' + c + (NUM_CELLS.indexOf(c) >= 0 ? ' num' : '') + (c === 'gpu' ? ' gpu-col' : ''));
      tr.appendChild(td);
    }
    const act = tr.querySelector('.c-act');
    const logBtn = el('button', 'btn btn-small log-btn', 'Log');
    logBtn.type = 'button';
    logBtn.addEventListener('click', () => {
      const id = tr.dataset.worker;
      if (S.openLogs.has(id)) S.openLogs.delete(id);
      else S.openLogs.add(id);
      renderWorkers();
    });
    const evict = el('button', 'btn btn-small btn-danger evict', 'Evict');
    evict.type = 'button';
    evict.addEventListener('click', () => {
      const w = S.workers.find((x) => x.id === tr.dataset.worker);
      if (w) confirmEvict(w);
    });
    act.appendChild(logBtn);
    act.appendChild(document.createTextNode(' '));
    act.appendChild(evict);
    return tr;
  }

  function updateWorkerRow(row, item, anyGpu, ended) {
    if (item.kind === 'empty') return;
    const w = item.w;
    if (item.kind === 'log') {
      const pre = row.querySelector('pre');
      const text = (w.log || []).join('\n') || '(no log lines yet)';
      if (pre.textContent !== text) {
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = text;
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      }
      return;
    }
    const cell = (c) => row.querySelector('.c-' + c);
    setText(cell('rank'), w.rank == null ? '–' : w.rank);
    setText(cell('id'), w.id);
    setText(cell('device'), w.device);
    setText(cell('host'), w.host);
    setText(cell('pid'), w.pid || '–');
    setText(cell('gen'), w.generation >= 0 ? w.generation : '–');
    const st = cell('state');
    if (st.dataset.state !== w.state) {
      st.dataset.state = w.state;
      st.textContent = '';
      st.appendChild(el('span', 'state state-' + w.state, w.state));
    }
    setText(cell('step'), fmtSeconds(w.step_seconds));
    setText(cell('wait'), fmtSeconds(w.wait_seconds));
    setText(cell('comm'), fmtSeconds(w.comm_seconds));
    const hb = cell('hb');
    setText(hb, w.heartbeat_age_seconds == null ? '–' : fmtNum(w.heartbeat_age_seconds, 2) + ' s');
    hb.classList.toggle('stale', w.heartbeat_age_seconds != null && w.heartbeat_age_seconds > 5);
    setText(cell('rss'), fmtMb(w.rss_mb));
    const gpu = cell('gpu');
    gpu.hidden = !anyGpu;
    setText(gpu, w.gpu_mb == null ? '–' : fmtMb(w.gpu_mb) + (w.gpu_reserved_mb != null ? ' / ' + fmtMb(w.gpu_reserved_mb) : ''));
    gpu.title = w.gpu_mb == null ? '' : 'allocated / reserved';
    const logBtn = row.querySelector('.log-btn');
    logBtn.classList.toggle('btn-primary', S.openLogs.has(w.id));
    logBtn.title = 'the last ' + (w.log || []).length + ' lines of its log';
    const evict = row.querySelector('.evict');
    evict.disabled = ended;
    evict.title = 'evict ' + w.id + ' (pid ' + w.pid + ') at the next step boundary';
  }

  function renderDeparted(departed) {
    $('departed-section').hidden = departed.length === 0;
    setText($('departed-count'), departed.length ? '(' + departed.length + ')' : '');
    syncRows(
      $('departed-list'),
      departed.map((w) => ({ key: 'd:' + w.id + ':' + w.departed_at, w: w })),
      (item) => {
        const d = document.createElement('details');
        d.dataset.worker = item.w.id;
        d.dataset.pid = item.w.pid;
        const s = document.createElement('summary');
        s.appendChild(el('span', 'who'));
        s.appendChild(el('span', 'muted where'));
        s.appendChild(el('span', 'reason'));
        s.appendChild(el('span', 'muted small when'));
        d.appendChild(s);
        d.appendChild(el('pre', 'log'));
        d.addEventListener('toggle', () => {
          if (d.open) S.openDeparted.add(d.dataset.key);
          else S.openDeparted.delete(d.dataset.key);
        });
        return d;
      },
      (d, item) => {
        const w = item.w;
        setText(d.querySelector('.who'), w.id);
        setText(d.querySelector('.where'), w.device + '@' + w.host + ' pid ' + w.pid + (w.generation >= 0 ? ' · generation ' + w.generation : ''));
        setText(d.querySelector('.reason'), w.departed_reason || 'left');
        setText(d.querySelector('.when'), 'left at ' + fmtClock(w.departed_at) + ' · last ' + (w.log || []).length + ' log lines');
        setText(d.querySelector('pre'), (w.log || []).join('\n') || '(it said nothing)');
      }
    );
  }

  // ---- data -------------------------------------------------------------------------------------
  function renderGenerations() {
    const g = S.generations;
    const line = $('data-generations');
    if (!line) return;
    if (!g || (g.committed === 0 && g.adopted === 0)) {
      setText(line, 'Data generations: none committed by follow yet.');
      return;
    }
    let text = 'Data generations: ' + fmtInt(g.committed) + ' committed by follow, ' + fmtInt(g.adopted) + ' adopted.';
    const last = g.adoptions && g.adoptions.length ? g.adoptions[g.adoptions.length - 1] : null;
    if (last) {
      const file = String(last.source || '').split('/').pop();
      text += ' Last: generation ' + last.generation + ' (' + file + ') before step ' + fmtInt(last.step + 1) +
        ': +' + fmtInt(last.documents_added) + ' documents (' + fmtSI(last.tokens_added) + ' tokens), ' +
        fmtInt(last.documents_superseded) + ' superseded.';
    }
    if (g.committed > g.adopted) text += ' Waiting to adopt ' + fmtInt(g.committed - g.adopted) + ' at a step boundary.';
    setText(line, text);
  }

  function renderData() {
    renderGenerations();
    const items = S.data.map((d) => ({ key: d.name, d: d }));
    if (items.length === 0) items.push({ key: 'empty', empty: true });
    syncRows(
      $('data-body'),
      items,
      (item) => {
        const tr = document.createElement('tr');
        if (item.empty) {
          const td = el('td', 'empty', 'No dataset summary.');
          td.colSpan = 6;
          tr.appendChild(td);
          return tr;
        }
        for (const c of ['name', 'shards', 'tokens', 'rows', 'epoch', 'progress']) {
          tr.appendChild(el('td', 'c-' + c + (['shards', 'tokens', 'rows', 'epoch'].indexOf(c) >= 0 ? ' num' : '')));
        }
        const p = tr.querySelector('.c-progress');
        const wrap = el('div', 'data-progress');
        const bar = el('div', 'progress small');
        bar.appendChild(el('div', 'progress-bar'));
        wrap.appendChild(bar);
        wrap.appendChild(el('span', 'pct'));
        p.appendChild(wrap);
        return tr;
      },
      (tr, item) => {
        if (item.empty) return;
        const d = item.d;
        const q = (c) => tr.querySelector('.c-' + c);
        setText(q('name'), d.name);
        setText(q('shards'), d.train_shards + ' + ' + d.val_shards);
        q('shards').title = d.train_shards + ' train, ' + d.val_shards + ' val shards';
        setText(q('tokens'), fmtSI(d.tokens));
        q('tokens').title = fmtInt(d.tokens) + ' tokens in ' + fmtInt(d.documents) + ' documents';
        setText(q('rows'), fmtInt(d.train_rows) + ' + ' + fmtInt(d.val_rows));
        q('rows').title = fmtInt(d.train_rows) + ' train rows, ' + fmtInt(d.val_rows) + ' val rows';
        setText(q('epoch'), fmtInt(d.epoch));
        const pct = Math.max(0, Math.min(100, 100 * (d.epoch_progress || 0)));
        tr.querySelector('.progress-bar').style.width = pct + '%';
        setText(tr.querySelector('.pct'), Math.floor(pct) + '%');
      }
    );
  }

  // ---- checkpoints ------------------------------------------------------------------------------
  let ckptLoading = false;
  let ckptAgain = false;
  async function loadCheckpoints() {
    if (ckptLoading) {
      ckptAgain = true;
      return;
    }
    ckptLoading = true;
    try {
      const r = await api('GET', 'checkpoints');
      if (r.ok && Array.isArray(r.json)) {
        S.checkpoints = r.json;
        renderCheckpoints();
      } else if (r.status === 401) {
        setText($('checkpoints-note'), 'the token is needed to list them');
      }
    } catch (e) {
      // the console went away; the stream's reconnection shows it
    } finally {
      ckptLoading = false;
      if (ckptAgain) {
        ckptAgain = false;
        loadCheckpoints();
      }
    }
  }

  function renderCheckpoints() {
    const rows = S.checkpoints.slice().sort((a, b) => b.step - a.step || (a.periodic ? 1 : -1));
    const items = rows.map((c) => ({ key: c.name + '@' + c.step, c: c }));
    if (items.length === 0) items.push({ key: 'empty', empty: true });
    syncRows(
      $('checkpoints-body'),
      items,
      (item) => {
        const tr = document.createElement('tr');
        if (item.empty) {
          const td = el('td', 'empty', 'No checkpoint yet.');
          td.colSpan = 6;
          tr.appendChild(td);
          return tr;
        }
        tr.dataset.checkpoint = item.c.name;
        for (const c of ['name', 'step', 'tokens', 'time', 'size', 'sha']) {
          tr.appendChild(el('td', 'c-' + c + (['step', 'tokens', 'size'].indexOf(c) >= 0 ? ' num' : '')));
        }
        const sha = el('span', 'sha');
        sha.addEventListener('click', () => copy(sha.dataset.full));
        tr.querySelector('.c-sha').appendChild(sha);
        return tr;
      },
      (tr, item) => {
        if (item.empty) return;
        const c = item.c;
        const name = tr.querySelector('.c-name');
        if (!name.firstChild) {
          name.appendChild(el('span', 'mono', c.name));
          name.appendChild(el('span', 'tag'));
          name.title = c.manifest || '';
        }
        // The run's final checkpoint, and the one it would resume from now.
        const last = S.run && S.run.last_checkpoint && String(S.run.last_checkpoint.name).replace(/\.checkpoint\.json$/, '');
        const tag = !c.periodic ? 'final' : c.name === last ? 'latest' : '';
        const t = name.querySelector('.tag');
        setText(t, tag);
        t.hidden = !tag;
        t.className = 'tag' + (tag ? ' tag-' + tag : '');
        setText(tr.querySelector('.c-step'), fmtInt(c.step));
        setText(tr.querySelector('.c-tokens'), fmtSI(c.tokens));
        tr.querySelector('.c-tokens').title = fmtInt(c.tokens) + ' tokens';
        setText(tr.querySelector('.c-time'), fmtClock(c.time));
        setText(tr.querySelector('.c-size'), fmtBytes(c.size_bytes));
        const sha = tr.querySelector('.sha');
        sha.dataset.full = c.sha256 || '';
        setText(sha, c.sha256 ? c.sha256.slice(0, 12) + '…' : '–');
        sha.title = c.sha256 ? 'SHA-256 of the weights: ' + c.sha256 + ' (click to copy)' : '';
      }
    );
    setText($('checkpoints-note'), S.checkpoints.length + ' on disk');
  }

  function copy(text) {
    if (!text) return;
    const done = () => toast('copied ' + text.slice(0, 16) + '…');
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  }
  function fallbackCopy(text, done) {
    const ta = el('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    try {
      document.execCommand('copy');
      done();
    } catch (e) {
      window.prompt('SHA-256', text);
    }
    ta.remove();
  }

  // ---- events -----------------------------------------------------------------------------------
  function onEvents(list) {
    let checkpointSeen = false;
    const fresh = [];
    for (const e of list) {
      if (e.seq <= S.eventSeq) continue; // already shown (a reconnection sends them all again)
      S.eventSeq = e.seq;
      fresh.push(e);
      if (e.kind === 'checkpoint' || e.kind === 'run') checkpointSeen = true;
      if (!S.eventKinds.has(e.kind)) {
        S.eventKinds.add(e.kind);
        const o = el('option', '', e.kind);
        o.value = e.kind;
        $('events-filter').appendChild(o);
      }
    }
    if (fresh.length === 0) return;
    S.events = S.events.concat(fresh);
    if (S.events.length > MAX_EVENTS) S.events = S.events.slice(S.events.length - MAX_EVENTS);
    renderEvents(fresh);
    if (checkpointSeen) loadCheckpoints();
  }

  function eventRow(e) {
    const d = el('div', 'event');
    d.dataset.kind = e.kind;
    d.dataset.seq = e.seq;
    const when = el('span', 'when', fmtClock(e.time));
    when.title = new Date(e.time).toString();
    d.appendChild(when);
    const k = el('span', 'kind kind-' + e.kind, e.kind);
    d.appendChild(k);
    d.appendChild(el('span', 'msg', e.message));
    d.appendChild(el('span', 'by', e.by ? 'by ' + e.by : ''));
    return d;
  }

  function renderEvents(fresh) {
    const list = $('events-list');
    const filter = $('events-filter').value;
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    for (const e of fresh) {
      const row = eventRow(e);
      row.hidden = !!filter && e.kind !== filter;
      list.insertBefore(row, list.firstChild); // newest first
    }
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
    setText($('events-note'), S.events.length + (S.events.length >= MAX_EVENTS ? ' (the newest)' : ''));
  }

  // ---- metrics and charts -----------------------------------------------------------------------
  const TRAIN_FIELDS = ['step', 'tokens', 'time', 'loss', 'lr', 'batch', 'tokens_per_s', 'mfu', 'step_s', 'compute_s', 'wait_s', 'comm_s', 'grad_norm'];
  const VAL_SKIP = ['step', 'tokens', 'time', 'seq', 'samples'];

  function onMetrics(m) {
    let added = false;
    for (const p of m.train || []) {
      if (p.seq <= S.trainSeq) continue;
      S.trainSeq = p.seq;
      const row = {};
      for (const f of TRAIN_FIELDS) row[f] = p[f] == null ? null : Number(p[f]);
      S.train.push(row);
      added = true;
    }
    let newName = false;
    for (const p of m.val || []) {
      if (p.seq <= S.valSeq) continue;
      S.valSeq = p.seq;
      const values = {};
      for (const k of Object.keys(p)) {
        if (VAL_SKIP.indexOf(k) >= 0) continue;
        values[k] = p[k] == null ? null : Number(p[k]);
        if (S.valNames.indexOf(k) < 0) {
          S.valNames.push(k);
          newName = true;
        }
      }
      S.val.push({ step: p.step, tokens: p.tokens, time: p.time, values: values });
      added = true;
    }
    if (m.train_stride) S.trainStride = m.train_stride;
    S.train = cap(S.train);
    S.val = cap(S.val);
    if (newName) {
      S.valNames.sort();
      charts.val.rebuild = true;
    }
    if (added) scheduleCharts();
  }

  /** Bounded memory: past MAX_POINTS, every second one of the older points is dropped. */
  function cap(rows) {
    if (rows.length <= MAX_POINTS) return rows;
    const old = rows.length - KEEP_RECENT;
    const out = [];
    for (let i = 0; i < old; i += 2) out.push(rows[i]);
    for (let i = old; i < rows.length; i++) out.push(rows[i]);
    return out;
  }

  function ema(values, alpha) {
    const out = new Array(values.length);
    let s = null;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v == null || !isFinite(v)) {
        out[i] = s;
        continue;
      }
      s = s == null ? v : s + alpha * (v - s);
      out[i] = s;
    }
    return out;
  }

  const axisFont = '11px system-ui, sans-serif';
  function xOf(row) {
    return S.xMode === 'tokens' ? row.tokens : row.time;
  }
  function smoothing(n) {
    return Math.max(0.02, Math.min(0.3, 20 / Math.max(1, n)));
  }
  /** The newest value of a series: what a legend shows while the pointer is not over the chart. */
  function lastOf(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }
  /** A legend value: at the pointer, or the newest one when the pointer is elsewhere. */
  function legend(fmt) {
    return (u, v, si, idx) => fmt(idx == null ? lastOf(u.data[si]) : v);
  }
  function line(label, color, width, fmt, more) {
    return Object.assign({ label: label, stroke: color, width: width, value: legend(fmt) }, more || {});
  }
  function faint(color) {
    return color.replace(/^#(..)(..)(..)$/, (m, r, g, b) => 'rgba(' + [r, g, b].map((h) => parseInt(h, 16)).join(',') + ',0.3)');
  }
  function fill(color, alpha) {
    return color.replace(/^#(..)(..)(..)$/, (m, r, g, b) => 'rgba(' + [r, g, b].map((h) => parseInt(h, 16)).join(',') + ',' + alpha + ')');
  }
  /** Decimals that tell ticks {@code incr} apart. */
  function decimalsFor(incr) {
    if (!(incr > 0)) return 2;
    const t = incr.toFixed(8).replace(/0+$/, '');
    const dot = t.indexOf('.');
    return dot < 0 ? 0 : t.length - dot - 1;
  }
  /** Axis labels of a kind: num, pct (values in %), si, ms (values in seconds), int. */
  function axisLabels(kind) {
    return (u, vals, axisIdx, space, incr) =>
      vals.map((v) => {
        if (v == null) return '';
        switch (kind) {
          case 'si':
            return fmtSI(v);
          case 'int':
            return fmtInt(v);
          case 'pct':
            return v.toFixed(decimalsFor(incr)) + '%';
          case 'ms':
            return v >= 1 && incr >= 0.5 ? v.toFixed(decimalsFor(incr)) + ' s' : (v * 1000).toFixed(decimalsFor(incr * 1000)) + ' ms';
          default:
            return v !== 0 && Math.abs(v) < 1e-4 ? v.toExponential(1) : v.toFixed(decimalsFor(incr));
        }
      });
  }
  const fmtPct = (v) => (v == null ? '–' : fmtNum(v, 3) + '%');
  const fmtMs = (v) => (v == null ? '–' : v >= 1 ? fmtNum(v, 3) + ' s' : trim((v * 1000).toFixed(v >= 0.1 ? 0 : 1)) + ' ms');

  /** The charts: each names its series and builds its data from the page's history. */
  const charts = {
    loss: {
      series: () => [line('loss', faint(PALETTE[0]), 1, (v) => fmtNum(v, 4)), line('smoothed', PALETTE[0], 2, (v) => fmtNum(v, 4))],
      data: () => {
        const loss = S.train.map((r) => r.loss);
        return [S.train.map(xOf), loss, ema(loss, smoothing(loss.length))];
      },
      y: 'num',
    },
    val: {
      series: () =>
        S.valNames.map((n, i) =>
          line(n, PALETTE[(i + 1) % PALETTE.length], 1.75, (v) => fmtNum(v, 4), { points: { show: true, size: 4 }, spanGaps: true })
        ),
      data: () => [S.val.map(xOf)].concat(S.valNames.map((n) => S.val.map((r) => (r.values[n] == null ? null : r.values[n])))),
      y: 'num',
      empty: 'no evaluation yet (one every test_freq tokens)',
    },
    lr: {
      series: () => [line('lr', PALETTE[3], 1.75, (v) => fmtNum(v, 4))],
      data: () => [S.train.map(xOf), S.train.map((r) => r.lr)],
      y: 'num',
    },
    batch: {
      series: () => [line('rows', PALETTE[5], 1.75, fmtInt)],
      data: () => [S.train.map(xOf), S.train.map((r) => r.batch)],
      y: 'int',
      yFrom0: true,
      yIntegers: true,
    },
    tps: {
      series: () => [line('tokens/s', faint(PALETTE[2]), 1, fmtSI), line('smoothed', PALETTE[2], 2, fmtSI)],
      data: () => {
        const t = S.train.map((r) => r.tokens_per_s);
        return [S.train.map(xOf), t, ema(t, smoothing(t.length))];
      },
      y: 'si',
      yFrom0: true,
      robust: true,
    },
    mfu: {
      series: () => [line('MFU', faint(PALETTE[1]), 1, fmtPct), line('smoothed', PALETTE[1], 2, fmtPct)],
      data: () => {
        const m = S.train.map((r) => (r.mfu == null ? null : 100 * r.mfu));
        return [S.train.map(xOf), m, ema(m, smoothing(m.length))];
      },
      y: 'pct',
      yFrom0: true,
      robust: true,
    },
    // Stacked: compute at the bottom, data wait on it, communication on top (each smoothed);
    // the legend shows each part, not the running sums drawn.
    time: {
      series: () => {
        const part = (i) => (u, v, si, idx) => {
          const raw = charts.time.parts ? charts.time.parts[i] : [];
          return fmtMs(idx == null ? lastOf(raw) : raw[idx]);
        };
        return [
          { label: 'compute', stroke: PALETTE[0], width: 1, fill: fill(PALETTE[0], 0.35), value: part(0) },
          { label: 'data wait', stroke: PALETTE[1], width: 1, value: part(1) },
          { label: 'communication', stroke: PALETTE[3], width: 1, value: part(2) },
          line('step (raw)', 'rgba(55,65,81,0.35)', 1, fmtMs),
        ];
      },
      bands: [
        { series: [2, 1], fill: fill(PALETTE[1], 0.35) },
        { series: [3, 2], fill: fill(PALETTE[3], 0.35) },
      ],
      data: () => {
        const a = smoothing(S.train.length);
        const c = ema(S.train.map((r) => r.compute_s), a);
        const w = ema(S.train.map((r) => r.wait_s), a);
        const m = ema(S.train.map((r) => r.comm_s), a);
        charts.time.parts = [c, w, m];
        const cw = c.map((v, i) => (v == null ? null : v + (w[i] || 0)));
        const cwm = cw.map((v, i) => (v == null ? null : v + (m[i] || 0)));
        return [S.train.map(xOf), c, cw, cwm, S.train.map((r) => r.step_s)];
      },
      y: 'ms',
      yFrom0: true,
      robust: true,
    },
  };

  /**
   * The top of a chart that starts at 0. Robust charts (times, rates) are not flattened by a few
   * outliers (the first steps, a recovery): above the 98th percentile by a fifth, spikes are cut.
   */
  function yTop(u, max, robust) {
    if (!(max > 0)) return 1;
    if (robust) {
      const all = [];
      for (let i = 1; i < u.data.length; i++) for (const v of u.data[i]) if (v != null && isFinite(v)) all.push(v);
      if (all.length >= 50) {
        all.sort((a, b) => a - b);
        const q = all[Math.floor(all.length * 0.98)] * 1.2;
        if (q > 0 && q < max) return q;
      }
    }
    return max * 1.08;
  }

  /** Clock times on one line: seconds only when the ticks are under a minute apart. */
  function timeLabels(u, vals, axisIdx, space, incr) {
    const opts = { hour12: false, hour: '2-digit', minute: '2-digit' };
    if (incr < 60) opts.second = '2-digit';
    return vals.map((v) => (v == null ? '' : new Date(v * 1000).toLocaleTimeString('en-GB', opts)));
  }

  function chartOptions(name, def, width) {
    const time = S.xMode === 'time';
    const grid = { stroke: '#eef1f5', width: 1 };
    const ticks = { stroke: '#e2e6ec', width: 1, size: 4 };
    const opts = {
      width: width,
      height: 170,
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      legend: { show: true, live: true },
      scales: { x: { time: time } },
      axes: [
        {
          stroke: '#6b7584',
          font: axisFont,
          grid: grid,
          ticks: ticks,
          size: 28,
          values: time ? timeLabels : (u, vals) => vals.map((v) => fmtSI(v)),
        },
        {
          stroke: '#6b7584',
          font: axisFont,
          grid: grid,
          ticks: ticks,
          // wide enough for the longest label
          size: (u, vals) => 14 + 6.5 * Math.max(3, ...(vals || []).map((v) => String(v).length)),
          values: axisLabels(def.y),
        },
      ],
      series: [
        {
          label: time ? 'time' : 'tokens',
          value: (u, v, si, idx) => {
            const x = idx == null ? lastOf(u.data[0]) : v;
            if (x == null) return '–';
            return time ? new Date(x * 1000).toLocaleTimeString('en-GB', { hour12: false }) : fmtInt(x);
          },
        },
      ].concat(def.series()),
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width > 0) def.zoomed = true;
          },
        ],
      },
    };
    if (def.bands) opts.bands = def.bands;
    if (def.yIntegers) opts.axes[1].incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    if (def.yFrom0) opts.scales.y = { range: (u, min, max) => [0, yTop(u, max, def.robust)] };
    return opts;
  }

  function buildChart(name) {
    const def = charts[name];
    const box = $('chart-' + name);
    if (def.u) {
      def.u.destroy();
      def.u = null;
    }
    box.textContent = '';
    def.rebuild = false;
    def.zoomed = false;
    if (typeof uPlot === 'undefined') return;
    if (name === 'val' && S.valNames.length === 0) {
      box.appendChild(el('div', 'chart-empty', def.empty));
      box.dataset.points = '0';
      return;
    }
    const data = def.data();
    def.u = new uPlot(chartOptions(name, def, Math.max(200, box.clientWidth)), data, box);
    def.u.over.addEventListener('dblclick', () => (def.zoomed = false));
    def.emptyNote = el('div', 'chart-empty', def.empty || 'no step yet');
    box.appendChild(def.emptyNote);
    showPoints(name, data);
  }

  function showPoints(name, data) {
    const def = charts[name];
    const n = data[0].length;
    $('chart-' + name).dataset.points = String(n);
    if (def.emptyNote) def.emptyNote.hidden = n > 0;
  }

  function rebuildCharts() {
    for (const name of Object.keys(charts)) buildChart(name);
  }

  let chartTimer = null;
  let lastChartDraw = 0;
  function scheduleCharts() {
    if (chartTimer) return;
    const wait = Math.max(0, CHART_REDRAW_MS - (Date.now() - lastChartDraw));
    chartTimer = setTimeout(drawCharts, wait);
  }
  function drawCharts() {
    chartTimer = null;
    lastChartDraw = Date.now();
    for (const name of Object.keys(charts)) {
      const def = charts[name];
      if (def.rebuild || !def.u) {
        buildChart(name);
        continue;
      }
      const data = def.data();
      def.u.setData(data, !def.zoomed);
      showPoints(name, data);
    }
    const stride = S.trainStride > 1 ? 'the console keeps every ' + S.trainStride + 'th step of the early run · ' : '';
    setText($('charts-note'), stride + fmtInt(S.train.length) + ' points · drag to zoom, double-click to reset');
  }

  function resizeCharts() {
    for (const name of Object.keys(charts)) {
      const def = charts[name];
      if (!def.u) continue;
      const w = Math.max(200, $('chart-' + name).clientWidth);
      if (Math.abs(def.u.width - w) > 2) def.u.setSize({ width: w, height: 170 });
    }
  }

  function setXMode(mode) {
    S.xMode = mode;
    sessionStorage.setItem(X_KEY, mode);
    $('x-tokens').classList.toggle('seg-on', mode === 'tokens');
    $('x-time').classList.toggle('seg-on', mode === 'time');
    rebuildCharts();
  }

  // ---- actions ----------------------------------------------------------------------------------
  let confirmThen = null;
  function confirmDialog(title, body, okLabel, danger, then) {
    $('confirm-title').textContent = title;
    const t = $('confirm-text');
    t.textContent = '';
    if (typeof body === 'string') t.textContent = body;
    else t.appendChild(body);
    const ok = $('confirm-ok');
    ok.textContent = okLabel;
    ok.className = 'btn ' + (danger ? 'btn-danger' : 'btn-primary');
    confirmThen = then;
    $('confirm-dialog').showModal();
    ok.focus();
  }

  async function act(label, path, body) {
    showResult('pending', label + ': sending…');
    let r;
    try {
      r = await api('POST', path, body);
    } catch (e) {
      showResult('error', label + ': the console did not answer (' + e.message + ')');
      toast(label + ': no answer', true);
      return;
    }
    const msg = r.json && (r.json.message || r.json.error);
    if (r.status === 401) {
      showResult('error', label + ': ' + (msg || 'the console token is needed'));
      askToken(label + ' needs the console token.', () => act(label, path, body));
      return;
    }
    if (r.ok) {
      const by = r.json && r.json.by ? ' (token ' + r.json.by + ')' : '';
      showResult('ok', label + ': ' + (msg || 'accepted') + by);
      if (path.indexOf('checkpoint') >= 0 || path.indexOf('stop') >= 0) loadCheckpoints();
    } else {
      showResult('error', label + ' refused (HTTP ' + r.status + '): ' + (msg || 'no reason given'));
      toast(label + ' refused: ' + (msg || r.status), true);
    }
  }

  function stepLine() {
    const r = S.run;
    return r ? ' The run is at step ' + fmtInt(r.step) + ' of ' + fmtInt(r.total_steps) + '.' : '';
  }

  function confirmEvict(w) {
    confirmDialog(
      'Evict worker ' + w.id + '?',
      'Worker ' + w.id + (w.rank != null ? ' (rank ' + w.rank + ')' : '') + ' on ' + w.device + '@' + w.host + ', pid ' + w.pid +
        ', leaves the run at the next step boundary; a new world forms from the others.',
      'Evict',
      true,
      () => act('Evict ' + w.id, 'workers/' + encodeURIComponent(w.id) + '/evict')
    );
  }

  function settingsChanges() {
    const changes = {};
    const errors = [];
    for (const k of CHANGEABLE) {
      const v = $('set-' + k).value.trim().replace(/[,_\s]/g, '');
      if (v === '') continue;
      const n = Number(v);
      if (!isFinite(n)) errors.push(k + ': "' + v + '" is not a number');
      else changes[k] = n;
    }
    return { changes: changes, errors: errors };
  }

  function wire() {
    $('act-pause').addEventListener('click', () =>
      confirmDialog(
        'Pause the run?',
        'The workers finish the current step, then no step runs until you resume; they stay in the world.' + stepLine(),
        'Pause',
        false,
        () => act('Pause', 'actions/pause')
      )
    );
    $('act-resume').addEventListener('click', () =>
      confirmDialog('Resume the run?', 'Training goes on from where it paused.' + stepLine(), 'Resume', false, () =>
        act('Resume', 'actions/resume')
      )
    );
    $('act-checkpoint').addEventListener('click', () =>
      confirmDialog(
        'Save a checkpoint now?',
        'A checkpoint of the whole training state is written at the next step boundary; it appears in the checkpoints table.' + stepLine(),
        'Checkpoint now',
        false,
        () => act('Checkpoint', 'actions/checkpoint')
      )
    );
    $('act-stop').addEventListener('click', () =>
      confirmDialog(
        'Stop the run?',
        'The run saves a checkpoint at the next step boundary and then ends: nothing is lost, and the same train command resumes it from that checkpoint.' +
          stepLine(),
        'Stop the run',
        true,
        () => act('Stop', 'actions/stop')
      )
    );
    $('confirm-cancel').addEventListener('click', () => {
      confirmThen = null;
      $('confirm-dialog').close();
    });
    $('confirm-ok').addEventListener('click', () => {
      const then = confirmThen;
      confirmThen = null;
      $('confirm-dialog').close();
      if (then) then();
    });
    $('confirm-dialog').addEventListener('close', () => (confirmThen = null));

    $('settings-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const sc = settingsChanges();
      if (sc.errors.length) {
        setText($('settings-form-error'), sc.errors.join('; '));
        return;
      }
      const keys = Object.keys(sc.changes);
      if (keys.length === 0) {
        setText($('settings-form-error'), 'type a new value in one of the fields first');
        return;
      }
      setText($('settings-form-error'), '');
      const settings = (S.run && S.run.settings) || {};
      const body = document.createElement('div');
      body.appendChild(el('div', '', 'From the next step boundary:'));
      const table = document.createElement('table');
      for (const k of keys) {
        const tr = document.createElement('tr');
        tr.appendChild(el('td', '', k));
        tr.appendChild(el('td', 'muted', fmtSetting(num(settings[k]))));
        tr.appendChild(el('td', '', '→ ' + fmtSetting(sc.changes[k])));
        table.appendChild(tr);
      }
      body.appendChild(table);
      if (keys.indexOf('token_budget') >= 0) {
        body.appendChild(el('p', 'muted small', 'A new token_budget re-plans the learning-rate schedule from the current step.'));
      }
      confirmDialog('Change ' + keys.join(', ') + '?', body, 'Apply', false, async () => {
        await act('Settings', 'settings', sc.changes);
        if ($('action-result').classList.contains('ok')) {
          for (const k of keys) $('set-' + k).value = '';
        }
      });
    });

    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token-input').value.trim();
      if (!v) return;
      setToken(v);
      toast('token set for this tab');
      if (S.conn !== 'live') connect();
      loadCheckpoints();
    });
    $('token-forget').addEventListener('click', () => {
      setToken('');
      toast('token forgotten');
    });
    $('token-dialog-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token-dialog-input').value.trim();
      if (!v) return;
      setToken(v);
      $('token-dialog').close();
      const then = tokenThen;
      tokenThen = null;
      if (then) then();
      loadCheckpoints();
    });
    $('token-dialog-cancel').addEventListener('click', () => {
      tokenThen = null;
      $('token-dialog').close();
    });

    $('x-tokens').addEventListener('click', () => setXMode('tokens'));
    $('x-time').addEventListener('click', () => setXMode('time'));
    $('events-filter').addEventListener('change', () => {
      const f = $('events-filter').value;
      for (const row of $('events-list').children) row.hidden = !!f && row.dataset.kind !== f;
    });

    if (typeof ResizeObserver !== 'undefined') {
      let t = null;
      new ResizeObserver(() => {
        clearTimeout(t);
        t = setTimeout(resizeCharts, 100);
      }).observe($('charts'));
    } else {
      window.addEventListener('resize', resizeCharts);
    }
    // Ages on the page (heartbeat, ETA) come with each state; refresh "ago" texts meanwhile.
    setInterval(() => {
      if (S.run && S.run.last_checkpoint) $('run-last-ckpt').title = S.run.last_checkpoint.name + ', ' + fmtAgo(S.run.last_checkpoint.time);
    }, 5000);
  }

  function start() {
    showTokenState();
    wire();
    setXMode(S.xMode);
    $('events-list').appendChild(el('div', 'empty', 'No event yet.'));
    renderCheckpoints();
    loadCheckpoints();
    connect();
  }

  // For tests and curious people: the page's state, read-only by convention.
  window.omnibioteConsole = { state: S, charts: charts };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
