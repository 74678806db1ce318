// Real OpenID providers for the round trip (round_trip.mjs): node-oidc-provider, a certified
// implementation, each on a port of its own, and a browser-less login through its development
// interactions (the login and consent forms, posted as a person would).

import http from 'node:http';
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import Provider from 'oidc-provider';

// The people who may log in, by subject. Any other login is refused by findAccount.
const ACCOUNTS = {
  'admin-1': { email: 'admin@example.gouv.fr' },
  'camille-1': { email: 'camille.martin@example.org' },
  'dominique-1': { email: 'dominique.petit@example.org' },
  'claude-1': { email: 'claude.bernard@example.org' },
  'stranger-1': { email: 'stranger@example.org' },
};

export const FRONT_REDIRECT = 'https://front.example.org/callback';

function signingKey(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`, alg, use: 'sig' };
}

/**
 * Starts a provider on 127.0.0.1 and answers its issuer and a stop function.
 *
 * - `alg`: the one algorithm it signs with (its only key).
 * - `clients`: its clients (node-oidc-provider metadata).
 * - `emailInIdToken`: whether the ID token carries the e-mail claims (Keycloak's default) or,
 *   as OpenID Connect Core §5.4 has it for the code flow, only the UserInfo endpoint does.
 * - `idTokenTtl`: seconds an ID token lives.
 */
export async function startProvider({ alg, clients, emailInIdToken, idTokenTtl = 300 }) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey(alg)] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: (_ctx, sub) => (ACCOUNTS[sub]
      ? { accountId: sub, claims: () => ({ sub, email: ACCOUNTS[sub].email, email_verified: true }) }
      : undefined),
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: !emailInIdToken,
    scopes: ['openid', 'email'],
    pkce: { required: () => true },
    ttl: { IdToken: idTokenTtl, AccessToken: 300, ClientCredentials: 300, Session: 3600, Interaction: 600, Grant: 3600 },
    features: {
      devInteractions: { enabled: true },
      jwtUserinfo: { enabled: true },
      clientCredentials: { enabled: true },
      // Client credentials tokens for Relais's resource are JWTs (RFC 9068) with its audience; a
      // person's access token stays the UserInfo endpoint's.
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: () => ({
          scope: '',
          audience: 'relais',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error(`provider ${issuer}: ${err.stack}`));
  server.on('request', provider.callback());
  return {
    issuer,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** A cookie jar for one login: every cookie set is sent back (paths are not told apart). */
class Jar {
  constructor() { this.cookies = new Map(); }
  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const gone = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (gone || value === '') this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }
  header() { return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; '); }
}

async function go(jar, url, init = {}) {
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie: jar.header() } });
  jar.take(response);
  return response;
}

function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/**
 * Logs `subject` in at `issuer` through `client` (authorization code with PKCE, a nonce), as a
 * front-end would: answers the token endpoint's JSON (`id_token`, `access_token`) and the
 * signed UserInfo (a JWT) read with that access token.
 */
export async function logIn(issuer, client, subject) {
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: client.client_id, response_type: 'code', scope: 'openid email', redirect_uri: FRONT_REDIRECT,
    code_challenge: challenge, code_challenge_method: 'S256', nonce: randomBytes(8).toString('hex'), state: 'st',
  })) authorize.searchParams.set(k, v);

  let response = await go(jar, authorize);
  // Login, then consent: each interaction is posted, then the authorization resumes.
  for (let step = 0; step < 6; step += 1) {
    const location = new URL(response.headers.get('location') || '', issuer);
    if (response.status < 300 || response.status >= 400) {
      throw new Error(`login at ${issuer}: ${response.status} ${await response.text()}`);
    }
    if (location.href.startsWith(FRONT_REDIRECT)) {
      const code = location.searchParams.get('code');
      if (!code) throw new Error(`login at ${issuer}: ${location.href}`);
      const token = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: FRONT_REDIRECT, code_verifier: verifier }),
      });
      const tokens = await token.json();
      if (!token.ok) throw new Error(`code exchange at ${issuer}: ${JSON.stringify(tokens)}`);
      const me = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      tokens.userinfo = await me.text();
      return tokens;
    }
    if (location.pathname.startsWith('/interaction/')) {
      const page = await go(jar, location);
      const html = await page.text();
      const prompt = html.includes('name="login"') ? 'login' : 'consent';
      const form = prompt === 'login' ? { prompt, login: subject, password: 'unused' } : { prompt };
      response = await go(jar, location, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    } else {
      response = await go(jar, location);
    }
  }
  throw new Error(`login at ${issuer}: too many redirections`);
}

/** A machine's token by client credentials (RFC 6749 §4.4), for Relais's resource. */
export async function clientCredentials(issuer, client) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'urn:relais:api' }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`client credentials at ${issuer}: ${JSON.stringify(body)}`);
  return body.access_token;
}
