import { digestAuthorization, parseDigestChallenge } from "./http-digest";

/**
 * The few Atlas Administration API v2 calls rotation needs (database users of one project), with the two
 * credential kinds Atlas offers: a service account (OAuth 2.0 client credentials -> Bearer token) or a
 * programmatic API key (HTTP Digest). 429 and 5xx answers are retried with exponential back-off.
 */
export type AtlasAdminCredentials =
  | { kind: "service-account"; clientId: string; clientSecret: string }
  | { kind: "api-key"; publicKey: string; privateKey: string };

export interface AtlasRole {
  roleName: string;
  databaseName: string;
  collectionName?: string;
}

export interface AtlasDatabaseUser {
  username: string;
  databaseName: string;
  roles: AtlasRole[];
  scopes?: Array<{ name: string; type: string }>;
}

export interface AtlasAdminApiOptions {
  baseUrl: string;
  projectId: string;
  credentials: AtlasAdminCredentials;
  /** Names the credentials in errors, e.g. the admin secret's id. */
  credentialsSource: string;
  /** Attempts per call for 429/5xx/network errors (default 5). */
  attempts?: number;
  /** First back-off delay, doubled each retry (default 1000 ms); Retry-After wins when larger. */
  baseDelayMs?: number;
}

export const ATLAS_API_VERSION_ACCEPT = "application/vnd.atlas.2023-01-01+json";
/** SCRAM users authenticate against "admin". */
const AUTH_DATABASE = "admin";

export class AtlasApiError extends Error {
  override name = "AtlasApiError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Reads the admin secret: `{clientId, clientSecret}` or `{publicKey, privateKey}`. */
export function parseAtlasAdminCredentials(secretString: string, secretId: string): AtlasAdminCredentials {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new Error(`Atlas admin secret ${secretId} is not valid JSON`);
  }
  const record = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const text = (key: string): string | undefined =>
    typeof record[key] === "string" && record[key] !== "" ? (record[key] as string) : undefined;
  const clientId = text("clientId");
  const clientSecret = text("clientSecret");
  if (clientId && clientSecret) return { kind: "service-account", clientId, clientSecret };
  const publicKey = text("publicKey");
  const privateKey = text("privateKey");
  if (publicKey && privateKey) return { kind: "api-key", publicKey, privateKey };
  throw new Error(
    `Atlas admin secret ${secretId} must hold {"clientId","clientSecret"} (service account) or {"publicKey","privateKey"} (API key)`,
  );
}

export class AtlasAdminApi {
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private accessToken?: { value: string; expiresAt: number };

  constructor(private readonly options: AtlasAdminApiOptions) {
    this.attempts = options.attempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
  }

  /** The user, or undefined when Atlas has no such user in the project. */
  async getDatabaseUser(username: string): Promise<AtlasDatabaseUser | undefined> {
    const response = await this.call("GET", this.userPath(username), undefined, { allowNotFound: true });
    return response === undefined ? undefined : (response as AtlasDatabaseUser);
  }

  async updateDatabaseUserPassword(username: string, password: string): Promise<void> {
    await this.call("PATCH", this.userPath(username), {
      groupId: this.options.projectId,
      databaseName: AUTH_DATABASE,
      username,
      password,
    });
  }

  /**
   * A read of any v2 path (the reviews' access history, events, measurements, Performance Advisor); a 403
   * names `requiredRole`, the project role the documentation gives for that resource.
   */
  async getJson(path: string, query: URLSearchParams, requiredRole: string): Promise<unknown> {
    const search = query.toString();
    return this.call("GET", search ? `${path}?${search}` : path, undefined, { requiredRole });
  }

  private userPath(username: string): string {
    const group = encodeURIComponent(this.options.projectId);
    return `/api/atlas/v2/groups/${group}/databaseUsers/${AUTH_DATABASE}/${encodeURIComponent(username)}`;
  }

