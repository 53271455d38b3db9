import { connectMongo, isAuthenticationError, MongoConnectError } from "../mongo/connect";
import { buildMongoUri, parseDatabaseCredentials, type DatabaseCredentials } from "../mongo/credentials";
import type { AtlasAdminApi } from "./atlas-admin-api";
import { RotationError, type RotationStrategy } from "./rotation-steps";

/**
 * Rotation of the application's database password. Atlas only lets its Admin API change database users, so
 * `setPending` goes through it.
 * - single-user: the one user gets the new password; between setSecret and finishSecret the current secret no
 *   longer logs in (short, and the app must reconnect on an authentication error).
 * - alternating-users: the secret alternates between `<user>` and `<user>_clone` (both created by the stack
 *   with the same roles); the user not in AWSCURRENT gets the new password, so the current one never stops
 *   working.
 */
export type RotationStrategyName = "single-user" | "alternating-users";
export const ROTATION_STRATEGY_NAMES: readonly RotationStrategyName[] = ["single-user", "alternating-users"];

export const CLONE_SUFFIX = "_clone";

/**
 * Punctuation that breaks a URI, a shell or a config file when unquoted; Secrets Manager leaves it out, so only
 * letters, digits and the URI-unreserved "-._" remain.
 */
export const PASSWORD_EXCLUDED_CHARACTERS = "/@:?#[]%&'\"`\\ ,;=+$!^*(){}<>|~";
export const PASSWORD_LENGTH = 32;

export interface DatabasePasswordRotationOptions {
  strategy: RotationStrategyName;
  atlas: Pick<AtlasAdminApi, "getDatabaseUser" | "updateDatabaseUserPassword">;
  /** A new random password (Secrets Manager GetRandomPassword in the Lambda). */
  newPassword(): Promise<string>;
  /** Atlas applies user changes within seconds to a minute: how long testSecret keeps trying to log in. */
  loginWaitMs?: number;
  /** Pause between login attempts while waiting. */
  loginRetryDelayMs?: number;
  /**
   * Where the cluster is reached now (the stack's host: the private endpoint's after a switch to
   * PrivateLink). The pending value gets it, so a rotation moves a secret to it after proving it logs in.
   */
  host?: string;
}

/** The user that takes the next password: the same one, or the other of the pair. */
export function nextUsername(current: string, strategy: RotationStrategyName): string {
  if (strategy === "single-user") return current;
  return current.endsWith(CLONE_SUFFIX) ? current.slice(0, -CLONE_SUFFIX.length) : current + CLONE_SUFFIX;
}

/**
 * True when the credentials log in and can read their database; false on an authentication failure; throws
 * when the server cannot be reached (that says nothing about the password). The driver authenticates lazily,
 * on a connection's first command, so a read is what proves the login.
 */
export async function credentialsLogIn(credentials: DatabaseCredentials): Promise<boolean> {
  try {
    await checkCredentialsRead(credentials);
    return true;
  } catch (error) {
    if (
      isAuthenticationError(error) ||
      (error instanceof MongoConnectError && error.isAuthenticationFailure)
    ) {
      return false;
    }
    throw error;
  }
}

/** Logs in with the credentials and runs a read on their database; errors carry no password. */
export async function checkCredentialsRead(credentials: DatabaseCredentials): Promise<void> {
  const client = await connectMongo(credentials.MONGODB_URI, {
    appName: "atlas-ops/rotation",
    serverSelectionTimeoutMS: 10_000,
    maxPoolSize: 1,
  });
  try {
    await client.db(credentials.database).listCollections({}, { nameOnly: true }).toArray();
  } finally {
    await client.close();
  }
}

export function databasePasswordRotation(options: DatabasePasswordRotationOptions): RotationStrategy {
  const loginWaitMs = options.loginWaitMs ?? 120_000;
  const loginRetryDelayMs = options.loginRetryDelayMs ?? 5_000;

  return {
    async createPending(current, secretId) {
      const now = parseDatabaseCredentials(current, secretId);
      const password = await options.newPassword();
      const parts = {
        username: nextUsername(now.username, options.strategy),
        password,
        host: options.host ?? now.host,
        scheme: now.scheme,
        database: now.database,
        options: now.options,
      };
      return JSON.stringify({ ...parts, MONGODB_URI: buildMongoUri(parts) });
    },

    async setPending(pending, current, secretId) {
      const next = parseDatabaseCredentials(pending, `${secretId} (AWSPENDING)`);
      const now = parseDatabaseCredentials(current, secretId);
      if (next.username !== nextUsername(now.username, options.strategy)) {
        throw new RotationError(
          `pending user ${next.username} of secret ${secretId} does not follow current user ${now.username} under strategy ${options.strategy}`,
        );
      }
      // A retried setSecret (or one whose earlier try succeeded before a crash) has nothing left to do.
      if (await credentialsLogIn(next)) return;
      // The stack creates both users of a pair with the same roles: a user made here would keep a copy of
      // today's roles, miss every later change in the stack and outlive `pulumi destroy`.
      if (options.strategy === "alternating-users" && !(await options.atlas.getDatabaseUser(next.username))) {
        throw new RotationError(
          `Atlas has no database user ${next.username} (the other user of ${now.username}'s pair, for secret ${secretId}); ` +
            'the stack creates it with rotationStrategy "alternating-users": run `pulumi up`',
        );
      }
      await options.atlas.updateDatabaseUserPassword(next.username, next.password);
    },

    async testPending(pending, _current, secretId) {
      const next = parseDatabaseCredentials(pending, `${secretId} (AWSPENDING)`);
      await waitForLogin(next, `pending credentials of secret ${secretId}`);
    },

    /**
     * What a rotation will need: the current credentials log in (network path, user, password) and the
     * Atlas Admin API credentials can read the user (they will change its password).
     */
    async testConfiguration(current, secretId) {
      const now = parseDatabaseCredentials(current, secretId);
      await waitForLogin(now, `current credentials of secret ${secretId}`);
      if (!(await options.atlas.getDatabaseUser(now.username))) {
        throw new RotationError(
          `Atlas has no database user ${now.username} (current user of secret ${secretId})`,
        );
      }
    },
  };

  /** Logs in and reads, waiting while Atlas applies a user change (authentication errors only). */
  async function waitForLogin(credentials: DatabaseCredentials, label: string): Promise<void> {
    const deadline = Date.now() + loginWaitMs;
    for (;;) {
      try {
        await checkCredentialsRead(credentials);
        return;
      } catch (error) {
        const authFailed =
          isAuthenticationError(error) ||
          (error instanceof MongoConnectError && error.isAuthenticationFailure);
        if (!authFailed || Date.now() + loginRetryDelayMs > deadline) {
          const detail = error instanceof Error ? error.message : String(error);
          throw new RotationError(`${label} (user ${credentials.username}) do not work: ${detail}`);
        }
        await new Promise((resolve) => setTimeout(resolve, loginRetryDelayMs));
      }
    }
  }
}
