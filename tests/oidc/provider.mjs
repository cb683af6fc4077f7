// OpenID Connect test provider for Participe's Rust integration tests.
// Built on the real `oidc-provider` package (see package.json); NOT for production.
//
// Start: OIDC_TEST_CONFIG='{"clients":[...],"accounts":{...}}' node tests/oidc/provider.mjs
// It listens on 127.0.0.1:<free port>, prints ONE line on stdout, {"issuer":"http://127.0.0.1:PORT"},
// and logs only to stderr (set OIDC_TEST_DEBUG=1 for a line per request). It exits when its stdin
// closes, and on SIGTERM/SIGINT.
//
// Endpoints (issuer = http://127.0.0.1:PORT, no trailing slash):
//   discovery /.well-known/openid-configuration, authorization /auth, token /token,
//   userinfo /me, jwks /jwks, end session /session/end.
//
// LOGIN, drivable by a plain HTTP client with a cookie jar (no JavaScript):
//  1. GET /auth?response_type=code&client_id=..&redirect_uri=..&scope=openid%20email..&state=..
//       &nonce=..&code_challenge=..&code_challenge_method=S256     (PKCE S256 is REQUIRED)
//     -> 303, Location: /interaction/<uid>; sets cookies _interaction, _interaction_resume.
//  2. GET /interaction/<uid> -> 200 HTML login form (action="/interaction/<uid>", method post).
//  3. POST /interaction/<uid>, application/x-www-form-urlencoded:
//       prompt=login & login=<account login> & password=<anything>
//     -> 303, Location: http://127.0.0.1:PORT/auth/<uid>  (the "resume" endpoint)
//  4. GET /auth/<uid> -> 303, Location: <redirect_uri>?code=..&state=..&iss=<issuer>
//     (sets the _session cookie). Consent is skipped: loadExistingGrant below grants every
//     requested scope. If a session already exists, step 1 answers directly with that redirect.
//     A login that is not in "accounts" makes step 3 answer 303, Location: /interaction/<uid>
//     (the login form again). Cookies are path-scoped (/interaction/<uid>, /auth/<uid>), not Secure.
//  5. POST /token (client_secret_basic by default; a client may register
//     "token_endpoint_auth_method": "client_secret_post" in the config) with grant_type=
//     authorization_code, code, redirect_uri, code_verifier -> 200 JSON with access_token,
//     id_token (carries the profile/email claims too), token_type Bearer, expires_in, scope.
//     A replayed code -> 400 {"error":"invalid_grant","error_description":"grant request is invalid"}.
//
// LOGOUT (RP-initiated):
//  1. GET /session/end?id_token_hint=<id_token>&post_logout_redirect_uri=<registered>&state=..
//     -> 200 HTML form: <form method="post" action="/session/end/confirm"> with hidden inputs
//        xsrf=<secret> and logout=yes. (If the browser has no live session the page is instead an
//        auto-submitting form_post page with the same fields.)
//  2. POST /session/end/confirm, form-urlencoded: xsrf=<secret from the form> & logout=yes
//     -> 303, Location: <post_logout_redirect_uri>?state=<state>. The provider session is destroyed
//        and the _session cookie cleared. (Without post_logout_redirect_uri: Location
//        /session/end/success.) Omitting logout=yes only logs out of the hinted client.
//
// TEST CONTROL:
//   POST /_test/mode {"mode":"none|unknown_key|wrong_iss|wrong_aud|expired|wrong_nonce|rotate|slow",
//                     "delay_ms":N} -> 204; tampers with /token (and /jwks, /me for rotate) answers.
//   GET /_test/sessions -> {"count":N,"accounts":["login",...]}: live sessions with a logged-in user.
//
// Keys: k1 signs everything. k2 is in the provider's keystore too (so that an id_token re-signed
// with k2 in "rotate" mode is still accepted as id_token_hint at /session/end), but /jwks publishes
// only k1, except in "rotate" mode where it publishes [k2, k1]. "intruder" is never published.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Provider from 'oidc-provider';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';

// stdout is reserved for the single issuer line: oidc-provider prints NOTICEs with console.info.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
const debug = process.env.OIDC_TEST_DEBUG ? toStderr : () => {};

