// Relais behind real OpenID providers (node-oidc-provider), through the `relais` binary, as a
// memberships deployment configured for them (docs/IDENTITY.md):
//
// - provider A logs people in as ProConnect does (RS256, found by discovery; the e-mail in the
//   signed UserInfo only) and gives a partner's system client-credentials tokens;
// - provider B as Keycloak does (ES256, the e-mail in the ID token, its JWK Set named);
// - provider C is not configured.
//
// Invitation → first login → token exchange → the social worker's round trip; a revoked member
// refused at the next request; a member moved from post A to post B loses A at once; ID tokens
// for another audience, expired or of an unknown provider refused; a partner's machine token.
//
// Environment: RELAIS (the binary), DATABASE_URL (a SQLite path or a PostgreSQL URL, empty and
// the script's own), WORK (a directory for the server's log). Run by .ci/oidc.

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProvider, logIn, clientCredentials, FRONT_REDIRECT } from './providers.mjs';

const RELAIS = process.env.RELAIS;
const WORK = process.env.WORK || '.';
if (!RELAIS || !process.env.DATABASE_URL) throw new Error('set RELAIS and DATABASE_URL');

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let failures = 0;
let checks = 0;
function check(condition, what, detail) {
  checks += 1;
  if (condition) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  }
}

const secret = () => randomBytes(24).toString('base64url');
const front = (client_id, alg) => ({
  client_id,
  client_secret: secret(),
  redirect_uris: [FRONT_REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  id_token_signed_response_alg: alg,
  ...(alg === 'RS256' ? { userinfo_signed_response_alg: alg } : {}),
});
const frontA = front('relais-front', 'RS256');
const otherFrontA = front('another-front-end', 'RS256');
const partnerSystem = {
  client_id: 'cd07-system', client_secret: secret(), redirect_uris: [], grant_types: ['client_credentials'], response_types: [],
};
const frontB = front('relais-front-b', 'ES256');
const frontC = front('relais-front', 'RS256');

const a = await startProvider({ alg: 'RS256', clients: [frontA, otherFrontA, partnerSystem], emailInIdToken: false });
// B's ID tokens live 2 s, so that one kept aside is expired (beyond the 30 s skew) by the end.
const b = await startProvider({ alg: 'ES256', clients: [frontB], emailInIdToken: true, idTokenTtl: 2 });
const c = await startProvider({ alg: 'RS256', clients: [frontC], emailInIdToken: true });

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => resolve(p)); });
});
const BASE = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  RELAIS_BIND: `127.0.0.1:${port}`,
  RELAIS_JWT_SECRET: `oidc-${secret()}`,
  RELAIS_AUTHORIZATION: 'memberships',
  RELAIS_OIDC_PROVIDERS: JSON.stringify([
    { issuer: a.issuer, client_id: frontA.client_id },
    { issuer: b.issuer, client_id: frontB.client_id, jwks_url: `${b.issuer}/jwks`, algorithm: 'ES256' },
  ]),
  RELAIS_WEBHOOKS: 'off',
  RELAIS_RATE_LIMIT_PER_MINUTE: '0',
  RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '0',
  RUST_LOG: process.env.RUST_LOG || 'warn',
};