  private async call(
    method: string,
    path: string,
    body: unknown,
    { allowNotFound = false, requiredRole = "Project Database Access Admin" } = {},
  ): Promise<unknown> {
    const what = `Atlas Admin API ${method} ${path}`;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.send(method, path, body);
      } catch (error) {
        if (attempt >= this.attempts) {
          throw new AtlasApiError(`${what} failed after ${attempt} attempts: ${describeError(error)}`, 0);
        }
        await sleep(this.backoff(attempt, null));
        continue;
      }
      if (response.ok) {
        const text = await response.text();
        return text ? (JSON.parse(text) as unknown) : {};
      }
      const detail = await errorDetail(response);
      if (response.status === 404 && allowNotFound) return undefined;
      if ((response.status === 429 || response.status >= 500) && attempt < this.attempts) {
        await sleep(this.backoff(attempt, response.headers.get("retry-after")));
        continue;
      }
      throw new AtlasApiError(
        this.explain(what, response.status, detail, attempt, requiredRole),
        response.status,
      );
    }
  }

  private explain(
    what: string,
    status: number,
    detail: string,
    attempts: number,
    requiredRole: string,
  ): string {
    const project = `project ${this.options.projectId}`;
    switch (status) {
      case 401:
        return `${what}: Atlas rejected the credentials from ${this.options.credentialsSource} (401)${detail}`;
      case 403:
        return `${what}: the credentials from ${this.options.credentialsSource} lack the ${requiredRole} role on ${project} (403)${detail}`;
      case 404:
        return `${what}: not found in ${project} (404; check ATLAS_PROJECT_ID and the user name)${detail}`;
      default:
        return `${what}: HTTP ${status} after ${attempts} attempt(s)${detail}`;
    }
  }

  private backoff(attempt: number, retryAfter: string | null): number {
    const exponential = this.baseDelayMs * 2 ** (attempt - 1);
    const told = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
    return Math.max(exponential, told);
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    const url = new URL(path, this.options.baseUrl);
    const headers: Record<string, string> = { Accept: ATLAS_API_VERSION_ACCEPT };
    if (body !== undefined) headers["Content-Type"] = ATLAS_API_VERSION_ACCEPT;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const credentials = this.options.credentials;
    if (credentials.kind === "service-account") {
      headers.Authorization = `Bearer ${await this.bearerToken(credentials)}`;
      return fetch(url, { method, headers, body: payload });
    }
    // Digest: the first answer is the challenge; the request is then repeated with the computed response.
    const first = await fetch(url, { method, headers, body: payload });
    const challenge = parseDigestChallenge(first.headers.get("www-authenticate"));
    if (first.status !== 401 || !challenge) return first;
    await first.arrayBuffer();
    headers.Authorization = digestAuthorization(challenge, {
      method,
      uri: url.pathname + url.search,
      username: credentials.publicKey,
      password: credentials.privateKey,
    });
    return fetch(url, { method, headers, body: payload });
  }

  private async bearerToken(credentials: { clientId: string; clientSecret: string }): Promise<string> {
    if (this.accessToken && this.accessToken.expiresAt > Date.now() + 60_000) return this.accessToken.value;
    const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`).toString("base64");
    const response = await fetch(new URL("/api/oauth/token", this.options.baseUrl), {
      method: "POST",
      headers: {
        Accept: "application/json",
        Authorization: `Basic ${basic}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    if (!response.ok) {
      const detail = await errorDetail(response);
      const why =
        response.status === 400 || response.status === 401 ? "rejected the service account" : "failed";
      throw new AtlasApiError(
        `Atlas OAuth token request ${why} (HTTP ${response.status}; credentials from ${this.options.credentialsSource})${detail}`,
        response.status,
      );
    }
    const token = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof token.access_token !== "string") {
      throw new AtlasApiError("Atlas OAuth token response lacks access_token", response.status);
    }
    const lifetime = typeof token.expires_in === "number" ? token.expires_in : 3600;
    this.accessToken = { value: token.access_token, expiresAt: Date.now() + lifetime * 1000 };
    return token.access_token;
  }
}

/** Atlas errors carry {errorCode, detail}; quoted briefly (they never echo a request's password). */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const json = JSON.parse(text) as { errorCode?: unknown; detail?: unknown };
    const parts = [json.errorCode, json.detail].filter((part) => typeof part === "string");
    return parts.length > 0 ? `: ${parts.join(" - ").slice(0, 300)}` : "";
  } catch {
    return "";
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
