import { randomBytes } from "node:crypto";
import { RotationError, type RotationStrategy } from "./rotation-steps";

/**
 * An application signing secret (NEXTAUTH_SECRET, JWT_SECRET, ...): JSON with one key holding the value and
 * `<key>_PREVIOUS` holding the value it replaced, so an app that accepts both keeps its sessions valid:
 *   { "NEXTAUTH_SECRET": "<base64 of 32 random bytes>", "NEXTAUTH_SECRET_PREVIOUS": "<previous>" }
 */
export interface AppSecret {
  key: string;
  value: string;
  previous?: string;
}

export const APP_SECRET_BYTES = 32;
const PREVIOUS_SUFFIX = "_PREVIOUS";
/** 32 random bytes hold about 30 distinct values; fewer than this means a broken generator, not bad luck. */
const MIN_DISTINCT_BYTES = 16;

export function parseAppSecret(secretString: string, secretId: string): AppSecret {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new RotationError(`secret ${secretId} is not valid JSON (expected {"<NAME>": "<base64>"})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RotationError(`secret ${secretId} is not a JSON object (expected {"<NAME>": "<base64>"})`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).filter((name) => !name.endsWith(PREVIOUS_SUFFIX));
  if (keys.length !== 1) {
    throw new RotationError(
      `secret ${secretId} must hold exactly one key besides *${PREVIOUS_SUFFIX}, found ${keys.length} (${keys.join(", ")})`,
    );
  }
  const key = keys[0]!;
  const current = record[key];
  if (typeof current !== "string" || current === "") {
    throw new RotationError(`secret ${secretId} key "${key}" must be a non-empty string`);
  }
  const previous = record[key + PREVIOUS_SUFFIX];
  if (previous !== undefined && typeof previous !== "string") {
    throw new RotationError(`secret ${secretId} key "${key}${PREVIOUS_SUFFIX}" must be a string`);
  }
  return { key, value: current, previous };
}

export function formatAppSecret(secret: AppSecret): string {
  const json: Record<string, string> = { [secret.key]: secret.value };
  if (secret.previous) json[secret.key + PREVIOUS_SUFFIX] = secret.previous;
  return JSON.stringify(json);
}

/** What `openssl rand -base64 32` prints. */
export function newAppSecretValue(): string {
  return randomBytes(APP_SECRET_BYTES).toString("base64");
}

/** Throws when `candidate` is not a fresh, well-formed value; the message never contains a value. */
export function checkAppSecretValue(candidate: string, previous: string | undefined, label: string): void {
  const bytes = Buffer.from(candidate, "base64");
  if (bytes.toString("base64") !== candidate) throw new RotationError(`${label} is not canonical base64`);
  if (bytes.length !== APP_SECRET_BYTES) {
    throw new RotationError(`${label} decodes to ${bytes.length} bytes, expected ${APP_SECRET_BYTES}`);
  }
  if (new Set(bytes).size < MIN_DISTINCT_BYTES) {
    throw new RotationError(`${label} has too few distinct bytes to be random`);
  }
  if (previous !== undefined && candidate === previous) {
    throw new RotationError(`${label} equals the value it replaces`);
  }
}

export const appSecretRotation: RotationStrategy = {
  async createPending(current, secretId) {
    const secret = parseAppSecret(current, secretId);
    return formatAppSecret({ key: secret.key, value: newAppSecretValue(), previous: secret.value });
  },

  // The application reads the secret itself: nothing to change elsewhere before the value becomes current.
  async setPending() {},

  async testPending(pending, current, secretId) {
    const next = parseAppSecret(pending, `${secretId} (AWSPENDING)`);
    const now = parseAppSecret(current, secretId);
    if (next.key !== now.key) {
      throw new RotationError(
        `pending value of secret ${secretId} renames key "${now.key}" to "${next.key}"`,
      );
    }
    if (next.previous !== now.value) {
      throw new RotationError(
        `pending value of secret ${secretId} does not keep the current value as previous`,
      );
    }
    checkAppSecretValue(next.value, now.value, `pending value of secret ${secretId} key "${next.key}"`);
  },

  // A rotation only needs a well-formed current value; nothing else is involved.
  async testConfiguration(current, secretId) {
    parseAppSecret(current, secretId);
  },
};
