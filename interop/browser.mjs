// A real browser against an MCP gateway: Debian's Chromium, headless, driven by playwright-core.
//
// Run by `cargo xtask interop` as `node interop/browser.mjs` from the workspace root, with the
// contract's environment: INTEROP_MCP_URL (the only thing known about the gateway),
// INTEROP_USERNAME, INTEROP_PASSWORD, INTEROP_ARTIFACTS (screenshots go there) and CHROMIUM (the
// browser binary, default /usr/bin/chromium).
//
// Check 1, the login by clicking: discovery from the 401 (WWW-Authenticate resource_metadata →
// PRM → AS metadata) and registration with plain fetch from Node, then the browser opens the S256
// authorization URL, shows the login page (screenshot `login-page.png`), the username and password
// are typed and the submit button clicked, a consent page is approved if there is one, and the
// browser lands on this script's own callback server with `code`, the exact `state` and `iss`.
// Node redeems the code and calls `tools/call whoami` with the token.
//
// Check 2, the MCP Inspector way (steps `cors: …`): a page served from another origin (port 6274,
// MCP Inspector's, when it is free) calls discovery, registration and the token endpoint with
// `fetch` from its own script: all must be CORS-readable; `fetch` of the authorization endpoint
// must not be. On the Inspector origin the page also reads the MCP endpoint's 401 challenge and
// calls `tools/call whoami` with the token.
//
// Output: one `PASS <step>` or `FAIL <step>: <reason>` line per step; after a FAIL, the HTTP
// exchanges of that step with secrets redacted. Exit 0 iff every step passed.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';