const { createWriteStream } = await import('node:fs');
const log = createWriteStream(`${WORK}/oidc-server.log`);
// In WORK: the zero-set-up key file (`relais.keys` on PostgreSQL) is written there.
const server = spawn(RELAIS, ['serve'], { env, cwd: WORK, stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.pipe(log);
server.stderr.pipe(log);
let exited = null;
server.on('exit', (code) => { exited = code; });

async function stopAll() {
  if (exited === null) server.kill('SIGTERM');
  await Promise.all([a.stop(), b.stop(), c.stop()]);
}

try {
  for (let i = 0; i < 150; i += 1) {
    if (exited !== null) throw new Error(`relais serve exited with ${exited}; see ${WORK}/oidc-server.log`);
    try { if ((await fetch(`${BASE}/health/ready`)).ok) break; } catch { /* not yet */ }
    await sleep(200);
  }
  await scenario();
} catch (e) {
  failures += 1;
  console.log(`FAIL ${e.stack}`);
} finally {
  await stopAll();
}
console.log(`${checks - failures} of ${checks} checks passed${failures ? `, ${failures} failed` : ''}`);
process.exit(failures ? 1 : 0);

async function call(method, path, token, body, headers = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: response.status, body: json, etag: response.headers.get('etag'), headers: response.headers };
}

async function exchange(params) {
  const response = await fetch(`${BASE}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** A person's Relais token: login at the provider, then the ID token (and UserInfo) exchanged. */
async function personToken(issuer, client, subject, { withUserinfo = false } = {}) {
  const login = await logIn(issuer, client, subject);
  const params = { grant_type: EXCHANGE, subject_token: login.id_token, subject_token_type: ID_TOKEN };
  if (withUserinfo) params.userinfo = login.userinfo;
  return { answer: await exchange(params), login };
}

function members(...args) {
  return JSON.parse(execFileSync(RELAIS, ['members', 'add', ...args], { env, cwd: WORK, encoding: 'utf8' }));
}

async function scenario() {
  const health = await call('GET', '/health/ready');
  check(health.status === 200, 'relais serve is ready with the providers fetched (A by discovery, B by its jwks_url)', health.body);

  // The first administrator, bootstrapped beside the database with its provider identity.
  const bootstrapped = members('--role', 'admin', '--display-name', 'Dominique Admin', '--issuer', a.issuer, '--subject', 'admin-1');
  check(bootstrapped.status === 'active', 'relais members add grants the first administrator', bootstrapped);

  const adminLogin = await personToken(a.issuer, frontA, 'admin-1');
  check(adminLogin.answer.status === 200, 'the administrator exchanges its ID token for a Relais token', adminLogin.answer.body);
  check(adminLogin.answer.headers.get('cache-control') === 'no-store', 'the token answer is not cached');
  const admin = adminLogin.answer.body.access_token;

  const postBody = (name) => ({ name, kind: 'mixed', department_code: '07', employer: 'Association Le Relais 07', convention: 'tripartite' });
  const postA = await call('POST', '/api/v1/posts', admin, postBody('ISCG Privas'));
  const postB = await call('POST', '/api/v1/posts', admin, postBody('ISCG Aubenas'));
  check(postA.status === 201 && postB.status === 201, 'the administrator creates two posts', [postA.body, postB.body]);
  const [p1, p2] = [postA.body.id, postB.body.id];

  const invite = async (display_name, email, post_ids) => call('POST', '/api/v1/members', admin, { display_name, role: 'social_worker', post_ids, email });
  const camille = await invite('Camille Martin', 'camille.martin@example.org', [p1]);
  const dominique = await invite('Dominique Petit', 'dominique.petit@example.org', [p1]);
  const claude = await invite('Claude Bernard', 'claude.bernard@example.org', [p2]);
  check([camille, dominique, claude].every((m) => m.status === 201 && m.body.status === 'invited'), 'three social workers are invited by e-mail', [camille.body, dominique.body, claude.body]);

  // Provider A gives the e-mail in UserInfo only (as ProConnect): the ID token alone binds nothing.
  const bare = await personToken(a.issuer, frontA, 'camille-1');
  check(!JSON.parse(Buffer.from(bare.login.id_token.split('.')[1], 'base64url')).email, "provider A's ID token carries no e-mail");
  check(bare.answer.status === 400 && bare.answer.body.error === 'invalid_grant', 'an ID token without e-mail does not bind the invitation', bare.answer.body);
  const camilleLogin = await personToken(a.issuer, frontA, 'camille-1', { withUserinfo: true });
  check(camilleLogin.answer.status === 200, 'first login with the signed UserInfo: the invitation is bound and a token issued', camilleLogin.answer.body);
  const camilleToken = camilleLogin.answer.body.access_token;
  const bound = await call('GET', `/api/v1/members/${camille.body.id}`, admin);
  check(bound.body.status === 'active' && bound.body.subject === 'camille-1' && bound.body.issuer === a.issuer, "the membership now names the provider's identity", bound.body);

  // The social worker's round trip.
  const situationBody = (post_id) => ({
    post_id, opened_on: '2026-03-14', origin: 'police', standing: 'victim', penal: true,
    problems: ['conjugal_violence', 'housing'], principal_problem: 'conjugal_violence',
    beneficiary: { first_name: 'Alex', last_name: 'Durand', birth_year: 1987, sex: 'female', commune_code: '07010', known_to_social_services: 'no' },
  });
  const created = await call('POST', '/api/v1/situations', camilleToken, situationBody(p1));
  check(created.status === 201, 'the social worker opens a situation at its post', created.body);
  const read = await call('GET', `/api/v1/situations/${created.body.id}`, camilleToken);
  check(read.status === 200 && read.body.post_id === p1, 'and reads it back', read.body);
  const elsewhere = await call('POST', '/api/v1/situations', camilleToken, situationBody(p2));
  check(elsewhere.status === 403, 'another post stays out of reach', elsewhere.body);
  const later = await personToken(a.issuer, frontA, 'camille-1');
  check(later.answer.status === 200, 'a later login needs no UserInfo: the identity is bound', later.answer.body);

  // A move from post A to post B holds at the next request.
  const dominiqueToken = (await personToken(a.issuer, frontA, 'dominique-1', { withUserinfo: true })).answer.body.access_token;
  const atA = await call('POST', '/api/v1/situations', dominiqueToken, situationBody(p1));
  check(atA.status === 201, 'Dominique works at post A', atA.body);
  const current = await call('GET', `/api/v1/members/${dominique.body.id}`, admin);
  const moved = await call('PUT', `/api/v1/members/${dominique.body.id}`, admin,
    { display_name: 'Dominique Petit', role: 'social_worker', post_ids: [p2] }, { 'if-match': current.etag });
  check(moved.status === 200, 'the administrator moves Dominique to post B', moved.body);
  const lostA = await call('GET', `/api/v1/situations/${atA.body.id}`, dominiqueToken);
  check(lostA.status === 403 || lostA.status === 404, "with the same token, post A's situation is out of reach at once", lostA);
  const atB = await call('POST', '/api/v1/situations', dominiqueToken, situationBody(p2));
  check(atB.status === 201, 'and post B is in reach with the same token', atB.body);

  // A revocation holds at the next request, and no new token is issued.
  const beforeRevocation = await call('GET', `/api/v1/members/${camille.body.id}`, admin);
  const revoked = await call('DELETE', `/api/v1/members/${camille.body.id}`, admin, null, { 'if-match': beforeRevocation.etag });
  check(revoked.status === 200 || revoked.status === 204, 'the administrator revokes Camille', revoked.body);
  const afterRevocation = await call('GET', `/api/v1/situations/${created.body.id}`, camilleToken);
  check(afterRevocation.status === 403, "Camille's token is refused at the next request", afterRevocation);
  const again = await personToken(a.issuer, frontA, 'camille-1');
  check(again.answer.status === 400 && again.answer.body.error === 'invalid_grant', 'and a new login gets no token', again.answer.body);

  // Provider B, ES256, e-mail in the ID token (as Keycloak): one ID token kept aside to expire.
  const kept = await logIn(b.issuer, frontB, 'stranger-1');
  const keptAt = Date.now();
  const claudeLogin = await personToken(b.issuer, frontB, 'claude-1');
  check(claudeLogin.answer.status === 200, "provider B's ES256 ID token is exchanged and Claude's invitation bound", claudeLogin.answer.body);
  const list = await call('GET', `/api/v1/situations?post_id=${p2}`, claudeLogin.answer.body.access_token);
  check(list.status === 200, 'Claude lists the situations of post B', list.body);

  // Refusals.
  const otherAudience = await personToken(a.issuer, otherFrontA, 'admin-1');
  check(otherAudience.answer.status === 400 && /not meant for this front-end/.test(otherAudience.answer.body.error_description),
    'an ID token for another front-end (audience) is refused', otherAudience.answer.body);
  const unknown = await personToken(c.issuer, frontC, 'admin-1');
  check(unknown.answer.status === 400 && /not a provider of this service/.test(unknown.answer.body.error_description),
    'an ID token of a provider not configured is refused', unknown.answer.body);
  const stranger = await exchange({ grant_type: EXCHANGE, subject_token: (await logIn(b.issuer, frontB, 'stranger-1')).id_token, subject_token_type: ID_TOKEN });
  check(stranger.status === 400 && stranger.body.error === 'invalid_grant', 'a person with no membership gets no token', stranger.body);

  // A partner's system: client credentials at provider A, its client id mapped by the admin.
  const partner = await call('POST', '/api/v1/partners', admin, {
    name: 'CCAS de Privas', kind: 'ccas', department_codes: ['07'], commune_codes: ['07186'], themes: ['precarity', 'housing'],
  });
  check(partner.status === 201, 'the administrator creates a partner', partner.body);
  const mapped = await call('POST', '/api/v1/members', admin, {
    display_name: 'SI du CCAS de Privas', role: 'partner', partner_id: partner.body.id, issuer: a.issuer, client_id: partnerSystem.client_id,
  });
  check(mapped.status === 201, "the administrator maps the provider's client id to the partner", mapped.body);
  const machineToken = await clientCredentials(a.issuer, partnerSystem);
  const machine = await exchange({ grant_type: EXCHANGE, subject_token: machineToken, subject_token_type: ACCESS_TOKEN });
  check(machine.status === 200, "the partner's client-credentials token is exchanged for a Relais token", machine.body);
  if (machine.status === 200) {
    const handOffs = await call('GET', '/api/v1/hand-offs', machine.body.access_token);
    check(handOffs.status === 200, 'the partner system lists its hand-offs', handOffs.body);
    const situations = await call('GET', `/api/v1/situations?post_id=${p1}`, machine.body.access_token);
    check(situations.status === 403, 'and reads no situation', situations.status);
  }
  const personAccessToken = (await logIn(a.issuer, frontA, 'admin-1')).access_token;
  const notMachine = await exchange({ grant_type: EXCHANGE, subject_token: personAccessToken, subject_token_type: ACCESS_TOKEN });
  check(notMachine.status === 400, "a person's opaque access token is not taken as a machine's", notMachine.body);

  // The ID token kept aside is past its 2 s life and the 30 s skew.
  const wait = keptAt + 33_000 - Date.now();
  if (wait > 0) await sleep(wait);
  const expired = await exchange({ grant_type: EXCHANGE, subject_token: kept.id_token, subject_token_type: ID_TOKEN });
  check(expired.status === 400 && /expired/.test(expired.body.error_description), 'an expired ID token is refused', expired.body);
}
