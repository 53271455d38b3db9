/**
 * A contract fake of the MongoDB Atlas Administration API v2, limited to what password rotation calls.
 * Atlas is SaaS and cannot run here; this follows the published contract (versioned media type
 * application/vnd.atlas.2023-01-01+json, OAuth client credentials and HTTP Digest auth, error bodies
 * `{ error, errorCode, detail, reason }`), and applies user changes to a real database through `backend`,
 * so a test proves that rotated credentials really log in.
 *
 * Endpoints:
 *   POST  /api/oauth/token                                      Basic clientId:clientSecret, grant_type=client_credentials
 *                                                               -> 200 { access_token, token_type: "Bearer", expires_in }
 *   GET   /api/atlas/v2/groups/{groupId}/databaseUsers/{db}/{username}   -> 200 user | 404 USER_NOT_FOUND
 *   PATCH /api/atlas/v2/groups/{groupId}/databaseUsers/{db}/{username}   body { password, ... } -> 200 user
 *   POST  /api/atlas/v2/groups/{groupId}/databaseUsers          body { username, password, databaseName, roles }
 *                                                               -> 201 user | 409 USER_ALREADY_EXISTS
 * A user is `{ groupId, databaseName, username, roles: [{ roleName, databaseName }], scopes, labels }`; the
 * password is never returned. Failures are injectable with `failNext` (optionally after applying the change,
 * like a response lost on the way back).
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AtlasDatabaseUser } from "../../lambdas/core/rotation/atlas-admin-api";

export const ATLAS_MEDIA_TYPE = "application/vnd.atlas.2023-01-01+json";
const REALM = "MMS Public API";

/** Where user changes land: the test's real database server. */
export interface DatabaseUserBackend {
  setPassword(username: string, password: string): Promise<void>;
  createUser(username: string, password: string, roles: AtlasDatabaseUser["roles"]): Promise<void>;
}

export interface FakeAtlasOptions {
  projectId: string;
  backend: DatabaseUserBackend;
  apiKey?: { publicKey: string; privateKey: string };
  serviceAccount?: { clientId: string; clientSecret: string };
  /** Further read endpoints (test/support/fake-atlas-reads.ts): an answer, or undefined to fall through. */
  readRoutes?: (method: string, url: URL) => [number, unknown] | undefined;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  auth: "digest" | "bearer" | "basic" | "none";
}

interface InjectedFailure {
  status: number;
  times: number;
  method?: string;
  afterApplying: boolean;
}

export interface FakeAtlasApi {
  url: string;
  requests: RecordedRequest[];
  backendErrors: unknown[];
  users: Map<string, AtlasDatabaseUser>;
  addUser(user: AtlasDatabaseUser): void;
  /** The next `times` authenticated API calls (of `method`, if given) answer `status`. */
  failNext(status: number, options?: { times?: number; method?: string; afterApplying?: boolean }): void;
  close(): Promise<void>;
}