const MCP_URL = requiredEnv('INTEROP_MCP_URL');
const USERNAME = requiredEnv('INTEROP_USERNAME');
const PASSWORD = requiredEnv('INTEROP_PASSWORD');
const ARTIFACTS = process.env.INTEROP_ARTIFACTS || 'target/interop/browser';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const INSPECTOR_PORT = 6274;
const STEP_TIMEOUT_MS = 15_000;
const EXCERPT = 400;

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.log(`FAIL setup: the environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Redaction: by name in URLs, forms, JSON and HTML inputs; by shape (JWT, bak_/oag_ keys); and
// every secret value this script has seen, wherever it appears.

const SECRET_NAMES = [
  'code', 'code_verifier', 'access_token', 'refresh_token', 'password', 'csrf_token',
  'client_secret', 'id_token',
];
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);
const knownSecrets = new Set();
learnSecret(PASSWORD);   // also redacted by name in forms, whatever its length

function learnSecret(value) {
  if (typeof value === 'string' && value.length >= 6) knownSecrets.add(value);
}

function redact(text) {
  if (text == null) return text;
  let out = String(text);
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[REDACTED]');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join('[REDACTED]');
  }
  const names = SECRET_NAMES.join('|');
  out = out
    .replace(new RegExp(`([?&#]|^)(${names})=([^&#\\s"'<]*)`, 'gi'), '$1$2=[REDACTED]')
    .replace(new RegExp(`"(${names})"(\\s*:\\s*)"[^"]*"`, 'gi'), '"$1"$2"[REDACTED]"')
    .replace(new RegExp(`(name="(?:${names})"[^>]*?value=")[^"]*"`, 'gi'), '$1[REDACTED]"')
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[JWT REDACTED]')
    .replace(/\b(bak|oag)_[A-Za-z0-9_-]+/g, '$1_[REDACTED]');
  return out;
}

function redactHeaders(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'proxy-authorization') out[name] = `${String(value).split(' ')[0]} [REDACTED]`;
    else if (SECRET_HEADERS.has(lower)) out[name] = '[REDACTED]';
    else out[name] = redact(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Steps and the exchanges each one saw.

let exchanges = [];
let anyFailed = false;
let currentStep = '';

class StepFailed extends Error {}

function record(exchange) {
  exchanges.push(exchange);
}

async function step(name, fn) {
  exchanges = [];
  currentStep = name;
  try {
    const result = await withTimeout(Promise.resolve().then(fn), STEP_TIMEOUT_MS, `the step took longer than ${STEP_TIMEOUT_MS} ms`);
    console.log(`PASS ${name}`);
    return result;
  } catch (error) {
    anyFailed = true;
    const reason = String(error?.message ?? error).split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
    console.log(`FAIL ${name}: ${redact(reason)}`);
    await printExchanges();
    throw new StepFailed(name);
  }
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}

async function printExchanges() {
  const seen = exchanges;
  if (seen.length === 0) {
    console.log('  (no HTTP exchange recorded in this step)');
    return;
  }
  console.log(`  exchanges of this step (${seen.length}):`);
  for (const ex of seen) {
    if (ex.note) {
      console.log(`  - ${ex.via}: ${excerpt(redact(ex.note))}`);
      continue;
    }
    const body = ex.responseBody ? await ex.responseBody.catch(() => '') : '';
    if (ex.allRequestHeaders) ex.requestHeaders = await ex.allRequestHeaders.catch(() => ex.requestHeaders);
    if (ex.allResponseHeaders) ex.responseHeaders = await ex.allResponseHeaders.catch(() => ex.responseHeaders);
    const isHtml = /text\/html/i.test(pickHeaders(ex.responseHeaders, ['content-type'])['content-type'] ?? '');
    console.log(`  - ${ex.via}: ${ex.method} ${redact(ex.url)} -> ${ex.status ?? ex.error ?? 'no answer'}`);
    const reqHeaders = pickHeaders(ex.requestHeaders, ['origin', 'content-type', 'authorization', 'accept', 'cookie', 'access-control-request-method', 'access-control-request-headers']);
    if (Object.keys(reqHeaders).length) console.log(`      request headers: ${JSON.stringify(redactHeaders(reqHeaders))}`);
    if (ex.requestBody) console.log(`      request body: ${excerpt(redact(ex.requestBody))}`);
    const resHeaders = pickHeaders(ex.responseHeaders, ['location', 'content-type', 'www-authenticate', 'access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'set-cookie', 'cache-control']);
    if (Object.keys(resHeaders).length) console.log(`      response headers: ${JSON.stringify(redactHeaders(resHeaders))}`);
    if (body) console.log(`      response ${isHtml ? 'page text' : 'body'}: ${excerpt(isHtml ? htmlText(redact(body)) : redact(body))}`);
  }
}

// What a person would read on an HTML page: no head, styles or scripts; form fields by name.
function htmlText(html) {
  return String(html)
    .replace(/<head[\s\S]*?<\/head>|<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<(input|button)\b([^>]*)>/gi, (_, tag, attrs) => ` [${tag} ${(attrs.match(/name="([^"]*)"/) ?? [])[1] ?? ''}] `)
    .replace(/<[^>]+>/g, ' ')
    .replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

function pickHeaders(headers, names) {
  const out = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) if (names.includes(k.toLowerCase())) out[k.toLowerCase()] = v;
  return out;
}

function excerpt(text) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT)}… (${flat.length} chars)` : flat;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Node's fetch, recorded. Redirects are never followed implicitly.
async function nodeFetch(url, init = {}) {
  const requestHeaders = { ...(init.headers ?? {}) };
  const ex = { via: 'node', method: init.method ?? 'GET', url: String(url), requestHeaders, requestBody: init.body ? String(init.body) : undefined };
  record(ex);
  let response;
  try {
    response = await fetch(url, { ...init, redirect: 'manual' });
  } catch (error) {
    ex.error = `network error: ${error.cause?.message ?? error.message}`;
    throw new Error(`${ex.method} ${url}: ${ex.error}`);
  }
  ex.status = response.status;
  ex.responseHeaders = Object.fromEntries(response.headers);
  const text = await response.text();
  ex.responseBody = Promise.resolve(text);
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, text, json };
}

// Browser traffic, recorded from the context (every tab). A CORS-blocked fetch never reaches
// playwright as a response: Chromium's console message (recorded by watchConsole) says why.
function watchBrowser(context) {
  const byRequest = new WeakMap();
  context.on('request', (request) => {
    const ex = {
      via: 'browser', method: request.method(), url: request.url(),
      requestHeaders: request.headers(), requestBody: request.postData() ?? undefined,
    };
    ex.allRequestHeaders = request.allHeaders();   // with the cookies (redacted when printed)
    byRequest.set(request, ex);
    record(ex);
  });
  context.on('response', (response) => {
    const ex = byRequest.get(response.request());
    if (!ex) return;
    ex.status = response.status();
    ex.responseHeaders = response.headers();
    ex.allResponseHeaders = response.allHeaders();
    ex.responseBody = response.status() >= 300 && response.status() < 400
      ? Promise.resolve('')
      : response.text().catch(() => '');
  });
  context.on('requestfailed', (request) => {
    const ex = byRequest.get(request);
    if (ex && ex.status == null) ex.error = `failed: ${request.failure()?.errorText ?? 'unknown'}`;
  });
}

function watchConsole(page, label) {
  page.on('console', (message) => {
    if (['error', 'warning'].includes(message.type())) record({ via: `${label} console`, note: message.text() });
  });
  page.on('pageerror', (error) => record({ via: `${label} page error`, note: error.message }));
}

// ---------------------------------------------------------------------------------------------
// OAuth helpers.

function base64url(buffer) {
  return Buffer.from(buffer).toString('base64url');
}

function pkce() {
  const verifier = base64url(crypto.randomBytes(32));
  learnSecret(verifier);
  const challenge = base64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

// RFC 9728 §3.1 / RFC 8414 §3.1: the well-known segment goes between host and path.
function wellKnown(url, suffix) {
  const u = new URL(url);
  const pathPart = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/${suffix}${pathPart}`;
}

// The challenge's auth-params (RFC 9110 §11.2), enough for resource_metadata and scope.
function challengeParams(header) {
  const params = {};
  for (const m of String(header).matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return params;
}

function initializeRequest(id) {
  return {
    jsonrpc: '2.0', id, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'interop-browser', version: '0.1.0' } },
  };
}

const WHOAMI = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

// MCP responses may be JSON or one SSE event.
function rpcResult(text) {
  let body = String(text).trim();
  if (!body.startsWith('{')) {
    body = body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
  }
  try { return JSON.parse(body); } catch { throw new Error(`the MCP answer is not JSON-RPC: ${excerpt(text)}`); }
}

function checkWhoami(result) {
  check(!result.error && !result.result?.isError, `tools/call whoami failed: ${JSON.stringify(result.error ?? result.result)}`);
  const text = JSON.stringify(result.result);
  check(text.includes(USERNAME), `whoami does not name ${USERNAME}: ${excerpt(text)}`);
}

async function challenge() {
  const r = await nodeFetch(MCP_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(initializeRequest(1)),
  });
  check(r.status === 401, `the unauthenticated MCP request got ${r.status}, not 401`);
  const header = r.headers.get('www-authenticate');
  check(header, 'the 401 has no WWW-Authenticate header');
  check(/^\s*bearer\b/i.test(header), `WWW-Authenticate is not a Bearer challenge: ${header}`);
  const params = challengeParams(header);
  check(params.resource_metadata, `WWW-Authenticate has no resource_metadata: ${header}`);
  return { prmUrl: new URL(params.resource_metadata, MCP_URL).href, scope: params.scope };
}