// ---- lifetime: die with the parent test process (stdin closed) or on SIGTERM/SIGINT ----
const shutdown = () => process.exit(0);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || '{"clients":[],"accounts":{}}');
const accounts = config.accounts || {};

// ---- keys: k1 signs by default, k2 is for the "rotate" mode, intruder is never published ----
async function makeKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const { d, p, q, dp, dq, qi, ...pub } = jwk; // public part
  return { jwk, pub, key: await importJWK(jwk, 'RS256') };
}
const keys = { k1: await makeKey('k1'), k2: await makeKey('k2'), intruder: await makeKey('intruder') };

// ---- a Map-based adapter, so that /_test/sessions can look at the stored sessions ----
const store = new Map(); // "Model:id" -> { payload, expiresAt }; also index keys (see below)
function live(key) { // the stored value, unless expired
  const entry = store.get(key);
  if (entry?.expiresAt && entry.expiresAt < Date.now()) { store.delete(key); return undefined; }
  return entry?.payload;
}
class TestAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  get(key) { return live(key); }
  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
    if (this.model === 'Session') store.set(`sessionUid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
    if (payload.grantId) { // remember which tokens belong to a grant, for revokeByGrantId
      const members = this.get(`grant:${payload.grantId}`) || new Set();
      members.add(this.key(id));
      store.set(`grant:${payload.grantId}`, { payload: members });
    }
  }
  async find(id) { return this.get(this.key(id)); }
  async findByUid(uid) { const id = this.get(`sessionUid:${uid}`); return id && this.find(id); }
  async findByUserCode(code) { const id = this.get(`userCode:${code}`); return id && this.find(id); }
  async consume(id) { const p = this.get(this.key(id)); if (p) p.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const key of this.get(`grant:${grantId}`) || []) store.delete(key);
    store.delete(`grant:${grantId}`);
  }
}
function liveSessionAccounts() {
  const out = [];
  for (const key of [...store.keys()]) {
    const session = key.startsWith('Session:') ? live(key) : undefined;
    if (session?.accountId) out.push(session.accountId);
  }
  return out;
}

// ---- the provider ----
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const OIDC_SCOPES = ['openid', 'email', 'profile', 'given_name', 'family_name', 'usual_name'];
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// A client may give "redirect_uri_patterns" (regular expressions, anchored): the tests' servers
// listen on free ports, unknown when the provider starts. Its "redirect_uris" and
// "post_logout_redirect_uris" must still hold one valid address each (oidc-provider checks them).
const patterns = new Map(); // client_id -> [RegExp]
const provider = new Provider(issuer, {
  adapter: TestAdapter,
  clients: (config.clients || []).map(({ redirect_uri_patterns: p = [], ...c }) => {
    patterns.set(c.client_id, p.map((re) => new RegExp(`^(?:${re})$`)));
    return { grant_types: ['authorization_code'], response_types: ['code'], ...c };
  }),
  // accountId = login; claims = {sub: login, ...fields}; oidc-provider filters them by scope.
  async findAccount(ctx, sub) {
    if (!Object.hasOwn(accounts, sub)) return undefined;
    return { accountId: sub, claims: async () => ({ ...accounts[sub], sub }) };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'usual_name'],
    given_name: ['given_name'],
    family_name: ['family_name'],
    usual_name: ['usual_name'],
  },
  scopes: OIDC_SCOPES,
  conformIdTokenClaims: false, // put the scope claims into the id_token too
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    claimsParameter: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // Self-contained, JS-free confirmation page: the form holds xsrf and logout=yes itself.
      async logoutSource(ctx, form) {
        ctx.body = page('Logout', form.replace('</form>',
          '<input type="hidden" name="logout" value="yes"/><button type="submit">Sign out</button></form>'));
      },
      async postLogoutSuccessSource(ctx) { ctx.body = page('Signed out', '<h1>Signed out</h1>'); },
    },
  },
  pkce: { required: () => true }, // only S256 exists in oidc-provider 9
  // Auto-consent: every requested OIDC scope is granted, so login goes straight back to the client.
  async loadExistingGrant(ctx) {
    const { client, session, provider: p } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    const grant = (grantId && await p.Grant.find(grantId))
      || new p.Grant({ accountId: session.accountId, clientId: client.clientId });
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p>${esc(k)}: ${esc(v)}</p>`).join(''));
  },
  cookies: { keys: ['participe-oidc-test-provider-cookie-key'] }, // cookies are not `secure` over http
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Grant: 86400, Session: 86400 },
  jwks: { keys: [keys.k1.jwk, keys.k2.jwk] }, // k1 signs (first); k2 is only published in "rotate"
});
for (const method of ['redirectUriAllowed', 'postLogoutRedirectUriAllowed']) {
  const original = provider.Client.prototype[method];
  provider.Client.prototype[method] = function allowed(uri) {
    return (patterns.get(this.clientId) || []).some((re) => re.test(uri)) || original.call(this, uri);
  };
}
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// ---- test control and tampering, running around the provider's own routes ----
let mode = 'none';
let delayMs = 5000;

