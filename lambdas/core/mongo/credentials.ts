/**
 * The shape of a database-credentials secret (Secrets Manager JSON), shared by the jobs that read it and the
 * rotation that writes it:
 *   { "username", "password", "host", "scheme": "mongodb+srv" | "mongodb", "database", "options", "MONGODB_URI" }
 * `host` is an SRV host name (mongodb+srv) or a comma-separated host:port list; `options` is a query string
 * without "?". MONGODB_URI is what the application reads; the parts are what rotation changes.
 */
export interface DatabaseCredentials {
  username: string;
  password: string;
  host: string;
  scheme: "mongodb+srv" | "mongodb";
  database: string;
  options: string;
  MONGODB_URI: string;
}

/** Builds the connection string from the parts, percent-encoding user and password. */
export function buildMongoUri(parts: Omit<DatabaseCredentials, "MONGODB_URI">): string {
  const auth = `${encodeURIComponent(parts.username)}:${encodeURIComponent(parts.password)}@`;
  const query = parts.options ? `?${parts.options}` : "";
  return `${parts.scheme}://${auth}${parts.host}/${encodeURIComponent(parts.database)}${query}`;
}

/**
 * Parses and validates a credentials secret. `secretId` only names the secret in errors; the value itself is
 * never echoed.
 */
export function parseDatabaseCredentials(
  secretString: string | undefined,
  secretId: string,
): DatabaseCredentials {
  if (!secretString) throw new Error(`secret ${secretId} has no SecretString`);
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new Error(`secret ${secretId} is not valid JSON (expected the database-credentials shape)`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`secret ${secretId} is not a JSON object (expected the database-credentials shape)`);
  }
  const record = value as Record<string, unknown>;
  const text = (key: string, fallback?: string): string => {
    const field = record[key];
    if (typeof field === "string" && field.length > 0) return field;
    if (fallback !== undefined) return fallback;
    throw new Error(`secret ${secretId} lacks the string field "${key}"`);
  };
  const scheme = text("scheme", "mongodb+srv");
  if (scheme !== "mongodb+srv" && scheme !== "mongodb") {
    throw new Error(`secret ${secretId} field "scheme" must be "mongodb+srv" or "mongodb"`);
  }
  const parts = {
    username: text("username"),
    password: text("password"),
    host: text("host"),
    scheme: scheme as DatabaseCredentials["scheme"],
    database: text("database"),
    options: typeof record.options === "string" ? record.options : "",
  };
  return { ...parts, MONGODB_URI: buildMongoUri(parts) };
}