function checkPrm(prm, url) {
  check(prm && typeof prm === 'object', `PRM ${url} is not a JSON object`);
  check(prm.resource, 'PRM has no resource');
  check(Array.isArray(prm.authorization_servers) && prm.authorization_servers.length, 'PRM has no authorization_servers');
  return prm.authorization_servers[0];
}

function checkAsMetadata(as, issuer) {
  check(as.issuer === issuer, `AS metadata issuer ${JSON.stringify(as.issuer)} is not PRM authorization_servers[0] ${JSON.stringify(issuer)}`);
  for (const field of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint']) check(as[field], `AS metadata has no ${field}`);
  check(!as.code_challenge_methods_supported || as.code_challenge_methods_supported.includes('S256'), 'AS metadata does not list S256');
}

async function discovery(prmUrl) {
  const prmResponse = await nodeFetch(prmUrl, { headers: { accept: 'application/json' } });
  check(prmResponse.status === 200, `PRM ${prmUrl} answered ${prmResponse.status}`);
  const prm = prmResponse.json;
  const issuer = checkPrm(prm, prmUrl);
  let as;
  for (const url of [wellKnown(issuer, 'oauth-authorization-server'), wellKnown(issuer, 'openid-configuration')]) {
    const r = await nodeFetch(url, { headers: { accept: 'application/json' } });
    if (r.status === 200 && r.json) { as = r.json; break; }
  }
  check(as, `no authorization server metadata for ${issuer}`);
  checkAsMetadata(as, issuer);
  return { prm, as };
}

function clientMetadata(redirectUri) {
  return {
    client_name: 'interop browser (Chromium)',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

async function register(as, redirectUri) {
  const r = await nodeFetch(as.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(clientMetadata(redirectUri)),
  });
  learnSecret(r.json?.client_secret);
  check(r.status === 201 || r.status === 200, `registration answered ${r.status}${oauthError(r.json)}`);
  check(r.json?.client_id, 'registration returned no client_id');
  return r.json;
}

function authorizationUrl(as, prm, client, redirectUri, codeChallenge, state, scope) {
  const url = new URL(as.authorization_endpoint);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', client.client_id);
  q.set('redirect_uri', redirectUri);
  q.set('state', state);
  q.set('code_challenge', codeChallenge);
  q.set('code_challenge_method', 'S256');
  q.set('resource', prm.resource);
  const scopes = scope ?? prm.scopes_supported?.join(' ');
  if (scopes) q.set('scope', scopes);
  return url.href;
}

function tokenRequest(code, redirectUri, client, verifier, prm) {
  return {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.client_id,
    code_verifier: verifier, resource: prm.resource,
  };
}

function oauthError(body) {
  return body?.error ? ` (${body.error}${body.error_description ? `: ${body.error_description}` : ''})` : '';
}

function checkTokens(status, tokens) {
  learnSecret(tokens?.access_token);
  learnSecret(tokens?.refresh_token);
  check(status === 200, `the token endpoint answered ${status}${oauthError(tokens)}`);
  check(tokens?.access_token, 'no access_token in the token response');
  check(/^bearer$/i.test(tokens.token_type ?? ''), `token_type is ${JSON.stringify(tokens.token_type)}, not Bearer`);
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Small HTTP servers: the OAuth callback (check 1) and the "Inspector" page (check 2).

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(server.address().port); });
  });
}

