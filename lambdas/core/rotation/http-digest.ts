import { createHash, randomBytes } from "node:crypto";

/**
 * HTTP Digest access authentication (RFC 7616), the scheme of Atlas programmatic API keys, limited to what
 * Atlas offers: algorithm MD5 with qop=auth. Written here (about 50 lines) rather than adding a dependency for
 * it; no small maintained library covers it.
 */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

/** Parses `WWW-Authenticate: Digest realm="...", nonce="...", qop="auth", ...`; undefined if not Digest. */
export function parseDigestChallenge(header: string | null): DigestChallenge | undefined {
  if (!header || !/^Digest\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  const pattern = /([a-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/gi;
  for (const match of header.slice(7).matchAll(pattern)) {
    params[match[1]!.toLowerCase()] = (match[2] ?? match[3] ?? "").replace(/\\(.)/g, "$1");
  }
  if (params.realm === undefined || params.nonce === undefined) return undefined;
  return {
    realm: params.realm,
    nonce: params.nonce,
    qop: params.qop,
    opaque: params.opaque,
    algorithm: params.algorithm,
  };
}

export interface DigestRequest {
  method: string;
  /** The request-target as sent: path and query. */
  uri: string;
  username: string;
  password: string;
  /** Request counter for this nonce (1 for a fresh challenge). */
  nonceCount?: number;
  /** Client nonce; random when omitted (tests pass the RFC's example). */
  cnonce?: string;
}

const md5 = (text: string): string => createHash("md5").update(text, "utf8").digest("hex");

/** The Authorization header answering `challenge`. */
export function digestAuthorization(challenge: DigestChallenge, request: DigestRequest): string {
  const algorithm = challenge.algorithm ?? "MD5";
  if (algorithm.toUpperCase() !== "MD5") {
    throw new Error(`unsupported HTTP Digest algorithm ${algorithm} (only MD5 is implemented)`);
  }
  const offersAuth = challenge.qop?.split(",").some((value) => value.trim() === "auth") ?? false;
  const ha1 = md5(`${request.username}:${challenge.realm}:${request.password}`);
  const ha2 = md5(`${request.method.toUpperCase()}:${request.uri}`);
  const fields: Array<[string, string, boolean]> = [
    ["username", request.username, true],
    ["realm", challenge.realm, true],
    ["nonce", challenge.nonce, true],
    ["uri", request.uri, true],
    ["algorithm", algorithm, false],
  ];
  let response: string;
  if (offersAuth) {
    const nc = (request.nonceCount ?? 1).toString(16).padStart(8, "0");
    const cnonce = request.cnonce ?? randomBytes(16).toString("hex");
    response = md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`);
    fields.push(["qop", "auth", false], ["nc", nc, false], ["cnonce", cnonce, true]);
  } else {
    response = md5(`${ha1}:${challenge.nonce}:${ha2}`);
  }
  fields.push(["response", response, true]);
  if (challenge.opaque !== undefined) fields.push(["opaque", challenge.opaque, true]);
  const quote = (value: string): string => `"${value.replace(/(["\\])/g, "\\$1")}"`;
  return `Digest ${fields.map(([name, value, quoted]) => `${name}=${quoted ? quote(value) : value}`).join(", ")}`;
}
