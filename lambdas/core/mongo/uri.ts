/**
 * Parsing and redaction of connection strings. `redactSecrets` is the project's one redaction function: every
 * error message, log line and report that may carry a URI or its options goes through it. It is hand-written
 * because the driver's own redaction (mongodb-connection-string-url) only parses valid mongodb:// strings,
 * while a mistyped scheme, an http:// endpoint or a driver message quoting options must be redacted too.
 */

/** `scheme://userinfo@`, whatever the scheme; the userinfo runs to the last `@` before whitespace. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s]*)@/gi;

/** Names whose value is a secret: passwords (proxyPassword, tlsCertificateKeyFilePassword, ...), tokens, keys. */
const SECRET_NAME = "[\\w.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|secretaccesskey|privatekey)";
const SECRET_NAME_ONLY = new RegExp(`^${SECRET_NAME}$`, "i");

/** `name=value` (URI options, key=value text): up to `&`, `;`, whitespace or a closing quote. */
const SECRET_OPTION = new RegExp(`(${SECRET_NAME})=([^&;\\s"']*)`, "gi");
/**
 * `NAME:value` inside authMechanismProperties (`=AWS_SESSION_TOKEN:...`, `,AWS_SESSION_TOKEN%3A...`): up to
 * `,`, `&` or whitespace. Only after `=`, `,` or a space, so an ARN's `:secret:name` stays readable.
 */
const SECRET_PROPERTY = new RegExp(`(?<=^|[=,\\s])(${SECRET_NAME})(?::|%3A)(?!//)([^,&\\s"']+)`, "gi");
/** `"name": "value"` in JSON text. */
const SECRET_JSON = new RegExp(`("${SECRET_NAME}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, "gi");

const MONGODB_SCHEME = /^mongodb(\+srv)?:\/\/$/i;

function redactUserinfo(scheme: string, userinfo: string): string {
  const colon = userinfo.indexOf(":");
  if (colon >= 0) return `${scheme}${userinfo.slice(0, colon)}:***@`;
  // A user without a password is a MongoDB user name (X.509, Kerberos); elsewhere it is often a token.
  return MONGODB_SCHEME.test(scheme) ? `${scheme}${userinfo}@` : `${scheme}***@`;
}

/**
 * Replaces every credential-bearing part of a text: the password of `scheme://user:password@` (any scheme),
 * option values such as `proxyPassword=`, `tlsCertificateKeyFilePassword=`, `password=`, the
 * `AWS_SESSION_TOKEN:` of authMechanismProperties, JSON fields named like secrets, and any of the `known`
 * secret values (as written or percent-encoded) wherever they appear.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  let redacted = text;
  for (const secret of known) {
    // Very short values would blank out ordinary words; real secrets are longer.
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)]))
      redacted = redacted.split(form).join("***");
  }
  return redacted
    .replace(USERINFO, (_match, scheme: string, userinfo: string) => redactUserinfo(scheme, userinfo))
    .replace(SECRET_JSON, (_match, name: string) => `${name}"***"`)
    .replace(SECRET_OPTION, (_match, name: string) => `${name}=***`)
    .replace(
      SECRET_PROPERTY,
      (match: string, name: string) => `${name}${match.charAt(name.length) === ":" ? ":" : "%3A"}***`,
    );
}

/** True for a field name whose value is a secret (for structured logs: `{ password: ... }`). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME_ONLY.test(name);
}

/** The secret values a connection string carries (its password, secret options), to redact them anywhere. */
export function secretsOfUri(uri: string): string[] {
  const secrets: string[] = [];
  // The whole string is one URI here: its userinfo runs to the last "@", whatever the password holds.
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/(.*)@[^@]*$/is.exec(uri.trim())?.[1];
  const colon = userinfo?.indexOf(":") ?? -1;
  if (userinfo && colon >= 0) secrets.push(...decodedAndRaw(userinfo.slice(colon + 1)));
  for (const match of uri.matchAll(SECRET_OPTION)) secrets.push(...decodedAndRaw(match[2] ?? ""));
  for (const match of uri.matchAll(SECRET_PROPERTY)) secrets.push(...decodedAndRaw(match[2] ?? ""));
  return secrets.filter((secret) => secret.length > 0);
}

function decodedAndRaw(value: string): string[] {
  try {
    return [value, decodeURIComponent(value)];
  } catch {
    return [value];
  }
}

export interface ParsedMongoUri {
  scheme: "mongodb" | "mongodb+srv";
  username?: string;
  /** host:port list as written (lower-cased), in order. */
  hosts: string[];
  /** The database in the path, if any. */
  database?: string;
  options: URLSearchParams;
}

/** Parses a MongoDB connection string; the error names what is wrong but never echoes the password. */
export function parseMongoUri(uri: string): ParsedMongoUri {
  const match = /^(mongodb(?:\+srv)?):\/\/(?:([^@/]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/i.exec(uri.trim());
  if (!match) {
    // Only the scheme is shown: the rest of a string that is not understood may be anything, a password too.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri.trim())?.[1];
    const shown = scheme ? `it starts with "${scheme}:"` : "it has no scheme";
    throw new Error(`not a MongoDB connection string: ${shown} (expected mongodb:// or mongodb+srv://)`);
  }
  const [, scheme, userInfo, hostList, database, query] = match;
  const username = userInfo ? decodeURIComponent(userInfo.split(":")[0] ?? "") : undefined;
  return {
    scheme: scheme!.toLowerCase() as ParsedMongoUri["scheme"],
    username: username || undefined,
    hosts: hostList!.split(",").map((host) => host.trim().toLowerCase()),
    database: database ? decodeURIComponent(database) : undefined,
    options: new URLSearchParams(query ?? ""),
  };
}
