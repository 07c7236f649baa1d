// The official TypeScript SDK client (@modelcontextprotocol/sdk, pinned in package-lock.json)
// logging in to a gateway from the 401 onwards, knowing nothing but the MCP URL.
//
// Contract (interop/README.md): INTEROP_MCP_URL, INTEROP_USERNAME, INTEROP_PASSWORD,
// INTEROP_CLOCK_URL, INTEROP_ARTIFACTS; prints one `PASS <step>` or `FAIL <step>: <reason>` line
// per step, the redacted HTTP exchanges of a failed step after its line, and exits 0 iff every
// step passed. All OAuth requests are the SDK's own (discovery, registration, PKCE, token,
// refresh); this script only plays the person at the login form and checks the outcome.

import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.log(`FAIL setup: environment variable ${name} is not set`);
    process.exit(1);
  }
  return value;
};
const MCP_URL = env('INTEROP_MCP_URL');
const USERNAME = env('INTEROP_USERNAME');
const PASSWORD = env('INTEROP_PASSWORD');
const CLOCK_URL = env('INTEROP_CLOCK_URL');
const ARTIFACTS = env('INTEROP_ARTIFACTS', 'target/interop/ts');
// Never listened on: a browser would be sent here; the script reads the Location header instead.
const REDIRECT_URI = 'http://127.0.0.1:8976/callback';
const REQUEST_TIMEOUT_MS = 15_000;
const RUN_TIMEOUT_MS = 90_000;

const STEPS = [
  'challenge', 'discovery', 'registration', 'authorize', 'token',
  'initialize', 'tools/list', 'tools/call whoami',
];
const REFRESH_STEPS = ['refresh', 'initialize', 'tools/list', 'tools/call whoami'];

// ---------------------------------------------------------------------------------------------
// Redaction: secrets by name in URLs, forms, JSON and HTML inputs; JWT-looking values and API keys
// anywhere; Authorization and cookie header values.

const SECRET_NAMES = ['code', 'code_verifier', 'access_token', 'refresh_token', 'password',
  'csrf_token', 'client_secret'];
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
const R = '[REDACTED]';

function redactText(text) {
  if (!text) return text;
  let out = String(text);
  const names = SECRET_NAMES.join('|');
  // JSON: "name": "value" (also numbers, just in case)
  out = out.replace(new RegExp(`("(?:${names})"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"|[^,}\\s]+)`, 'g'), `$1"${R}"`);
  // query strings and forms: name=value
  out = out.replace(new RegExp(`([?&\\s"']|^)(${names})=([^&\\s"'#<]*)`, 'g'), `$1$2=${R}`);
  // HTML inputs: name="csrf_token" ... value="..."  (either attribute order)
  out = out.replace(new RegExp(`(<input[^>]*name=["'](?:${names})["'][^>]*value=["'])([^"']*)`, 'gi'), `$1${R}`);
  out = out.replace(new RegExp(`(<input[^>]*value=["'])([^"']*)(["'][^>]*name=["'](?:${names})["'])`, 'gi'), `$1${R}$3`);
  // JWTs and the gateway's API keys
  out = out.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, R);
  out = out.replace(/\b(bak|oag)_[\w-]+/g, `$1_${R}`);
  return out;
}

function redactHeader(name, value) {
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.includes(lower)) {
    if (lower === 'authorization') return value.replace(/^(\S+)\s.*$/, `$1 ${R}`);
    if (lower === 'set-cookie') return value.replace(/^([^=]+)=[^;]*/, `$1=${R}`);
    return value.replace(/=([^;]*)/g, `=${R}`);
  }
  return redactText(value);
}

// ---------------------------------------------------------------------------------------------
// Recording fetch: every request (the SDK's and the login form's) is kept with the step it
// belongs to, so a failure shows its own exchanges.

const exchanges = [];
const endpoints = { registration: undefined, token: undefined };
const run = { phase: 'login' };

function rpcMethod(body) {
  try {
    const parsed = JSON.parse(body);
    return (Array.isArray(parsed) ? parsed[0] : parsed)?.method;
  } catch {
    return undefined;
  }
}

