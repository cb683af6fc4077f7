// Smoke test for provider.mjs (not used by CI): `cd tests/oidc && node smoke.mjs` prints OK.
// Drives the provider the way a browser-less client does: fetch + a tiny cookie jar, no JS.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

const CB = 'http://127.0.0.1:9/cb';
const FC_CB = 'http://nord.localhost:4321/auth/franceconnect/callback';
const config = {
  clients: [
    { client_id: 'portal', client_secret: 'portal-secret', redirect_uris: [CB],
      post_logout_redirect_uris: ['http://127.0.0.1:9/bye'], userinfo_signed_response_alg: 'RS256' },
    { client_id: 'fc', client_secret: 'fc-secret', redirect_uris: [FC_CB],
      post_logout_redirect_uris: ['http://nord.localhost:4321/'], token_endpoint_auth_method: 'client_secret_post' },
  ],
  accounts: {
    alice: { email: 'alice@example.org', email_verified: true, given_name: 'Alice', family_name: 'Martin', usual_name: 'Durand' },
  },
};

const child = spawn(process.execPath, [new URL('./provider.mjs', import.meta.url).pathname], {
  env: { ...process.env, OIDC_TEST_CONFIG: JSON.stringify(config) },
  stdio: ['pipe', 'pipe', process.env.SMOKE_VERBOSE ? 'inherit' : 'ignore'],
});
const lines = createInterface({ input: child.stdout });
const [firstLine] = await once(lines, 'line');
const { issuer } = JSON.parse(firstLine);
let extraStdout = '';
lines.on('line', (l) => { extraStdout += `${l}\n`; });
const log = (...a) => console.log('  ', ...a);
log('issuer', issuer);

// ---- a tiny path-aware cookie jar ----
const jar = new Map(); // `${name};${path}` -> {name, value, path}
function storeCookies(res) {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) || '/';
    const expired = attrs.some((a) => a.toLowerCase().startsWith('expires=') && new Date(a.slice(8)) < new Date());
    assert.ok(!attrs.some((a) => a.toLowerCase() === 'secure'), `secure cookie over http: ${sc}`);
    if (expired || value === '') jar.delete(`${name};${path}`);
    else jar.set(`${name};${path}`, { name, value, path });
  }
}
function cookieHeader(url) {
  const { pathname } = new URL(url);
  return [...jar.values()].filter((c) => pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
}
async function http(method, url, { form, headers = {}, json } = {}) {
  const abs = new URL(url, issuer).href;
  const h = { ...headers, cookie: cookieHeader(abs) };
  let body;
  if (form) { body = new URLSearchParams(form).toString(); h['content-type'] = 'application/x-www-form-urlencoded'; }
  if (json) { body = JSON.stringify(json); h['content-type'] = 'application/json'; }
  const res = await fetch(abs, { method, headers: h, body, redirect: 'manual' });
  storeCookies(res);
  return res;
}
// parse the first <form> of a page: action + all <input name value>
function parseForm(html) {
  const action = html.match(/<form[^>]*action="([^"]*)"/)[1].replace(/&amp;/g, '&');
  const inputs = {};
  for (const m of html.matchAll(/<input[^>]*>/g)) {
    const name = m[0].match(/name="([^"]*)"/)?.[1];
    if (name) inputs[name] = m[0].match(/value="([^"]*)"/)?.[1] ?? '';
  }
  return { action, inputs };
}

// ---- discovery ----
const disco = await (await http('GET', '/.well-known/openid-configuration')).json();
log('discovery', JSON.stringify(Object.fromEntries(['issuer', 'authorization_endpoint', 'token_endpoint',
  'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'code_challenge_methods_supported',
  'id_token_signing_alg_values_supported', 'userinfo_signing_alg_values_supported',
  'token_endpoint_auth_methods_supported', 'scopes_supported', 'claims_supported'].map((k) => [k, disco[k]]))));
assert.equal(disco.issuer, issuer);
const JWKS = createRemoteJWKSet(new URL(disco.jwks_uri), { cooldownDuration: 0 });

