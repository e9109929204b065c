// The token for every request and WebSocket: given once (config.token) or fetched through
// config.getToken(), again a minute before the JWT's exp (a SaaS mints short-lived ones).
const EARLY_S = 60;

function expiry(token) {
  try {
    const payload = token.split('.')[1];
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof json.exp === 'number' ? json.exp : Infinity;
  } catch {
    return Infinity; // not a JWT (an admin token): never expires
  }
}

export function tokenSource(config) {
  let current = config.token || '';
  let refreshing = null;
  return async function token() {
    const stale = !current || expiry(current) - EARLY_S <= Date.now() / 1000;
    if (stale && typeof config.getToken === 'function') {
      refreshing = refreshing || Promise.resolve(config.getToken()).finally(() => { refreshing = null; });
      current = String(await refreshing);
    }
    return current;
  };
}