async function resign(jwt, keyName, mutate = () => {}) {
  const payload = decodeJwt(jwt); // at_hash/c_hash etc. are kept as they are
  mutate(payload);
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: keyName, typ: 'JWT' }).sign(keys[keyName].key);
}
const idTokenTamper = {
  unknown_key: (t) => resign(t, 'intruder'),
  wrong_iss: (t) => resign(t, 'k1', (p) => { p.iss = 'http://evil.example'; }),
  wrong_aud: (t) => resign(t, 'k1', (p) => { p.aud = 'someone-else'; }),
  expired: (t) => resign(t, 'k1', (p) => {
    const now = Math.floor(Date.now() / 1000);
    p.exp = now - 600;
    p.iat = now - 1200;
  }),
  wrong_nonce: (t) => resign(t, 'k1', (p) => { p.nonce = 'not-the-nonce'; }),
  rotate: (t) => resign(t, 'k2'),
};

async function readText(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw;
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/_test/mode' && ctx.method === 'POST') {
    const body = JSON.parse((await readText(ctx.req)) || '{}');
    if (body.mode !== 'none' && body.mode !== 'slow' && !idTokenTamper[body.mode]) ctx.throw(400, `unknown mode ${body.mode}`);
    mode = body.mode;
    delayMs = Number.isFinite(body.delay_ms) ? body.delay_ms : 5000;
    console.error(`[oidc-test] mode=${mode} delay_ms=${delayMs}`);
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/_test/sessions' && ctx.method === 'GET') {
    const accountsLoggedIn = liveSessionAccounts();
    ctx.body = { count: accountsLoggedIn.length, accounts: accountsLoggedIn };
    return;
  }
  // The dev login form accepts any login; an unknown one would crash the provider later (no
  // account, no grant), so send the browser back to the login form instead.
  if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
    ctx.request.body = await readText(ctx.req); // oidc-provider falls back to it (warns once)
    const form = new URLSearchParams(ctx.request.body);
    if (form.get('prompt') === 'login' && !Object.hasOwn(accounts, form.get('login'))) {
      ctx.status = 303;
      ctx.redirect(ctx.path);
      return;
    }
  }

  await next();
  debug(`[oidc-test] ${ctx.method} ${ctx.url} -> ${ctx.status} ${ctx.response.get('location') || ''}`);

  if (ctx.path === '/jwks' && ctx.status === 200) {
    ctx.body = { keys: mode === 'rotate' ? [keys.k2.pub, keys.k1.pub] : [keys.k1.pub] };
  }
  if (ctx.path === '/token' && ctx.method === 'POST') {
    if (ctx.status === 200 && ctx.body?.id_token && idTokenTamper[mode]) {
      ctx.body = { ...ctx.body, id_token: await idTokenTamper[mode](ctx.body.id_token) };
    }
    if (mode === 'slow') await sleep(delayMs);
  }
  if (ctx.path === '/me' && mode === 'rotate' && ctx.status === 200 && ctx.type === 'application/jwt') {
    ctx.body = await resign(ctx.body, 'k2');
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
