// The landing page at {base_url}: takes the token from ?token= (then removes it from the
// address bar) or asks for it, keeps it in sessionStorage (this tab only), configures the
// widget and shows the server's health and this kernel's limits.
(function () {
  const KEY = 'cellbox-token';
  const base = new URL('.', location.href).href;
  const params = new URLSearchParams(location.search);
  if (params.has('token')) {
    sessionStorage.setItem(KEY, params.get('token'));
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  const token = sessionStorage.getItem(KEY);
  const $ = (id) => document.getElementById(id);

  $('snippet').textContent =
`<script type="application/json" data-cellbox-config>
  {"url": "${base}", "kernel": "cellbox-python"}
</script>
<script src="${base}static/embed/cellbox-embed.js"></script>
<script>
  // A short-lived token per user, minted by your backend:
  cellbox.configure({getToken: () => fetch("/my-cellbox-token").then((r) => r.text())});
</script>
<pre data-cellbox>print("hello from cellbox")</pre>`;

  if (!token) {
    $('ask-token').hidden = false;
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $('token-input').value.trim());
      location.reload();
    });
    return;
  }
  $('main').hidden = false;
  $('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); location.reload(); });
  $('run-all').addEventListener('click', () => window.cellbox.runAll());
  window.cellbox.configure({ url: base, token });

  const bytes = (n) => (n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : Math.round(n / (1 << 20)) + ' MiB');
  // Sessions waiting ready, from /api/status (any token).
  const pool = (pools) => (pools || []).map((p) => `${p.ready} ready (${p.kernelspec})`).join(', ') || 'no pool';

  async function health() {
    try {
      const res = await fetch(base + 'api/status', { headers: { Authorization: 'token ' + token } });
      if (!res.ok) throw new Error((await res.json()).message || res.statusText);
      const s = await res.json();
      $('health-state').textContent = 'up since ' + s.started;
      $('health-kernels').textContent = `${s.kernels} (${Object.entries(s.kernels_by_state).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}), ${s.connections} connection(s)`;
      $('health-version').textContent = s.version;
      $('health-pool').textContent = pool(s.pools);
    } catch (e) {
      $('health-state').textContent = 'unreachable: ' + e.message;
    }
  }
  health();
  setInterval(health, 10000);
  window.cellbox.kernel().then((k) => k.ready.then(() => {
    health();
    const l = (k.model && k.model.limits) || {};
    $('limits').textContent = [
      l.memory_bytes ? `memory ${bytes(l.memory_bytes)}` : 'memory: no limit',
      l.cell_timeout ? `cells ${l.cell_timeout} s` : 'cells: no time limit',
      l.cell_timeout_cap ? `(at most ${l.cell_timeout_cap} s on request)` : '',
    ].filter(Boolean).join(', ');
  })).catch((e) => { $('limits').textContent = 'no kernel: ' + e.message; });
})();