// Records every callback query; `next()` waits for the next one.
function callbackRecorder() {
  const waiters = [];
  return {
    push(params) {
      for (const w of waiters.splice(0)) w(params);
    },
    next() {
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function callbackPage(res) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end('<!doctype html><meta charset="utf-8"><title>Callback</title><p>Authorization response received; you can close this tab.</p>');
}

// The Inspector stand-in: its own script calls the gateway with fetch and reports plain objects.
const INSPECTOR_SCRIPT = String.raw`
const seen = (r, text) => ({
  ok: true, status: r.status, type: r.type,
  acao: r.headers.get('access-control-allow-origin'),
  wwwAuthenticate: r.headers.get('www-authenticate'),
  text,
});
async function call(url, init) {
  try {
    const r = await fetch(url, init);
    return seen(r, await r.text());
  } catch (e) {
    return { ok: false, error: e.name + ': ' + e.message };
  }
}
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
window.inspector = {
  get: (url) => call(url, { headers: { accept: 'application/json' } }),
  postJson: (url, body) => call(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) }),
  postMcp: (url, body, token) => call(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: JSON.stringify(body) }),
  postForm: (url, fields) => call(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(fields).toString() }),
  async pkce() {
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    return { verifier, challenge };
  },
};
`;

function inspectorServer(recorder) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/oauth/callback') {
      recorder.push(Object.fromEntries(url.searchParams));
      return callbackPage(res);
    }
    if (url.pathname === '/inspector.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return res.end(INSPECTOR_SCRIPT);
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end('<!doctype html><meta charset="utf-8"><title>Inspector stand-in</title><h1>MCP Inspector stand-in</h1><script src="/inspector.js"></script>');
  });
}