// ---- authorization code flow; returns {code, state, nonce, verifier} ----
async function authorize({ clientId = 'portal', redirectUri = CB, scope = 'openid email profile', login = 'alice', extra = {} } = {}) {
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const url = new URL(disco.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
    scope, state, nonce, code_challenge: challenge, code_challenge_method: 'S256', ...extra });
  let res = await http('GET', url);
  const steps = [`GET /auth -> ${res.status} ${res.headers.get('location')}`];
  for (let i = 0; i < 6 && !res.headers.get('location')?.startsWith(redirectUri); i++) {
    const location = res.headers.get('location');
    assert.ok(res.status === 303 || res.status === 302, `expected redirect, got ${res.status}: ${await res.text()}`);
    res = await http('GET', location);
    steps.push(`GET ${new URL(location, issuer).pathname} -> ${res.status} ${res.headers.get('location') ?? ''}`);
    if (res.status === 200) { // the login form
      const form = parseForm(await res.text());
      assert.equal(form.inputs.prompt, 'login');
      res = await http('POST', form.action, { form: { ...form.inputs, login, password: 'anything' } });
      steps.push(`POST ${form.action} {${Object.keys(form.inputs)}} -> ${res.status} ${res.headers.get('location')}`);
    }
  }
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), issuer);
  return { code: back.searchParams.get('code'), nonce, verifier, steps, redirectUri };
}
async function token({ code, verifier, redirectUri }, { clientId = 'portal', secret = 'portal-secret', post = false } = {}) {
  const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
  const headers = {};
  if (post) Object.assign(form, { client_id: clientId, client_secret: secret });
  else headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  const res = await http('POST', disco.token_endpoint, { form, headers });
  return { status: res.status, body: await res.json() };
}
const verify = (jwt, aud = 'portal') => jwtVerify(jwt, JWKS, { issuer, audience: aud, algorithms: ['RS256'] });

// ---- first login ----
const a1 = await authorize();
a1.steps.forEach((s) => log(s));
const t1 = await token(a1);
assert.equal(t1.status, 200, JSON.stringify(t1.body));
log('token response keys', Object.keys(t1.body).join(','), 'scope', t1.body.scope);
const { payload: id1, protectedHeader: h1 } = await verify(t1.body.id_token);
assert.equal(h1.kid, 'k1');
assert.equal(id1.nonce, a1.nonce);
assert.equal(id1.sub, 'alice');
assert.equal(id1.email, 'alice@example.org');
assert.equal(id1.given_name, 'Alice');
assert.equal(id1.usual_name, 'Durand');
log('id_token claims', JSON.stringify(id1));

// replayed code
const replay = await token(a1);
log('replayed code ->', replay.status, JSON.stringify(replay.body));
assert.equal(replay.status, 400);
assert.equal(replay.body.error, 'invalid_grant');

// signed userinfo (the replay revoked the first grant's tokens, so log in again)
const a2 = await authorize();
assert.equal(a2.steps.length, 1, 'existing session: straight back to the client');
const t2 = await token(a2);
let ui = await http('GET', disco.userinfo_endpoint, { headers: { authorization: `Bearer ${t2.body.access_token}` } });
assert.equal(ui.status, 200);
assert.match(ui.headers.get('content-type'), /application\/jwt/);
const { payload: uiClaims } = await verify(await ui.text());
log('signed userinfo', JSON.stringify(uiClaims));
assert.equal(uiClaims.family_name, 'Martin');

// FranceConnect-style client: .localhost redirect URI, custom scopes, acr_values, client_secret_post
const fc = await authorize({ clientId: 'fc', redirectUri: FC_CB, scope: 'openid given_name family_name email',
  extra: { acr_values: 'eidas1' } });
const tfc = await token(fc, { clientId: 'fc', secret: 'fc-secret', post: true });
assert.equal(tfc.status, 200, JSON.stringify(tfc.body));
const { payload: idfc } = await verify(tfc.body.id_token, 'fc');
log('fc id_token', JSON.stringify(idfc));
assert.equal(idfc.given_name, 'Alice');
assert.equal(idfc.email, 'alice@example.org');
assert.equal(idfc.usual_name, undefined);
ui = await http('GET', disco.userinfo_endpoint, { headers: { authorization: `Bearer ${tfc.body.access_token}` } });
log('fc plain userinfo', ui.headers.get('content-type'), JSON.stringify(await ui.json()));