function classify(method, url, headers, body) {
  const u = new URL(url);
  const bare = `${u.origin}${u.pathname}`;
  if (u.pathname.includes('/.well-known/')) return run.phase === 'refresh' ? 'refresh' : 'discovery';
  if (endpoints.registration && bare === endpoints.registration) return 'registration';
  if (endpoints.token && bare === endpoints.token) {
    return new URLSearchParams(body ?? '').get('grant_type') === 'refresh_token' ? 'refresh' : 'token';
  }
  if (bare === new URL(MCP_URL).href.split(/[?#]/)[0]) {
    if (run.phase === 'refresh' && !evidence.refresh) return 'refresh';
    if (!headers.has('authorization')) return 'challenge';
    const m = rpcMethod(body);
    if (method !== 'POST' || m === 'initialize' || m === 'notifications/initialized') return 'initialize';
    if (m === 'tools/list') return 'tools/list';
    if (m === 'tools/call') return 'tools/call whoami';
    return 'initialize';
  }
  return 'authorize';
}

function bodyText(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  return '<binary body>';
}

async function recordingFetch(input, init = {}, forcedStep) {
  const url = input instanceof Request ? input.url : String(input);
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  const body = bodyText(init.body);
  const entry = {
    step: forcedStep ?? classify(method, url, headers, body),
    run: run.phase,
    method, url, requestHeaders: [...headers], requestBody: body,
  };
  exchanges.push(entry);
  const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
  if (init.signal) signals.push(init.signal);
  let response;
  try {
    response = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
  } catch (e) {
    entry.error = `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`;
    throw e;
  }
  entry.status = response.status;
  entry.responseHeaders = [...response.headers];
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/event-stream')) {
    entry.responseBody = '<event stream>';
  } else {
    entry.responseBody = await response.clone().text().catch((e) => `<unreadable: ${e.message}>`);
  }
  if (entry.step === 'discovery' && response.ok && /oauth-authorization-server|openid-configuration/.test(url)) {
    try {
      const meta = JSON.parse(entry.responseBody);
      endpoints.registration = meta.registration_endpoint;
      endpoints.token = meta.token_endpoint;
    } catch { /* the SDK reports it */ }
  }
  return response;
}

const INTERESTING_HEADERS = ['location', 'www-authenticate', 'content-type', 'authorization', 'cookie',
  'set-cookie', 'mcp-session-id', 'mcp-protocol-version', 'access-control-allow-origin', 'retry-after'];

function formatExchange(e) {
  const lines = [`    > ${e.method} ${redactText(e.url)}`];
  for (const [k, v] of e.requestHeaders) {
    if (INTERESTING_HEADERS.includes(k.toLowerCase())) lines.push(`    >   ${k}: ${redactHeader(k, v)}`);
  }
  if (e.requestBody) lines.push(`    >   ${excerpt(redactText(e.requestBody))}`);
  if (e.error) {
    lines.push(`    < (no response: ${e.error})`);
    return lines.join('\n');
  }
  if (e.status === undefined) {
    lines.push('    < (no response yet)');
    return lines.join('\n');
  }
  lines.push(`    < ${e.status}`);
  for (const [k, v] of e.responseHeaders) {
    if (INTERESTING_HEADERS.includes(k.toLowerCase())) lines.push(`    <   ${k}: ${redactHeader(k, v)}`);
  }
  if (e.responseBody) {
    const type = e.responseHeaders.find(([k]) => k === 'content-type')?.[1] ?? '';
    lines.push(`    <   ${type.includes('html') ? htmlSummary(e.responseBody) : excerpt(redactText(e.responseBody))}`);
  }
  return lines.join('\n');
}

// An HTML page as a person reads it (its text), plus its forms' fields (names only).
function htmlSummary(html) {
  const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map(([f]) => {
    const a = attributes(f.match(/<form\b[^>]*>/i)[0]);
    const names = [...f.matchAll(/<(?:input|button|select|textarea)\b[^>]*>/gi)]
      .map(([t]) => attributes(t)).filter((x) => x.name).map((x) => x.name);
    return `[form ${(a.method ?? 'get').toUpperCase()} ${a.action ?? '(same URL)'}: ${[...new Set(names)].join(', ')}]`;
  });
  const text = decodeEntities(html
    .replace(/<(style|script|head)\b[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' '));
  return `${excerpt(redactText(text), 500)} ${forms.join(' ')}`.trim();
}

function excerpt(text, max = 600) {
  const flat = text.replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1>/gi, '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}… (${flat.length} chars)` : flat;
}

// ---------------------------------------------------------------------------------------------
// The person at the browser: follows the authorization URL, fills the real login form (hidden
// fields kept, cookies kept, the default submit button), follows redirects until the
// redirect_uri, and hands the callback's query to the client.

const jar = new Map();

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, ent) => {
    const e = ent.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e] ?? `&${ent};`;
  });
}