// ---------------------------------------------------------------------------------------------
// The browser part of a login: the page must show a login form; type, click, approve consent,
// land on the redirect URI.

const DENY = /deny|cancel|reject|decline|refuse/i;

async function showLoginPage(page, authorizeUrl, screenshot) {
  await page.goto(authorizeUrl, { waitUntil: 'load' });
  const visible = await page.locator('input[type="password"]').first().isVisible().catch(() => false);
  if (!visible) throw new Error(`no password field at ${page.url()}; the page says: ${await pageText(page)}`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
}

async function pageText(page) {
  return excerpt(await page.locator('body').innerText().catch(() => '')) || '(nothing)';
}

async function pageMessage(page) {
  const alerts = await page.locator('[role="alert"], .error, .alert, .flash').allInnerTexts().catch(() => []);
  const text = alerts.map((t) => t.trim()).filter(Boolean).join(' / ');
  return text || pageText(page);
}

async function approvingButton(form) {
  const buttons = form.locator('button, input[type="submit"]');
  const count = await buttons.count();
  for (let i = 0; i < count; i += 1) {
    const button = buttons.nth(i);
    if (((await button.getAttribute('type')) ?? 'submit') !== 'submit') continue;
    const label = [await button.innerText().catch(() => ''), ...(await Promise.all(['value', 'name', 'class'].map((a) => button.getAttribute(a))))].join(' ');
    if (DENY.test(label)) continue;
    if (await button.isVisible()) return button;
  }
  throw new Error('the form has no approving submit button');
}

// Types the credentials, clicks, approves a consent page if one follows; returns the callback's
// query as our server recorded it.
async function logIn(page, redirectUri, recorder) {
  const form = page.locator('form:has(input[type="password"])').first();
  const username = form.locator('input[autocomplete="username"], input[name="username"], input[type="email"], input[type="text"], input:not([type])').first();
  await username.click();
  await username.pressSequentially(USERNAME);
  const password = form.locator('input[type="password"]').first();
  await password.click();
  await password.pressSequentially(PASSWORD);
  let button = await approvingButton(form);
  for (let round = 0; round < 3; round += 1) {
    const arrived = recorder.next();
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
    if (page.url().startsWith(redirectUri)) {
      return withTimeout(arrived, 5_000, 'the browser reached the redirect URI but our server saw no request');
    }
    if (await page.locator('input[type="password"]').count()) {
      throw new Error(`still on the login page (${page.url()}) after submitting; the page says: ${await pageMessage(page)}`);
    }
    const consent = page.locator('form').first();
    if (!(await consent.count())) throw new Error(`stopped at ${page.url()} (no form, no redirect); the page says: ${await pageMessage(page)}`);
    button = await approvingButton(consent);   // a consent page: approve it
  }
  throw new Error(`no redirect to ${redirectUri} after three forms; at ${page.url()}`);
}

function checkCallback(params, expectedState, issuer) {
  check(!params.error, `the redirect carries error=${params.error}${params.error_description ? ` (${params.error_description})` : ''}`);
  check(params.code, 'the redirect carries no code');
  learnSecret(params.code);
  check(params.state === expectedState, `state came back as ${JSON.stringify(params.state)}, sent ${JSON.stringify(expectedState)}`);
  check(params.iss !== undefined, 'the redirect carries no iss');
  check(params.iss === issuer, `iss ${JSON.stringify(params.iss)} is not the metadata issuer ${JSON.stringify(issuer)}`);
  return params.code;
}

// On a failed browser step, keep what the page showed.
async function screenshotOnFailure(page, name, promise) {
  try {
    return await promise;
  } catch (error) {
    const file = path.join(ARTIFACTS, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true });
      console.log(`  screenshot: ${file}`);
    } catch { /* the page may be gone */ }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Check 1: the login by clicking.

async function loginByClicking(browser) {
  const recorder = callbackRecorder();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/callback') recorder.push(Object.fromEntries(url.searchParams));
    callbackPage(res);
  });
  const port = await listen(server, 0);
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const context = await browser.newContext();
  watchBrowser(context);
  const page = await context.newPage();
  watchConsole(page, 'page');
  try {
    const { prmUrl, scope } = await step('challenge', challenge);
    const { prm, as } = await step('discovery', () => discovery(prmUrl));
    const client = await step('registration', () => register(as, redirectUri));
    const { verifier, challenge: codeChallenge } = pkce();
    // Standard base64 (with + / =): the state must come back byte for byte, however encoded.
    const state = crypto.randomBytes(16).toString('base64').replace(/^/, 'b+/');
    const authorizeUrl = authorizationUrl(as, prm, client, redirectUri, codeChallenge, state, scope);
    await screenshotOnFailure(page, 'login page',
      step('login page', () => showLoginPage(page, authorizeUrl, path.join(ARTIFACTS, 'login-page.png'))));
    const code = await screenshotOnFailure(page, 'redirect',
      step('redirect', async () => checkCallback(await logIn(page, redirectUri, recorder), state, as.issuer)));
    const tokens = await step('token', async () => {
      const r = await nodeFetch(as.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(tokenRequest(code, redirectUri, client, verifier, prm)).toString(),
      });
      return checkTokens(r.status, r.json);
    });
    await step('mcp', async () => {
      const headers = {
        'content-type': 'application/json', accept: 'application/json, text/event-stream',
        authorization: `Bearer ${tokens.access_token}`,
      };
      const init = await nodeFetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify(initializeRequest(1)) });
      check(init.status === 200, `initialize with the token answered ${init.status}`);
      const version = rpcResult(init.text).result?.protocolVersion;
      check(version, 'initialize returned no protocolVersion');
      const session = init.headers.get('mcp-session-id');
      const more = { ...headers, 'mcp-protocol-version': version, ...(session ? { 'mcp-session-id': session } : {}) };
      const note = await nodeFetch(MCP_URL, { method: 'POST', headers: more, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
      check(note.status === 202 || note.status === 200, `notifications/initialized answered ${note.status}`);
      const call = await nodeFetch(MCP_URL, { method: 'POST', headers: more, body: JSON.stringify(WHOAMI) });
      check(call.status === 200, `tools/call whoami answered ${call.status}`);
      checkWhoami(rpcResult(call.text));
    });
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
  } finally {
    await context.close();
    server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Check 2: the MCP Inspector way.

async function inspectorWay(browser) {
  const recorder = callbackRecorder();
  const server = inspectorServer(recorder);
  let port;
  try {
    port = await listen(server, INSPECTOR_PORT);
  } catch {
    port = await listen(server, 0);
    console.log(`note: port ${INSPECTOR_PORT} is taken; the page runs on port ${port}, an origin the MCP endpoint need not allow, so cors: challenge and cors: mcp are not run`);
  }
  const onInspectorPort = port === INSPECTOR_PORT;
  const origin = `http://127.0.0.1:${port}`;   // Inspector's http://localhost:6274 without the IPv6/IPv4 guess
  const redirectUri = `${origin}/oauth/callback`;
  const context = await browser.newContext();
  watchBrowser(context);
  const page = await context.newPage();
  watchConsole(page, 'inspector page');
  const inPage = (fn, ...args) => page.evaluate(fn, args);
  const readable = (result, what) => {
    check(result.ok, `${what} is not readable from ${origin}: ${result.error} (see the console message below)`);
    return result;
  };
  const json = (result, what) => {
    try { return JSON.parse(result.text); } catch { throw new Error(`${what} answered ${result.status} with a body that is not JSON: ${excerpt(result.text)}`); }
  };
  try {
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.inspector !== undefined);

    // Off the Inspector origin the page cannot read the 401; it starts from the RFC 9728 URL.
    let prmUrl = wellKnown(MCP_URL, 'oauth-protected-resource');
    let scope;
    if (onInspectorPort) {
      ({ prmUrl, scope } = await step('cors: challenge', async () => {
        const r = readable(await inPage(([url, body]) => window.inspector.postMcp(url, body), MCP_URL, initializeRequest(1)), 'the MCP endpoint');
        check(r.status === 401, `the unauthenticated MCP request got ${r.status}, not 401`);
        if (!r.wwwAuthenticate) {
          // Playwright sees the headers CORS hides from the page: tell "absent" from "not exposed".
          const seen = exchanges.find((ex) => ex.via === 'browser' && ex.method === 'POST' && ex.url === MCP_URL && ex.status === 401);
          const sent = seen && (await seen.allResponseHeaders.catch(() => seen.responseHeaders))['www-authenticate'];
          throw new Error(sent
            ? `the 401 carries WWW-Authenticate but the page cannot read it (Access-Control-Expose-Headers lacks it): ${sent}`
            : 'the 401 has no WWW-Authenticate header');
        }
        const params = challengeParams(r.wwwAuthenticate);
        check(params.resource_metadata, `WWW-Authenticate has no resource_metadata: ${r.wwwAuthenticate}`);
        return { prmUrl: new URL(params.resource_metadata, MCP_URL).href, scope: params.scope };
      }));
    }

    const { prm, as } = await step('cors: discovery', async () => {
      const r = readable(await inPage(([url]) => window.inspector.get(url), prmUrl), `PRM ${prmUrl}`);
      check(r.status === 200, `PRM ${prmUrl} answered ${r.status}`);
      const prmDoc = json(r, 'PRM');
      const issuer = checkPrm(prmDoc, prmUrl);
      const asUrl = wellKnown(issuer, 'oauth-authorization-server');
      const a = readable(await inPage(([url]) => window.inspector.get(url), asUrl), `AS metadata ${asUrl}`);
      check(a.status === 200, `AS metadata ${asUrl} answered ${a.status}`);
      const asDoc = json(a, 'AS metadata');
      checkAsMetadata(asDoc, issuer);
      return { prm: prmDoc, as: asDoc };
    });

    const client = await step('cors: registration', async () => {
      const r = readable(await inPage(([url, body]) => window.inspector.postJson(url, body), as.registration_endpoint, clientMetadata(redirectUri)), 'the registration endpoint');
      const c = json(r, 'registration');
      learnSecret(c.client_secret);
      check(r.status === 201 || r.status === 200, `registration answered ${r.status}${oauthError(c)}`);
      check(c.client_id, 'registration returned no client_id');
      return c;
    });

    const { verifier, challenge: codeChallenge } = await inPage(() => window.inspector.pkce());
    learnSecret(verifier);
    const state = base64url(crypto.randomBytes(16));
    const authorizeUrl = authorizationUrl(as, prm, client, redirectUri, codeChallenge, state, scope);

    // The Inspector sends the user to the authorization endpoint in a browser tab; the callback
    // comes back to the Inspector's origin.
    const tab = await context.newPage();
    watchConsole(tab, 'login tab');
    const code = await screenshotOnFailure(tab, 'cors login', step('cors: login', async () => {
      await showLoginPage(tab, authorizeUrl, null);
      return checkCallback(await logIn(tab, redirectUri, recorder), state, as.issuer);
    }));
    await tab.close();

    const tokens = await step('cors: token', async () => {
      const r = readable(await inPage(([url, fields]) => window.inspector.postForm(url, fields), as.token_endpoint,
        tokenRequest(code, redirectUri, client, verifier, prm)), 'the token endpoint');
      return checkTokens(r.status, json(r, 'the token endpoint'));
    });

    if (onInspectorPort) {
      await step('cors: mcp', async () => {
        const r = readable(await inPage(([url, body, token]) => window.inspector.postMcp(url, body, token), MCP_URL, WHOAMI, tokens.access_token), 'the MCP endpoint');
        check(r.status === 200, `tools/call whoami answered ${r.status}`);
        checkWhoami(rpcResult(r.text));
      });
    }

    await step('cors: authorize not readable', async () => {
      // A fresh authorization request, as the Inspector would build it; only the fetch is tested.
      const url = authorizationUrl(as, prm, client, redirectUri, pkce().challenge, base64url(crypto.randomBytes(16)), scope);
      const r = await inPage(([u]) => window.inspector.get(u), url);
      check(!r.ok, `the page read the authorization endpoint's answer (status ${r.status}, access-control-allow-origin: ${r.acao}); it must send no CORS headers`);
      // The fetch failed: make sure CORS refused it, not the network. Chromium says so on the
      // console; the gateway, asked from Node with the same Origin, answers without
      // Access-Control-Allow-Origin.
      const blocked = exchanges.some((ex) => ex.note && /blocked by CORS policy/i.test(ex.note) && ex.note.includes(as.authorization_endpoint));
      check(blocked, `the fetch failed (${r.error}) but Chromium reported no CORS refusal`);
      const direct = await nodeFetch(url, { headers: { origin, accept: 'application/json' } });
      const acao = direct.headers.get('access-control-allow-origin');
      check(!acao, `the authorization endpoint answers Origin ${origin} with Access-Control-Allow-Origin: ${acao}`);
    });

    await step('cors: mcp refuses other origins', async () => {
      // A page on an origin the gateway does not list: its fetch must not be readable, and the
      // gateway must answer 403 to that Origin even with a valid token (MCP Streamable HTTP,
      // "Security Warning": servers must validate Origin).
      const other = inspectorServer(callbackRecorder());
      const otherOrigin = `http://127.0.0.1:${await listen(other, 0)}`;
      const otherPage = await context.newPage();
      watchConsole(otherPage, 'other-origin page');
      try {
        await otherPage.goto(`${otherOrigin}/`, { waitUntil: 'load' });
        await otherPage.waitForFunction(() => window.inspector !== undefined);
        const r = await otherPage.evaluate(([url, body, token]) => window.inspector.postMcp(url, body, token), [MCP_URL, WHOAMI, tokens.access_token]);
        check(!r.ok, `a page on ${otherOrigin} read the MCP endpoint's answer (status ${r.status}, access-control-allow-origin: ${r.acao})`);
        const direct = await nodeFetch(MCP_URL, {
          method: 'POST',
          headers: {
            origin: otherOrigin, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
            authorization: `Bearer ${tokens.access_token}`,
          },
          body: JSON.stringify(WHOAMI),
        });
        check(direct.status === 403, `a request with Origin ${otherOrigin} and a valid token got ${direct.status}, not 403`);
      } finally {
        await otherPage.close();
        other.close();
      }
    });
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
  } finally {
    await context.close();
    server.close();
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  let browser;
  try {
    browser = await step('browser', () => chromium.launch({ executablePath: CHROMIUM, headless: true }));
  } catch {
    process.exit(1);
  }
  try {
    await loginByClicking(browser);
    await inspectorWay(browser);
  } finally {
    await browser.close();
  }
  process.exit(anyFailed ? 1 : 0);
}

main().catch((error) => {
  console.log(`FAIL ${currentStep || 'setup'}: unexpected error: ${redact(error?.stack ?? error)}`);
  process.exit(1);
});
