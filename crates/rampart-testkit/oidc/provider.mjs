// A real OpenID Provider (panva/oidc-provider) for rampart's JWT integration tests.
//
//   node provider.mjs [PORT]            (or PORT=... node provider.mjs; 0 or unset = ephemeral)
//
// Listens on 127.0.0.1 only; the issuer is http://127.0.0.1:<port>. Prints exactly one line to
// stdout, `READY <port>`, once it accepts connections; everything else goes to stderr.
//
// Client: rampart-test / rampart-test-secret, grant client_credentials, client_secret_basic
// or client_secret_post. A second client, rampart-gateway / rampart-gateway-secret, stands for
// the gateway calling the introspection endpoint (RFC 7662).
//
// Resources (the `resource` parameter; the token's `aud`), all with scopes
// `orders:read orders:write admin`:
//   https://api.rampart.test     JWT access token, RS256 (the default when no resource is given)
//   https://ps.rampart.test      JWT, PS256
//   https://es.rampart.test      JWT, ES256
//   https://es384.rampart.test   JWT, ES384
//   https://ed.rampart.test      JWT, EdDSA (Ed25519)
//   https://short.rampart.test   JWT, RS256, expires after SHORT_TTL seconds (default 2)
//   https://opaque.rampart.test  opaque access token, for the introspection endpoint
// Access tokens live TOKEN_TTL seconds (default 300).
//
// Admin endpoints on the same port (test fixture only):
//   POST /__rotate[?alg=RS256][&drop_old=1]
//       a new key for every algorithm (or for `alg` only), put first in the JWKS so that new
//       tokens are signed with it; older keys stay published unless drop_old=1.
//   GET  /__state
//       the kid that currently signs each algorithm, and the published JWKS.
// oidc-provider takes its keys at construction, so a rotation builds a new Provider and swaps
// the request handler behind the one http server. Opaque tokens survive a rotation: every
// Provider shares one in-memory store (the default memory adapter would be per Provider).

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider writes its development notices with console.info (stdout): keep stdout for READY.
console.info = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');

const ALGS = {
  RS256: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  EdDSA: () => crypto.generateKeyPairSync('ed25519'),
};

const SCOPE = 'orders:read orders:write admin';
const TOKEN_TTL = Number(process.env.TOKEN_TTL || 300);
const SHORT_TTL = Number(process.env.SHORT_TTL || 2);

const RESOURCES = {
  'https://api.rampart.test': { format: 'jwt', alg: 'RS256' },
  'https://ps.rampart.test': { format: 'jwt', alg: 'PS256' },
  'https://es.rampart.test': { format: 'jwt', alg: 'ES256' },
  'https://es384.rampart.test': { format: 'jwt', alg: 'ES384' },
  'https://ed.rampart.test': { format: 'jwt', alg: 'EdDSA' },
  'https://short.rampart.test': { format: 'jwt', alg: 'RS256', ttl: SHORT_TTL },
  'https://opaque.rampart.test': { format: 'opaque' },
};
const DEFAULT_RESOURCE = 'https://api.rampart.test';

// One store for every Provider instance, so that a rotation keeps stored (opaque) tokens.
const store = new Map(); // key -> { payload, expiresAt (ms) }
class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [key, { payload }] of store) {
      if (key.startsWith(`${this.model}:`) && payload.uid === uid) return payload;
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [key, { payload }] of store) {
      if (key.startsWith(`${this.model}:`) && payload.userCode === userCode) return payload;
    }
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, { payload }] of store) {
      if (payload.grantId === grantId) store.delete(key);
    }
  }
}

let generation = 0;
// Private JWKs, newest first. Each has kid, alg and use.
let keys = [];

function newKey(alg) {
  const { privateKey } = ALGS[alg]();
  const jwk = privateKey.export({ format: 'jwk' });
  const tag = crypto.randomBytes(4).toString('hex');
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-g${generation}-${tag}` };
}

function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

function currentKids() {
  const kids = {};
  for (const alg of Object.keys(ALGS)) {
    kids[alg] = keys.find((k) => k.alg === alg)?.kid;
  }
  return kids;
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    adapter: SharedMemoryAdapter,
    clients: [
      {
        client_id: 'rampart-test',
        client_secret: 'rampart-test-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        // oidc-provider accepts client_secret_post for a client_secret_basic client and vice versa.
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'rampart-gateway',
        client_secret: 'rampart-gateway-secret',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: structuredClone(keys) },
    cookies: { keys: ['rampart-testkit-oidc-cookie-key'] },
    enabledJWA: {
      idTokenSigningAlgValues: Object.keys(ALGS),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? DEFAULT_RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const rs = RESOURCES[resourceIndicator];
          if (!rs) {
            throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          }
          const info = {
            scope: SCOPE,
            audience: resourceIndicator,
            accessTokenTTL: rs.ttl ?? TOKEN_TTL,
            accessTokenFormat: rs.format,
          };
          if (rs.format === 'jwt') {
            info.jwt = { sign: { alg: rs.alg } };
          }
          return info;
        },
      },
    },
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TOKEN_TTL,
    },
    // No user accounts: only the client_credentials grant is used.
    findAccount: async () => undefined,
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  return provider;
}

function rotate(onlyAlg, dropOld) {
  generation += 1;
  const algs = onlyAlg ? [onlyAlg] : Object.keys(ALGS);
  const fresh = algs.map(newKey);
  const kept = dropOld ? keys.filter((k) => !algs.includes(k.alg)) : keys;
  keys = [...fresh, ...kept];
  return fresh.map((k) => k.kid);
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

const portArg = process.argv[2] ?? process.env.PORT ?? '0';
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bad port: ${portArg}`);
  process.exit(2);
}

let handler = null;
let issuer = null;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/__rotate') {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' });
    const alg = url.searchParams.get('alg') || null;
    if (alg && !ALGS[alg]) return sendJson(res, 400, { error: `unknown alg ${alg}` });
    const dropOld = ['1', 'true', 'yes'].includes(url.searchParams.get('drop_old') ?? '');
    const newKids = rotate(alg, dropOld);
    handler = buildProvider(issuer).callback();
    console.error(`rotated: new ${newKids.join(' ')}${dropOld ? ' (old dropped)' : ''}`);
    return sendJson(res, 200, {
      generation, new_kids: newKids, kids: currentKids(), jwks: { keys: keys.map(publicJwk) },
    });
  }
  if (url.pathname === '/__state') {
    return sendJson(res, 200, {
      issuer, generation, kids: currentKids(), jwks: { keys: keys.map(publicJwk) },
    });
  }
  return handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  issuer = `http://127.0.0.1:${actual}`;
  rotate(null, false);
  handler = buildProvider(issuer).callback();
  process.stdout.write(`READY ${actual}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)).closeAllConnections());
}