function attributes(tag) {
  const attrs = {};
  const body = tag.replace(/^<\s*[\w-]+/, '').replace(/\/?>$/, '');
  for (const m of body.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

function fillLoginForm(html, pageUrl) {
  const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map((m) => m[0]);
  const form = forms.find((f) => /<input\b[^>]*type\s*=\s*["']?password/i.test(f));
  if (!form) return undefined;
  const formAttrs = attributes(form.match(/<form\b[^>]*>/i)[0]);
  const fields = new URLSearchParams();
  let userFilled = false;
  for (const [tag] of form.matchAll(/<input\b[^>]*>/gi)) {
    const a = attributes(tag);
    if (!a.name) continue;
    const type = (a.type ?? 'text').toLowerCase();
    if (type === 'password') fields.set(a.name, PASSWORD);
    else if (type === 'hidden') fields.set(a.name, a.value ?? '');
    else if (['text', 'email'].includes(type) && !userFilled) { fields.set(a.name, USERNAME); userFilled = true; }
    else if (['checkbox', 'radio'].includes(type)) { if ('checked' in a) fields.set(a.name, a.value ?? 'on'); }
    else if (type === 'submit') continue;
    else fields.set(a.name, a.value ?? '');
  }
  // The default button is the first submit button, as when a person presses Enter or clicks it.
  const submit = [...form.matchAll(/<(button|input)\b[^>]*>/gi)]
    .map((m) => ({ tag: m[1].toLowerCase(), a: attributes(m[0]) }))
    .find(({ tag, a }) => (tag === 'button' ? (a.type ?? 'submit').toLowerCase() === 'submit' : (a.type ?? '').toLowerCase() === 'submit'));
  if (submit?.a.name) fields.set(submit.a.name, submit.a.value ?? '');
  const action = new URL(formAttrs.action || pageUrl, pageUrl).href;
  const method = (formAttrs.method ?? 'get').toUpperCase();
  return { action, method, body: fields.toString(), userFilled };
}

function pageMessage(html) {
  const alert = html.match(/<[^>]*role=["']alert["'][^>]*>([\s\S]*?)<\//i)?.[1]
    ?? html.match(/<[^>]*class=["'][^"']*error[^"']*["'][^>]*>([\s\S]*?)<\//i)?.[1]
    ?? html.match(/<title>([\s\S]*?)<\/title>/i)?.[1];
  return alert ? decodeEntities(alert.replace(/<[^>]*>/g, '').trim()) : undefined;
}

async function browse(authorizationUrl) {
  let url = authorizationUrl.href;
  let method = 'GET';
  let body;
  let submitted = 0;
  for (let hop = 0; hop < 15; hop++) {
    const headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (!headers.cookie) delete headers.cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await recordingFetch(url, { method, body, headers, redirect: 'manual' }, 'authorize');
    for (const c of r.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      if (i > 0) jar.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
    }
    const location = r.headers.get('location');
    if (r.status >= 300 && r.status < 400 && location) {
      const next = new URL(location, url);
      if (`${next.origin}${next.pathname}` === REDIRECT_URI) return next;
      url = next.href; method = 'GET'; body = undefined;
      continue;
    }
    const html = await r.text();
    const form = fillLoginForm(html, url);
    if (!form) {
      throw new Error(`HTTP ${r.status} at ${redactText(url)} is neither a redirect nor a login form`
        + `${pageMessage(html) ? ` ("${pageMessage(html)}")` : ''}`);
    }
    if (submitted > 0) {
      throw new Error(`the login form came back (HTTP ${r.status}) after it was submitted`
        + `${pageMessage(html) ? `: "${pageMessage(html)}"` : ''}`);
    }
    if (!form.userFilled) throw new Error('the login form has no username field');
    submitted++;
    url = form.action; method = form.method;
    if (method === 'GET') {
      const u = new URL(url);
      u.search = form.body;
      url = u.href; body = undefined;
    } else {
      body = form.body;
    }
  }
  throw new Error('more than 15 redirects without reaching the redirect_uri');
}

// ---------------------------------------------------------------------------------------------
// The OAuthClientProvider: in-memory storage, the login form as the user agent, and the checks a
// careful client makes on the callback (state, iss per RFC 9207).

const store = {};
const evidence = {};
let pendingCode;

const provider = {
  get redirectUrl() { return REDIRECT_URI; },
  get clientMetadata() {
    return {
      client_name: 'MCP SDK interop client (TypeScript)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() {
    store.state = randomBytes(16).toString('base64url');
    return store.state;
  },
  clientInformation: () => store.client,
  saveClientInformation(info) { store.client = info; evidence.registration = true; },
  tokens: () => store.tokens,
  saveTokens(tokens) {
    store.tokens = tokens;
    if (run.phase === 'refresh') evidence.refresh = true; else evidence.token = true;
  },
  saveCodeVerifier(v) { store.verifier = v; },
  codeVerifier() { return store.verifier; },
  saveDiscoveryState(s) {
    store.discovery = s;
    if (s.resourceMetadata && s.authorizationServerMetadata) evidence.discovery = true;
  },
  discoveryState: () => store.discovery,
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') delete store.client;
    if (scope === 'all' || scope === 'tokens') delete store.tokens;
    if (scope === 'all' || scope === 'verifier') delete store.verifier;
    if (scope === 'all' || scope === 'discovery') delete store.discovery;
    store.invalidated = [...(store.invalidated ?? []), scope];
  },
  async redirectToAuthorization(authorizationUrl) {
    if (run.phase === 'refresh') {
      throw new Error('the SDK fell back to a new authorization instead of refreshing'
        + `${store.invalidated ? ` (credentials invalidated: ${store.invalidated.join(', ')})` : ''}`);
    }
    const callback = await browse(authorizationUrl);
    onCallback(callback);
  },
};

// The redirect_uri's handler: what the client application does when the browser comes back.
function onCallback(callback) {
  const p = callback.searchParams;
  const meta = store.discovery?.authorizationServerMetadata;
  if (p.get('error')) {
    throw new Error(`the authorization server redirected back with error=${p.get('error')}`
      + `${p.get('error_description') ? ` (${p.get('error_description')})` : ''}`);
  }
  if (p.get('state') !== store.state) {
    throw new Error(`state mismatch: sent ${store.state}, got ${p.get('state') ?? 'none'}`);
  }
  if (p.has('iss') || meta?.authorization_response_iss_parameter_supported) {
    if (!p.has('iss')) throw new Error('iss missing from the redirect although the metadata advertises it (RFC 9207)');
    if (p.get('iss') !== meta?.issuer) {
      throw new Error(`iss ${p.get('iss')} differs from the metadata issuer ${meta?.issuer} (RFC 9207)`);
    }
  }
  if (!p.get('code')) throw new Error('no code in the redirect');
  pendingCode = p.get('code');
  evidence.authorize = true;
}

// ---------------------------------------------------------------------------------------------
// The runs

async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
    authProvider: provider,
    fetch: recordingFetch,
  });
  const client = new Client({ name: 'mcp-interop-ts', version: '0.0.1' });
  try {
    await client.connect(transport);
    return client;
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || pendingCode === undefined || run.phase === 'refresh') throw e;
    const code = pendingCode;
    pendingCode = undefined;
    await transport.finishAuth(code); // the SDK posts the code with its PKCE verifier
    return connect();
  }
}

async function useTools(client, ev) {
  const version = client.getServerVersion();
  if (!version) throw new Error('initialize returned no serverInfo');
  ev.initialize = true;
  const tools = (await client.listTools()).tools.map((t) => t.name);
  if (!tools.includes('whoami')) throw new Error(`tools/list has no whoami tool: [${tools.join(', ')}]`);
  ev['tools/list'] = true;
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  const text = JSON.stringify(result.content ?? result);
  if (result.isError) throw new Error(`whoami returned an error: ${excerpt(text, 300)}`);
  if (!text.includes(USERNAME)) throw new Error(`whoami does not name ${USERNAME}: ${excerpt(text, 300)}`);
  ev['tools/call whoami'] = true;
}

function describe(error) {
  if (!error) return undefined;
  let text = error.message || String(error);
  try {
    // The SDK's schema errors are a JSON list of issues: say which fields and why.
    const issues = JSON.parse(text);
    if (Array.isArray(issues) && issues.every((i) => i.message)) {
      text = `the response does not fit the SDK's schema: ${issues
        .map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ')}`;
    }
  } catch { /* plain message */ }
  if (error.cause?.message) text += ` (${error.cause.message})`;
  return redactText(text.replace(/\s+/g, ' ').trim());
}

let failures = 0;
const log = [];

function report(steps, ev, error, runName, extraChecks = {}) {
  let blamed = false;
  for (const step of steps) {
    const check = extraChecks[step];
    const problem = check?.();
    if (ev[step] && !problem) {
      console.log(`PASS ${step}`);
      continue;
    }
    failures++;
    let reason;
    if (problem) reason = problem;
    else if (!blamed && error) reason = describe(error);
    else if (blamed) reason = 'not reached';
    else if (runName === 'refresh' && !store.tokens) reason = 'not reached (the first run got no tokens)';
    else reason = 'not reached (the client stopped without an error)';
    const firstFailure = !blamed;
    blamed = true;
    console.log(`FAIL ${step}: ${reason}`);
    if (firstFailure || problem) {
      const own = exchanges.filter((e) => e.step === step && e.run === runName);
      const shown = own.length > 0 ? own : exchanges.filter((e) => e.run === runName).slice(-3);
      if (shown.length > 0) console.log(own.length > 0
        ? `  HTTP exchanges of ${step} (${own.length}, secrets redacted):`
        : `  no HTTP exchange belongs to ${step}; the last ones of this run (secrets redacted):`);
      for (const e of shown.slice(-8)) console.log(formatExchange(e));
    }
  }
}

function challengeProblem() {
  const first = exchanges.find((e) => e.run === 'login' && e.step === 'challenge');
  if (!first) return 'the first MCP request was never sent without a token';
  if (first.status === undefined) return `the first MCP request got no response (${first.error ?? 'none'})`;
  if (first.status !== 401) return `the first MCP request got HTTP ${first.status}, not 401`;
  const www = first.responseHeaders.find(([k]) => k === 'www-authenticate')?.[1];
  if (!www) return '401 without WWW-Authenticate';
  if (!/^\s*bearer\b/i.test(www)) return `WWW-Authenticate is not a Bearer challenge: ${www}`;
  const metadata = www.match(/resource_metadata\s*=\s*"([^"]*)"/)?.[1] ?? www.match(/resource_metadata\s*=\s*([^\s,]+)/)?.[1];
  if (metadata === undefined) return `WWW-Authenticate has no resource_metadata: ${www}`;
  if (!URL.canParse(metadata)) return `resource_metadata is not an absolute URL (RFC 9728 section 5.1): ${www}`;
  return undefined;
}

async function main() {
  const started = Date.now();
  mkdirSync(ARTIFACTS, { recursive: true });
  const timer = setTimeout(() => {
    console.log(`FAIL timeout: the client did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
    const last = exchanges.slice(-3);
    for (const e of last) console.log(formatExchange(e));
    writeLog();
    process.exit(1);
  }, RUN_TIMEOUT_MS);

  // Run 1: from the 401 to tools/call, through the login form.
  const ev1 = evidence;
  let client;
  let error;
  try {
    client = await connect();
    await useTools(client, ev1);
  } catch (e) {
    error = e;
  }
  await client?.close().catch(() => {});
  ev1.challenge = true; // judged by challengeProblem
  report(STEPS, ev1, error, 'login', { challenge: challengeProblem });

  // Run 2: the access token expires; a new transport and session start from the stored tokens.
  console.log('# refresh run: gateway clock +3601 s, new transport and session with the stored tokens');
  run.phase = 'refresh';
  const ev2 = {};
  error = undefined;
  client = undefined;
  if (!store.tokens?.refresh_token) {
    if (store.tokens) error = new Error('the token response had no refresh_token');
  } else {
    const before = store.tokens.access_token;
    try {
      const r = await recordingFetch(CLOCK_URL, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advance_seconds: 3601 }),
      }, 'refresh');
      if (!r.ok) throw new Error(`the test clock answered HTTP ${r.status}`);
      client = await connect();
      if (evidence.refresh && store.tokens.access_token !== before) ev2.refresh = true;
      else if (!evidence.refresh) {
        throw new Error('no refresh happened: the expired access token was still accepted after 3601 s');
      } else throw new Error('the refresh returned the same access token');
      await useTools(client, ev2);
    } catch (e) {
      error = e;
    }
  }
  await client?.close().catch(() => {});
  report(REFRESH_STEPS, ev2, error, 'refresh');

  clearTimeout(timer);
  writeLog();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`# ${failures === 0 ? 'all steps passed' : `${failures} step(s) failed`} in ${seconds} s;`
    + ` ${exchanges.length} HTTP exchanges in ${join(ARTIFACTS, 'exchanges.log')}`);
  process.exit(failures === 0 ? 0 : 1);
}

function writeLog() {
  try {
    writeFileSync(join(ARTIFACTS, 'exchanges.log'),
      exchanges.map((e) => `[${e.run}] ${e.step}\n${formatExchange(e)}`).join('\n\n') + '\n');
  } catch { /* best effort */ }
}

main().catch((e) => {
  console.log(`FAIL setup: ${describe(e)}`);
  process.exit(1);
});