export async function startFakeAtlasApi(options: FakeAtlasOptions): Promise<FakeAtlasApi> {
  const users = new Map<string, AtlasDatabaseUser>();
  const requests: RecordedRequest[] = [];
  const failures: InjectedFailure[] = [];
  const tokens = new Set<string>();
  const nonces = new Set<string>();
  const backendErrors: unknown[] = [];

  const server = createServer((req, res) => {
    // The backend's error may quote SQL with a password: kept for the test, never sent to the client.
    void handle(req, res).catch((error: unknown) => {
      backendErrors.push(error);
      send(res, 500, apiError(500, "UNEXPECTED_ERROR", "Unexpected error."));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://fake");
    const record: RecordedRequest = { method: req.method ?? "", path: url.pathname, status: 0, auth: "none" };
    requests.push(record);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      send(res, status, json, headers);
    };

    if (req.method === "POST" && url.pathname === "/api/oauth/token") {
      record.auth = "basic";
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const [id, secret] = Buffer.from(basic ?? "", "base64")
        .toString()
        .split(":");
      const account = options.serviceAccount;
      if (!account || id !== account.clientId || secret !== account.clientSecret) {
        return reply(401, { error: "invalid_client" });
      }
      if (new URLSearchParams(body).get("grant_type") !== "client_credentials") {
        return reply(400, { error: "unsupported_grant_type" });
      }
      const token = randomBytes(24).toString("hex");
      tokens.add(token);
      return reply(200, { access_token: token, token_type: "Bearer", expires_in: 3600 });
    }

    const auth = authenticate(req);
    record.auth = auth.scheme;
    if (!auth.ok) {
      const nonce = randomBytes(16).toString("hex");
      nonces.add(nonce);
      return reply(
        401,
        apiError(401, "NOT_AUTHORIZED", "Current user is not authorized to perform this action."),
        {
          "WWW-Authenticate": `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=false`,
        },
      );
    }
    if (req.headers.accept !== ATLAS_MEDIA_TYPE) {
      return reply(406, apiError(406, "INVALID_VERSION_DATE", `unsupported Accept ${req.headers.accept}`));
    }

    const failure = failures.find((candidate) => !candidate.method || candidate.method === req.method);
    if (failure) {
      if (--failure.times === 0) failures.splice(failures.indexOf(failure), 1);
      if (!failure.afterApplying)
        return reply(failure.status, apiError(failure.status, "INJECTED", "injected"));
    }
    const [status, json] =
      options.readRoutes?.(req.method ?? "", url) ?? (await route(req.method ?? "", url.pathname, body));
    if (failure)
      return reply(failure.status, apiError(failure.status, "INJECTED", "injected after applying"));
    return reply(status, json);
  }

  async function route(method: string, path: string, body: string): Promise<[number, unknown]> {
    const one = /^\/api\/atlas\/v2\/groups\/([^/]+)\/databaseUsers\/([^/]+)\/([^/]+)$/.exec(path);
    const all = /^\/api\/atlas\/v2\/groups\/([^/]+)\/databaseUsers$/.exec(path);
    const groupId = decodeURIComponent((one ?? all)?.[1] ?? "");
    if (!one && !all) return [404, apiError(404, "RESOURCE_NOT_FOUND", `no route ${method} ${path}`)];
    if (groupId !== options.projectId) {
      return [404, apiError(404, "GROUP_NOT_FOUND", `No group with ID ${groupId} exists.`)];
    }
    if (one) {
      const username = decodeURIComponent(one[3]!);
      const user = users.get(username);
      if (!user || decodeURIComponent(one[2]!) !== user.databaseName) {
        return [404, apiError(404, "USER_NOT_FOUND", `No user with username ${username} exists.`)];
      }
      if (method === "GET") return [200, view(user)];
      if (method === "PATCH") {
        const update = JSON.parse(body) as { password?: unknown };
        if (typeof update.password !== "string" || update.password.length < 8) {
          return [400, apiError(400, "INVALID_ATTRIBUTE", "Invalid attribute password specified.")];
        }
        await options.backend.setPassword(username, update.password);
        return [200, view(user)];
      }
    }
    if (all && method === "POST") {
      const user = JSON.parse(body) as AtlasDatabaseUser & { password?: unknown };
      if (typeof user.password !== "string" || !user.username || !Array.isArray(user.roles)) {
        return [400, apiError(400, "INVALID_ATTRIBUTE", "username, password and roles are required.")];
      }
      if (users.has(user.username)) {
        return [409, apiError(409, "USER_ALREADY_EXISTS", `The user ${user.username} already exists.`)];
      }
      await options.backend.createUser(user.username, user.password, user.roles);
      const created = { username: user.username, databaseName: user.databaseName, roles: user.roles };
      users.set(user.username, created);
      return [201, view(created)];
    }
    return [405, apiError(405, "METHOD_NOT_ALLOWED", `${method} not allowed on ${path}`)];
  }

  function authenticate(req: IncomingMessage): { ok: boolean; scheme: RecordedRequest["auth"] } {
    const header = req.headers.authorization ?? "";
    if (header.startsWith("Bearer ")) return { ok: tokens.has(header.slice(7)), scheme: "bearer" };
    if (!header.startsWith("Digest ") || !options.apiKey) return { ok: false, scheme: "none" };
    const fields: Record<string, string> = {};
    for (const match of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
      fields[match[1]!] = match[2] ?? match[3] ?? "";
    }
    const md5 = (text: string): string => createHash("md5").update(text).digest("hex");
    const key = options.apiKey;
    const ha1 = md5(`${key.publicKey}:${REALM}:${key.privateKey}`);
    const ha2 = md5(`${req.method}:${req.url}`);
    const expected = md5(`${ha1}:${fields.nonce}:${fields.nc}:${fields.cnonce}:auth:${ha2}`);
    const ok =
      fields.username === key.publicKey &&
      fields.qop === "auth" &&
      fields.uri === req.url &&
      nonces.has(fields.nonce ?? "") &&
      fields.response === expected;
    return { ok, scheme: "digest" };
  }

  function view(user: AtlasDatabaseUser): unknown {
    return { groupId: options.projectId, labels: [], scopes: [], ...user };
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    backendErrors,
    users,
    addUser: (user) => users.set(user.username, user),
    failNext: (status, { times = 1, method, afterApplying = false } = {}) => {
      failures.push({ status, times, method, afterApplying });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function apiError(status: number, errorCode: string, detail: string): unknown {
  return { error: status, errorCode, detail, reason: errorCode, parameters: [] };
}

function send(
  res: ServerResponse,
  status: number,
  json: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "Content-Type": ATLAS_MEDIA_TYPE, ...headers });
  res.end(JSON.stringify(json));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
