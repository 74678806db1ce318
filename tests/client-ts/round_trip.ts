/**
 * The referral → hand-off → outcome round trip of tests/client/round_trip.py, through a second
 * client made from openapi/openapi.json alone (see .ci/client-ts): the types that
 * openapi-typescript generates into generated/relais.ts, openapi-fetch's client typed by them,
 * and `tsc` under strict settings (tsconfig.json). The code holds no `as`, no `any`, no `!` and
 * no type guard of its own: a union is narrowed only on the discriminator the spec documents
 * (`view` of HandOffView and ReferralView, `type` of Event), so what compiles is what the
 * contract lets a partner's developer write.
 *
 * Every answer is also checked at run time against the spec (the middleware `contract`): its
 * status must be one the operation documents, its Content-Type one of that answer's media
 * types, and its body valid (Ajv, JSON Schema 2020-12, with formats) against that media type's
 * schema, as the spec gives it and once more closed (`unevaluatedProperties: false` wherever
 * the spec leaves an object open), so that a field the spec does not describe fails too.
 *
 * Environment: RELAIS_URL (the server's base URL), RELAIS (the `relais` binary, to mint tokens),
 * and the server's DATABASE_URL / RELAIS_JWT_SECRET so that the tokens it mints are accepted.
 */

import { execFileSync } from "node:child_process";
import { isDeepStrictEqual } from "node:util";

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import ajvFormats from "ajv-formats";
import createClient, { type Client, type Middleware } from "openapi-fetch";

import spec from "../../openapi/openapi.json" with { type: "json" };
import type { components, paths } from "./generated/relais.js";

type Schemas = components["schemas"];

const BASE = environment("RELAIS_URL");
const RELAIS = environment("RELAIS");

function environment(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    console.log(`FAIL ${name} is not set`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The spec, read as data: which answers each operation documents, and their schemas.

/** A JSON value: the spec as `resolveJsonModule` types it fits here. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface ResponseSpec {
  $ref?: string;
  description?: string;
  headers?: { [name: string]: Json };
  content?: { [mediaType: string]: { [key: string]: Json } };
}
interface OperationSpec {
  operationId: string;
  responses: { [status: string]: ResponseSpec };
}

const PATHS: { [path: string]: { [method: string]: OperationSpec } } = spec.paths;
const SHARED_RESPONSES: { [name: string]: ResponseSpec } = spec.components.responses;
const SCHEMAS: { [name: string]: Json } = spec.components.schemas;

/** One segment of a JSON pointer, as a URI fragment. */
function segment(key: string): string {
  return encodeURIComponent(key.replaceAll("~", "~0").replaceAll("/", "~1"));
}

/**
 * The same schema, closed: wherever it describes an object whose other properties the spec
 * leaves open, `unevaluatedProperties: false`. Not on the members of an `allOf` (each describes
 * a part of the object; the whole is closed where it is used), nor on a component itself (it may
 * be such a member); every place a schema is used otherwise (a property, the items of a list, a
 * member of a `oneOf`) is closed.
 */
function closed(schema: Json, partOfAllOf: boolean): Json {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    return schema;
  }
  const out: { [keyword: string]: Json } = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === "allOf" && Array.isArray(value)) {
      out[keyword] = value.map((member) => closed(member, true));
    } else if (["oneOf", "anyOf", "prefixItems"].includes(keyword) && Array.isArray(value)) {
      out[keyword] = value.map((member) => closed(member, false));
    } else if (
      ["properties", "patternProperties", "$defs", "dependentSchemas"].includes(keyword) &&
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value)
    ) {
      out[keyword] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, closed(sub, false)]),
      );
    } else if (
      ["items", "additionalProperties", "not", "if", "then", "else", "contains"].includes(keyword)
    ) {
      out[keyword] = closed(value, false);
    } else {
      out[keyword] = value;
    }
  }
  const describesAnObject =
    ["$ref", "allOf", "oneOf", "anyOf", "properties"].some((k) => schema[k] !== undefined) ||
    schema["type"] === "object" ||
    (Array.isArray(schema["type"]) && schema["type"].includes("object"));
  if (
    !partOfAllOf &&
    describesAnObject &&
    schema["additionalProperties"] === undefined &&
    schema["unevaluatedProperties"] === undefined
  ) {
    out["unevaluatedProperties"] = false;
  }
  return out;
}

