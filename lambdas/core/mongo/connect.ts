import { MongoClient, type MongoClientOptions } from "mongodb";
import { parseMongoUri, redactSecrets, secretsOfUri } from "./uri";

export interface ConnectOptions {
  /** Shown in the server's logs and currentOp, e.g. "atlas-ops/backup". */
  appName?: string;
  /** How long to wait for a server before failing (ms). */
  serverSelectionTimeoutMS?: number;
  maxPoolSize?: number;
}

/**
 * The one way the project opens a MongoDB connection: bounded timeouts so an unreachable server fails fast
 * with a clear error, and an error message that never carries the URI's password.
 */
export async function connectMongo(uri: string, options: ConnectOptions = {}): Promise<MongoClient> {
  // The driver lets client options override the URI's, so defaults apply only where the URI is silent.
  // URI option names are case-insensitive.
  const inUri = new Set([...parseMongoUri(uri).options.keys()].map((key) => key.toLowerCase()));
  const clientOptions: MongoClientOptions = { appName: options.appName ?? "atlas-ops" };
  if (options.serverSelectionTimeoutMS !== undefined || !inUri.has("serverselectiontimeoutms")) {
    clientOptions.serverSelectionTimeoutMS = options.serverSelectionTimeoutMS ?? 15_000;
  }
  if (!inUri.has("connecttimeoutms")) clientOptions.connectTimeoutMS = 10_000;
  if (options.maxPoolSize !== undefined || !inUri.has("maxpoolsize")) {
    clientOptions.maxPoolSize = options.maxPoolSize ?? 8;
  }
  let client: MongoClient | undefined;
  try {
    // The constructor parses the URI and may refuse its options: that error is redacted like the others.
    client = new MongoClient(uri, clientOptions);
    await client.connect();
    return client;
  } catch (error) {
    await client?.close().catch(() => undefined);
    throw new MongoConnectError(uri, error);
  }
}

/** Connection failure with the cause classified (authentication vs. reachability) and the URI redacted. */
export class MongoConnectError extends Error {
  override name = "MongoConnectError";
  readonly isAuthenticationFailure: boolean;

  constructor(uri: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const isAuth = isAuthenticationError(cause);
    // The driver's message may quote the URI's options or parts of it: the URI's own secrets are redacted in
    // it wherever they appear.
    const secrets = secretsOfUri(uri);
    super(
      `${isAuth ? "authentication failed" : "cannot connect"} to ${redactSecrets(uri, secrets)}: ` +
        redactSecrets(detail, secrets),
    );
    this.isAuthenticationFailure = isAuth;
  }
}

/** A failure already known to be the server refusing the credentials; carries the server's code 18. */
export class AuthenticationFailedError extends Error {
  override name = "AuthenticationFailedError";
  readonly code = 18;
}

/** True for the server's AuthenticationFailed (code 18) and the driver's auth errors. */
export function isAuthenticationError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code === 18) return true;
  return /authentication failed|auth(entication)? error|AuthenticationFailed/i.test(error.message);
}