// ---- tampering modes ----
let rotatedIdToken;
const setMode = async (mode, extra = {}) => {
  const res = await http('POST', '/_test/mode', { json: { mode, ...extra } });
  assert.equal(res.status, 204);
};
async function tamperedIdToken(mode, extra) {
  await setMode(mode, extra);
  const a = await authorize();
  const started = Date.now();
  const t = await token(a);
  assert.equal(t.status, 200);
  return { jwt: t.body.id_token, a, t, elapsed: Date.now() - started };
}
const expectReject = async (jwt, code) => {
  await assert.rejects(verify(jwt), (err) => { log(`  rejected: ${err.code}`); return !code || err.code === code; });
};
{
  const { jwt } = await tamperedIdToken('unknown_key');
  assert.equal(decodeProtectedHeader(jwt).kid, 'intruder');
  await expectReject(jwt, 'ERR_JWKS_NO_MATCHING_KEY');
}
{
  const { jwt } = await tamperedIdToken('wrong_iss');
  assert.equal(decodeJwt(jwt).iss, 'http://evil.example');
  await expectReject(jwt, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
}
{
  const { jwt } = await tamperedIdToken('wrong_aud');
  assert.equal(decodeJwt(jwt).aud, 'someone-else');
  await expectReject(jwt, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
}
{
  const { jwt } = await tamperedIdToken('expired');
  assert.ok(decodeJwt(jwt).exp < Date.now() / 1000 - 500);
  await expectReject(jwt, 'ERR_JWT_EXPIRED');
}
{
  const { jwt, a } = await tamperedIdToken('wrong_nonce');
  const { payload } = await verify(jwt); // signature fine, only the nonce is wrong
  assert.equal(payload.nonce, 'not-the-nonce');
  assert.notEqual(payload.nonce, a.nonce);
}
{
  const { jwt, t } = await tamperedIdToken('rotate');
  rotatedIdToken = jwt; // used as id_token_hint for the logout below (the provider knows k2)
  assert.equal(decodeProtectedHeader(jwt).kid, 'k2');
  const jwks = await (await http('GET', disco.jwks_uri)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), ['k2', 'k1']);
  assert.ok(jwks.keys.every((k) => !k.d));
  await verify(jwt);
  const uiRes = await http('GET', disco.userinfo_endpoint, { headers: { authorization: `Bearer ${t.body.access_token}` } });
  const uiJwt = await uiRes.text();
  assert.equal(decodeProtectedHeader(uiJwt).kid, 'k2');
  await verify(uiJwt);
}
{
  const { jwt, elapsed } = await tamperedIdToken('slow', { delay_ms: 1500 });
  log(`  slow token endpoint took ${elapsed} ms`);
  assert.ok(elapsed >= 1500);
  await verify(jwt);
}
await setMode('none');
{
  const jwks = await (await http('GET', disco.jwks_uri)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), ['k1']);
}

// ---- logout ----
let sessions = await (await http('GET', '/_test/sessions')).json();
log('sessions before logout', JSON.stringify(sessions));
assert.equal(sessions.count, 1);
const endUrl = new URL(disco.end_session_endpoint);
endUrl.search = new URLSearchParams({ id_token_hint: rotatedIdToken,
  post_logout_redirect_uri: 'http://127.0.0.1:9/bye', state: 'st4te' });
let res = await http('GET', endUrl);
assert.equal(res.status, 200);
const logoutForm = parseForm(await res.text());
log(`GET /session/end -> 200 form action=${logoutForm.action} fields=${JSON.stringify(Object.keys(logoutForm.inputs))}`);
res = await http('POST', logoutForm.action, { form: logoutForm.inputs });
log(`POST ${logoutForm.action} -> ${res.status} ${res.headers.get('location')}`);
assert.equal(res.status, 303);
assert.equal(res.headers.get('location'), 'http://127.0.0.1:9/bye?state=st4te');
sessions = await (await http('GET', '/_test/sessions')).json();
log('sessions after logout', JSON.stringify(sessions));
assert.equal(sessions.count, 0);
// a new authorization request needs a login again
const a3 = await authorize();
assert.ok(a3.steps.length > 1 && a3.steps[0].includes('/interaction/'), a3.steps.join('\n'));
// tokens of the logged-out session's grant were revoked
ui = await http('GET', disco.userinfo_endpoint, { headers: { authorization: `Bearer ${t2.body.access_token}` } });
log('userinfo with a token from before the logout ->', ui.status);

// ---- unknown login: the login form comes back ----
{
  const url = new URL(disco.authorization_endpoint);
  const verifier = randomBytes(32).toString('base64url');
  jar.clear();
  url.search = new URLSearchParams({ response_type: 'code', client_id: 'portal', redirect_uri: CB, scope: 'openid',
    state: 's', nonce: 'n', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
  res = await http('GET', url);
  res = await http('GET', res.headers.get('location'));
  const form = parseForm(await res.text());
  res = await http('POST', form.action, { form: { ...form.inputs, login: 'mallory', password: 'x' } });
  log(`unknown login: POST ${new URL(form.action).pathname} -> ${res.status} ${res.headers.get('location')}`);
  assert.equal(res.status, 303);
  res = await http('GET', res.headers.get('location'));
  assert.equal(res.status, 200);
  assert.equal(parseForm(await res.text()).inputs.prompt, 'login'); // the login form again
  res = await http('POST', form.action, { form: { ...form.inputs, login: 'alice', password: 'x' } });
  res = await http('GET', res.headers.get('location'));
  assert.equal(res.status, 303);
  assert.ok(res.headers.get('location').startsWith(`${CB}?code=`));
}

// ---- lifetime: closing stdin ends the provider ----
assert.equal(extraStdout, '', 'nothing else on stdout');
child.stdin.end();
const [exitCode] = await once(child, 'exit');
assert.equal(exitCode, 0);
console.log('OK');