const ajv = new Ajv2020({ strict: false, allErrors: false });
ajvFormats.default(ajv);
// The spec's own schemas, `$ref: "#/components/schemas/X"` resolving inside them; the paths come
// along so that an answer's schema is named by its place in the spec.
ajv.addSchema({ $id: "relais", paths: spec.paths, components: spec.components });
ajv.addSchema({
  $id: "relais-closed",
  paths: spec.paths,
  components: {
    responses: spec.components.responses,
    schemas: Object.fromEntries(
      Object.entries(SCHEMAS).map(([name, schema]) => [name, closed(schema, true)]),
    ),
  },
});

const validators = new Map<string, ValidateFunction>();
function validator(ref: string, closedToo: boolean): ValidateFunction {
  const key = `${closedToo}:${ref}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    validate = closedToo
      ? ajv.compile({ $ref: `relais-closed${ref}`, unevaluatedProperties: false })
      : ajv.compile({ $ref: `relais${ref}` });
    validators.set(key, validate);
  }
  return validate;
}

function errorsOf(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const params: Record<string, unknown> = e.params;
      const at = e.instancePath === "" ? "/" : e.instancePath;
      return `${at} ${e.message ?? "is not valid"} ${JSON.stringify(params)} (${e.schemaPath})`;
    })
    .join("; ");
}

/** What the contract check found of one answer. */
interface Checked {
  readonly operation: string;
  readonly status: number;
  /** The schema the body was validated against, to print. */
  readonly schema: string;
  /** The headers the spec declares for this answer, in lower case. */
  readonly headers: ReadonlySet<string>;
  readonly problems: readonly string[];
  readonly body: string;
}

const checked = new WeakMap<Response, Checked>();

async function checkAnswer(method: string, path: string, response: Response): Promise<Checked> {
  const body = await response.clone().text();
  const status = response.status;
  let name = `${method.toUpperCase()} ${path}`;
  let schema = "-";
  let headers = new Set<string>();
  const problems: string[] = [];
  const found = (problem?: string): Checked => {
    if (problem !== undefined) problems.push(problem);
    return { operation: name, status, schema, headers, problems, body };
  };

  const operation = PATHS[path]?.[method];
  if (operation === undefined) return found(`the spec has no ${name}`);
  name = operation.operationId;
  let pointer = `#/paths/${segment(path)}/${method}/responses/`;
  let documented: ResponseSpec | undefined;
  for (const key of [String(status), `${Math.floor(status / 100)}XX`, "default"]) {
    documented = operation.responses[key];
    if (documented !== undefined) {
      pointer += segment(key);
      break;
    }
  }
  if (documented === undefined) return found(`${status} is not an answer ${name} documents`);
  if (documented.$ref !== undefined) {
    const shared = documented.$ref.replace(/^#\/components\/responses\//, "");
    pointer = `#/components/responses/${segment(shared)}`;
    documented = SHARED_RESPONSES[shared];
    if (documented === undefined) return found(`the spec's ${pointer} does not resolve`);
  }
  headers = new Set(Object.keys(documented.headers ?? {}).map((h) => h.toLowerCase()));

  const content = documented.content ?? {};
  if (Object.keys(content).length === 0) {
    schema = "no body";
    return found(body === "" ? undefined : "a body where the spec documents none");
  }
  const contentType = response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
  const mediaType = content[contentType];
  if (mediaType === undefined) {
    const documentedTypes = Object.keys(content).join(", ");
    return found(`Content-Type "${contentType}" is not one the spec documents (${documentedTypes})`);
  }
  const given = mediaType["schema"];
  schema =
    typeof given === "object" && given !== null && !Array.isArray(given) && typeof given["$ref"] === "string"
      ? given["$ref"].replace(/^#\/components\/schemas\//, "")
      : `${contentType} schema`;
  if (!contentType.endsWith("json")) return found();

  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return found("the body is not JSON");
  }
  const where = `${pointer}/content/${segment(contentType)}/schema`;
  const asGiven = validator(where, false);
  if (!asGiven(value)) return found(`the body is not a valid ${schema}: ${errorsOf(asGiven.errors)}`);
  const whole = validator(where, true);
  if (!whole(value)) return found(`the body has what the spec does not describe: ${errorsOf(whole.errors)}`);
  return found();
}

/** Checks every answer against the spec, on the way in; the steps read what it found. */
const contract: Middleware = {
  async onResponse({ request, response, schemaPath }) {
    checked.set(response, await checkAnswer(request.method.toLowerCase(), schemaPath, response));
  },
};

// ---------------------------------------------------------------------------------------------
// Steps and checks.

class Failed extends Error {}

let passed = 0;

function fail(what: string, seen?: Checked): never {
  const detail =
    seen === undefined ? "" : `\n  ${seen.operation}: status ${seen.status}, body ${seen.body.slice(0, 2000)}`;
  throw new Failed(`${what}${detail}`);
}

function check(condition: boolean, what: string): void {
  if (!condition) fail(what);
  passed += 1;
}

/** The contract check of `response`, which must have `status`: one line printed. */
function answered(what: string, response: Response, status: number): Checked {
  const seen = checked.get(response);
  if (seen === undefined) fail(`${what}: the answer went through no contract check`);
  if (response.status !== status) fail(`${what}: expected ${status}, got ${response.status}`, seen);
  if (seen.problems.length > 0) fail(`${what}: ${seen.problems.join("; ")}`, seen);
  passed += 1;
  console.log(`ok   ${what}: ${response.status} ${seen.schema}`);
  return seen;
}

/** The body of a success, as openapi-fetch types it. */
function ok<T>(what: string, result: { data?: T; response: Response }, status: number): T {
  const seen = answered(what, result.response, status);
  if (result.data === undefined) fail(`${what}: openapi-fetch read no data`, seen);
  return result.data;
}

/** The body of a refusal (the operation's error answers), as openapi-fetch types it. */
function refused<E>(what: string, result: { error?: E; response: Response }, status: number): E {
  const seen = answered(what, result.response, status);
  if (result.error === undefined) fail(`${what}: openapi-fetch read no error`, seen);
  return result.error;
}

/** A header the spec declares for this answer, and that it carries. */
function header(what: string, response: Response, name: string): string {
  const seen = checked.get(response);
  if (seen === undefined) fail(`${what}: the answer went through no contract check`);
  if (!seen.headers.has(name.toLowerCase())) {
    fail(`${what}: the spec declares no ${name} header on ${seen.operation}'s ${seen.status}`);
  }
  const value = response.headers.get(name);
  if (value === null) fail(`${what}: no ${name} header`, seen);
  passed += 1;
  return value;
}

function token(role: string, ...scope: string[]): string {
  return execFileSync(RELAIS, ["token", "--role", role, "--subject", `client-ts-${role}`, ...scope], {
    encoding: "utf8",
  }).trim();
}

function client(bearer?: string): Client<paths> {
  const api = createClient<paths>({
    baseUrl: BASE,
    headers: bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` },
    fetch: (request: Request) => fetch(request, { signal: AbortSignal.timeout(30_000) }),
  });
  api.use(contract);
  return api;
}

// ---------------------------------------------------------------------------------------------

async function roundTrip(): Promise<void> {
  ok("the service answers (GET /health)", await client().GET("/health"), 200);

  // Set-up (admin): a post, a unit that works with it, a partner in the directory.
  const admin = client(token("admin"));
  const post = ok(
    "admin creates a post",
    await admin.POST("/api/v1/posts", {
      body: {
        name: "ISCG Privas",
        kind: "mixed",
        department_code: "07",
        employer: "Association Le Relais 07",
        convention: "tripartite",
      },
    }),
    201,
  );
  const unit = ok(
    "admin creates a unit of the post",
    await admin.POST("/api/v1/units", {
      body: {
        name: "Commissariat de Privas",
        kind: "commissariat",
        department_code: "07",
        post_ids: [post.id],
      },
    }),
    201,
  );
  check(isDeepStrictEqual(unit.post_ids, [post.id]), "the unit works with the post");
  const partner = ok(
    "admin creates a partner",
    await admin.POST("/api/v1/partners", {
      body: {
        name: "CCAS de Privas",
        kind: "ccas",
        department_codes: ["07"],
        commune_codes: ["07186"],
        themes: ["precarity", "housing"],
      },
    }),
    201,
  );

  const officer = client(token("officer", "--unit", unit.id));
  const socialWorker = client(token("social_worker", "--post", post.id));
  const partnerSystem = client(token("partner", "--partner", partner.id));

  // 1. An officer refers a person to the post.
  const receipt = ok(
    "officer refers a person (POST /api/v1/referrals)",
    await officer.POST("/api/v1/referrals", {
      body: {
        post_id: post.id,
        person: { first_name: "Camille", last_name: "Martin", phone: "06 12 34 56 78" },
        reason: "Différend conjugal, deux enfants présents",
        agreed_to_be_contacted: true,
      },
    }),
    201,
  );
  check(receipt.status === "received", "the referral is received");
  check(receipt.post_id === post.id, "the referral is addressed to the post");

  // The post's social worker reads it whole: the `post` view.
  const full = ok(
    "social worker reads the referral",
    await socialWorker.GET("/api/v1/referrals/{id}", { params: { path: { id: receipt.id } } }),
    200,
  );
  if (full.view !== "post") fail(`the social worker reads the ${full.view} view of the referral`);
  check(full.person.first_name === "Camille", "the post sees the person referred");
  check(full.sender.role === "officer" && full.sender.unit_id === unit.id, "the sender is the unit");

  // 2. The social worker takes it up: a situation opens for the person.
  const taken = await socialWorker.POST("/api/v1/referrals/{id}/take-up", {
    params: { path: { id: receipt.id } },
    body: {
      opened_on: "2026-03-14",
      origin: "police",
      standing: "victim",
      penal: true,
      problems: ["conjugal_violence", "precarity"],
      principal_problem: "conjugal_violence",
    },
  });
  const situation = ok("social worker takes it up (POST /api/v1/referrals/{id}/take-up)", taken, 201);
  check(
    header("take-up's Location", taken.response, "Location").endsWith(`/api/v1/situations/${situation.id}`),
    "take-up answers with the situation's Location",
  );
  check(situation.status === "open", "the situation is open");
  check(situation.beneficiary.first_name === "Camille", "the person comes from the referral");

  // 3. Choose the partner, prepare the hand-off, record the consent, send.
  const found = ok(
    "social worker searches the directory",
    await socialWorker.GET("/api/v1/partners", {
      params: { query: { theme: "precarity", commune_code: "07186" } },
    }),
    200,
  );
  check(found.items.some((p) => p.id === partner.id), "the partner is found by theme and commune");

  const created = await socialWorker.POST("/api/v1/situations/{id}/hand-offs", {
    params: { path: { id: situation.id } },
    body: { partner_id: partner.id, reasons: ["precarity"], message: "Besoin d une aide alimentaire" },
  });
  const draft = ok("social worker drafts a hand-off", created, 201);
  check(draft.status === "draft", "the hand-off is a draft");

  // Sending without consent is refused, as a problem document naming the consent.
  const problem = refused(
    "sending before consent is refused",
    await socialWorker.POST("/api/v1/hand-offs/{id}/send", {
      params: {
        path: { id: draft.id },
        header: { "If-Match": header("the draft's ETag", created.response, "ETag") },
      },
    }),
    422,
  );
  check(
    problem.status === 422 && isDeepStrictEqual((problem.errors ?? []).map((e) => e.field), ["consent"]),
    `the refusal names the consent (got ${JSON.stringify(problem.errors ?? [])})`,
  );

  const consent = ok(
    "social worker records the consent",
    await socialWorker.PUT("/api/v1/hand-offs/{id}/consent", {
      params: { path: { id: draft.id } },
      body: { given: true, form: "oral", shared_data: ["identity", "contact", "problems"] },
    }),
    200,
  );
  check(consent.given && consent.form === "oral", "the consent is given, orally");

  const current = await socialWorker.GET("/api/v1/hand-offs/{id}", { params: { path: { id: draft.id } } });
  const read = ok("social worker reads the draft", current, 200);
  if (read.view !== "post") fail(`the social worker reads the ${read.view} view of the hand-off`);
  check(read.consent?.given === true, "the draft carries the consent");

  const sending = await socialWorker.POST("/api/v1/hand-offs/{id}/send", {
    params: {
      path: { id: draft.id },
      header: { "If-Match": header("the draft's ETag", current.response, "ETag") },
    },
  });
  const sent = ok("social worker sends the hand-off (If-Match)", sending, 200);
  if (sent.view !== "post") fail(`the social worker is answered the ${sent.view} view of the hand-off`);
  check(sent.status === "sent", "the hand-off is sent");

  // 4. The partner's system polls its feed and its hand-offs, then answers.
  const feed = ok(
    "partner polls its feed",
    await partnerSystem.GET("/api/v1/events", { params: { query: { after: 0 } } }),
    200,
  );
  const sentEvents: Schemas["HandOffEvent"][] = [];
  for (const event of feed.items) {
    if (event.type === "hand_off.sent" && event.data.hand_off_id === sent.id) sentEvents.push(event);
  }
  const sentEvent = sentEvents[0];
  check(
    sentEvents.length === 1 && sentEvent !== undefined,
    `the feed has the hand_off.sent event (has ${feed.items.map((e) => e.type).join(", ")})`,
  );
  check(
    sentEvent?.record_type === "hand_off" &&
      sentEvent.record_id === sent.id &&
      sentEvent.data.status === "sent",
    "the event names the hand-off and its new status",
  );
  // The spec's catalogue: `hand_off.created`, `hand_off.legal_exception_used` and the referral
  // events go to the post (and a referral's sender), never to a partner.
  check(
    feed.items.every(
      (e) =>
        e.type !== "hand_off.created" &&
        e.type !== "hand_off.legal_exception_used" &&
        !e.type.startsWith("referral."),
    ),
    "the partner sees only the events the catalogue sends it",
  );
  check(
    feed.items.every((e, i) => i === 0 || (feed.items[i - 1]?.seq ?? Infinity) < e.seq),
    "the feed is in order",
  );
  check(feed.next_after === feed.items.at(-1)?.seq, "next_after is the last seq returned");

  const page = ok("partner lists its hand-offs", await partnerSystem.GET("/api/v1/hand-offs"), 200);
  check(
    isDeepStrictEqual(page.items.map((h) => h.id), [sent.id]),
    "the partner has exactly the hand-off sent",
  );
  check(page.items.every((h) => h.view === "partner"), "the partner's list is the partner view");

  const view = ok(
    "partner reads the hand-off (consented data only)",
    await partnerSystem.GET("/api/v1/hand-offs/{id}", { params: { path: { id: sent.id } } }),
    200,
  );
  if (view.view !== "partner") fail(`the partner reads the ${view.view} view of the hand-off`);
  check(view.person?.first_name === "Camille", "identity is shared (consented)");
  check(view.person?.phone === "06 12 34 56 78", "contact is shared (consented)");
  check(isDeepStrictEqual(view.reasons, ["precarity"]), "problems are shared (consented)");
  check(view.message === undefined || view.message === null, "the message is not shared (not consented)");

  const acknowledging = { params: { path: { id: sent.id }, header: { "Idempotency-Key": "ack-001" } } };
  const ack = await partnerSystem.POST("/api/v1/hand-offs/{id}/acknowledge", acknowledging);
  const received = ok("partner acknowledges (Idempotency-Key)", ack, 200);
  if (received.view !== "partner") fail(`the partner is answered the ${received.view} view of the hand-off`);
  check(received.status === "received", "the hand-off is received");
  check(ack.response.headers.get("Idempotent-Replayed") === null, "the first acknowledgement is no replay");
  const again = await partnerSystem.POST("/api/v1/hand-offs/{id}/acknowledge", acknowledging);
  const replayed = ok("partner retries the acknowledgement (same Idempotency-Key)", again, 200);
  check(
    header("the retry's Idempotent-Replayed", again.response, "Idempotent-Replayed") === "true",
    "the retry is marked Idempotent-Replayed: true",
  );
  check(isDeepStrictEqual(replayed, received), "the retry answers the first answer");

  // Completing before accepting is not a legal move.
  const early = refused(
    "completing before accepting is refused",
    await partnerSystem.POST("/api/v1/hand-offs/{id}/complete", {
      params: { path: { id: sent.id }, header: { "Idempotency-Key": "cpl-early" } },
      body: { result: "supported", outcome: "trop tôt" },
    }),
    409,
  );
  check(early.status === 409, "the refusal is a 409 problem");

  const accepted = ok(
    "partner accepts (If-Match)",
    await partnerSystem.POST("/api/v1/hand-offs/{id}/accept", {
      params: {
        path: { id: sent.id },
        header: {
          "Idempotency-Key": "acc-001",
          "If-Match": header("the acknowledgement's ETag", ack.response, "ETag"),
        },
      },
    }),
    200,
  );
  check(accepted.status === "accepted", "the hand-off is accepted");
  const completed = ok(
    "partner completes with an outcome (CompleteInput)",
    await partnerSystem.POST("/api/v1/hand-offs/{id}/complete", {
      params: { path: { id: sent.id }, header: { "Idempotency-Key": "cpl-001" } },
      body: { result: "supported", outcome: "Droits ouverts, colis alimentaires" },
    }),
    200,
  );
  check(completed.status === "completed", "the hand-off is completed");
  check(completed.result === "supported", "the partner reads its coded result back");

  // 5. The social worker reads the outcome and the attributed history.
  const final = ok(
    "social worker reads the outcome",
    await socialWorker.GET("/api/v1/hand-offs/{id}", { params: { path: { id: sent.id } } }),
    200,
  );
  if (final.view !== "post") fail(`the social worker reads the ${final.view} view of the hand-off`);
  check(final.status === "completed", "the post sees it completed");
  check(final.outcome === "Droits ouverts, colis alimentaires", "the post reads the partner's outcome");
  check(final.result === "supported", "the post reads the coded result");
  const moves = final.history.map((t) => `${t.from ?? "-"}→${t.to} by ${t.by_role}`);
  check(
    isDeepStrictEqual(moves, [
      "-→draft by social_worker",
      "draft→sent by social_worker",
      "sent→received by partner",
      "received→accepted by partner",
      "accepted→completed by partner",
    ]),
    `the history is each move, attributed (got ${moves.join(", ")})`,
  );
  check(final.history.every((t) => t.by !== ""), "every move names who made it");

  // The officer sees only that the referral was taken up: the `sender` view, which the spec
  // closes (additionalProperties: false), so no person, reason or situation can ride along.
  const seen = ok(
    "officer reads the referral (its receipt)",
    await officer.GET("/api/v1/referrals/{id}", { params: { path: { id: receipt.id } } }),
    200,
  );
  if (seen.view !== "sender") fail(`the officer reads the ${seen.view} view of the referral`);
  check(seen.status === "taken_up", "the officer sees taken_up");

  // … and cannot read the hand-off at all: get_hand_off is not for officers ("Any other role
  // gets 403").
  const hidden = refused(
    "officer cannot read the hand-off",
    await officer.GET("/api/v1/hand-offs/{id}", { params: { path: { id: sent.id } } }),
    403,
  );
  check(hidden.status === 403, "and is told so in a problem document");
}

async function main(): Promise<number> {
  try {
    await roundTrip();
  } catch (error) {
    // A Failed check, or the client itself failing (the server unreachable, a timeout…).
    const what =
      error instanceof Failed
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    console.log(`FAIL ${what}`);
    console.log(`client-ts: ${passed} passed, 1 failed`);
    return 1;
  }
  console.log(`client-ts: ${passed} passed, 0 failed`);
  return 0;
}

process.exitCode = await main();
