import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { isAuthenticationError } from "../core/mongo/connect";
import { parseDatabaseCredentials, type DatabaseCredentials } from "../core/mongo/credentials";

/**
 * Reads secrets for the life of a Lambda container: one GetSecretValue per secret per container, always
 * with VersionStage AWSCURRENT (a rotation's AWSPENDING value must never be used by a job), and a way to
 * forget a value after an authentication failure so the next read picks up a rotated password.
 */
export class SecretReader {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  /** The secret's current SecretString; errors name the secret id and the cause, never the value. */
  read(secretId: string): Promise<string> {
    let pending = this.cache.get(secretId);
    if (!pending) {
      pending = this.fetch(secretId);
      this.cache.set(secretId, pending);
      // A failed read is not cached: the next invocation tries again.
      pending.catch(() => this.cache.delete(secretId));
    }
    return pending;
  }

  /** Drops the cached value, e.g. after the password it held was refused. */
  forget(secretId: string): void {
    this.cache.delete(secretId);
  }

  private async fetch(secretId: string): Promise<string> {
    let secretString: string | undefined;
    try {
      const output = await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }),
      );
      secretString = output.SecretString;
    } catch (error) {
      throw describeSecretsError(secretId, error);
    }
    if (!secretString)
      throw new Error(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
    return secretString;
  }
}

function describeSecretsError(secretId: string, error: unknown): Error {
  const name = (error as { name?: string }).name ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "ResourceNotFoundException") {
    return new Error(`secret ${secretId} not found (or it has no AWSCURRENT version)`, { cause: error });
  }
  if (name === "AccessDeniedException") {
    return new Error(`access denied reading secret ${secretId}: ${message}`, { cause: error });
  }
  if (name === "DecryptionFailure") {
    return new Error(`cannot decrypt secret ${secretId} (check the KMS key policy): ${message}`, {
      cause: error,
    });
  }
  return new Error(`cannot read secret ${secretId}: ${name}: ${message}`, { cause: error });
}

/**
 * Runs `work` with the database credentials of `secretId`. When the server refuses the password (the secret
 * was rotated since this container cached it), the secret is read again once and, if it changed, `work` is
 * retried with the new value: a rotation never breaks the next run.
 */
export async function withDatabaseCredentials<T>(
  secrets: SecretReader,
  secretId: string,
  work: (credentials: DatabaseCredentials) => Promise<T>,
): Promise<T> {
  const credentials = parseDatabaseCredentials(await secrets.read(secretId), secretId);
  try {
    return await work(credentials);
  } catch (error) {
    if (!isAuthenticationError(error)) throw error;
    secrets.forget(secretId);
    const fresh = parseDatabaseCredentials(await secrets.read(secretId), secretId);
    if (fresh.username === credentials.username && fresh.password === credentials.password) throw error;
    return work(fresh);
  }
}
