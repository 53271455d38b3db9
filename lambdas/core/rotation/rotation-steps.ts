/**
 * The Secrets Manager rotation contract, one function per step. Secrets Manager invokes the rotation function
 * four times per rotation with the same ClientRequestToken (the id of the new version, already labelled
 * AWSPENDING by the service) and retries a failed step, so every step checks the version stages first and is
 * safe to run again.
 */

export const ROTATION_STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export interface RotationEvent {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
  /** Sent by Secrets Manager for rotation functions in another account; not needed here. */
  RotationToken?: string;
}

export type VersionStage = "AWSCURRENT" | "AWSPENDING" | "AWSPREVIOUS";

export interface SecretDescription {
  name: string;
  rotationEnabled: boolean;
  /** Whether the application must restart once this secret rotated (its `atlas-ops:restart` tag). */
  restart: SecretRestart;
  /** Version id -> staging labels, as DescribeSecret's VersionIdsToStages. */
  stagesByVersion: Record<string, string[]>;
}

export type SecretRestart = "app" | "none";
export const RESTART_TAG = "atlas-ops:restart";

/**
 * Reads the secret's `atlas-ops:restart` tag: "app" (the application reads this secret and restarts as the
 * function's RESTART_MODE says) or "none" (only jobs read it, each time they run). Untagged means "app": a
 * needless restart costs a rolling deploy, a missed one leaves the app on a password that no longer works.
 */
export function secretRestartFromTags(tags: Record<string, string>, secretId: string): SecretRestart {
  const value = tags[RESTART_TAG];
  if (value === undefined || value === "app" || value === "none") return value ?? "app";
  throw new RotationError(
    `secret ${secretId} has tag ${RESTART_TAG}=${JSON.stringify(value)}; expected "app" or "none"`,
  );
}

/** What the steps need from Secrets Manager. Reads always name the stage (and the version when known). */
export interface RotatingSecretStore {
  describe(secretId: string): Promise<SecretDescription>;
  /** The value of the version holding `stage` (and being `versionId` when given); throws when absent. */
  getValue(secretId: string, stage: VersionStage, versionId?: string): Promise<string>;
  /** The pending value stored under `versionId`, or undefined while the version has no value yet. */
  findPendingValue(secretId: string, versionId: string): Promise<string | undefined>;
  /** Stores the value of version `versionId` with the AWSPENDING label. */
  putPendingValue(secretId: string, versionId: string, value: string): Promise<void>;
  /** Moves AWSCURRENT from `fromVersionId` to `toVersionId` (the old one becomes AWSPREVIOUS). */
  moveCurrent(secretId: string, toVersionId: string, fromVersionId: string): Promise<void>;
}

/** The part that differs per kind of secret: how a new value is made, applied and checked. */
export interface RotationStrategy {
  /** Builds the pending value from the current one; must not touch the service that uses the secret. */
  createPending(current: string, secretId: string): Promise<string>;
  /** Makes the service accept the pending value (set a password...); skips when it already does. */
  setPending(pending: string, current: string, secretId: string): Promise<void>;
  /** Proves the pending value works before it becomes current. */
  testPending(pending: string, current: string, secretId: string): Promise<void>;
  /**
   * Secrets Manager's test of a new rotation configuration (see `isConfigurationTest`): proves the function
   * could rotate this secret (its current value is well-formed, the service behind it answers) without
   * changing anything.
   */
  testConfiguration(current: string, secretId: string): Promise<void>;
}

/**
 * What a step did: "done"; "already-current" when the token's version is AWSCURRENT already;
 * "configuration-tested" when testSecret was Secrets Manager's test of a new rotation configuration.
 */
export type StepOutcome = "done" | "already-current" | "configuration-tested";

/** A rotation request that cannot proceed; the message names the secret and the version, never a value. */
export class RotationError extends Error {
  override name = "RotationError";
}

export function parseRotationEvent(event: unknown): RotationEvent {
  const record = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const { Step, SecretId, ClientRequestToken } = record;
  if (typeof SecretId !== "string" || SecretId === "") {
    throw new RotationError("rotation event lacks SecretId");
  }
  if (typeof ClientRequestToken !== "string" || ClientRequestToken === "") {
    throw new RotationError(`rotation event for secret ${SecretId} lacks ClientRequestToken`);
  }
  if (!ROTATION_STEPS.includes(Step as RotationStep)) {
    throw new RotationError(
      `rotation event for secret ${SecretId} has unknown Step ${JSON.stringify(Step)} (expected ${ROTATION_STEPS.join(", ")})`,
    );
  }
  return { Step: Step as RotationStep, SecretId, ClientRequestToken };
}

/**
 * Runs one step after checking that rotation is enabled and the token is the secret's pending version; returns
 * what it did and the secret's description as read before the step.
 */
export async function runRotationStep(
  event: RotationEvent,
  store: RotatingSecretStore,
  strategy: RotationStrategy,
): Promise<{ outcome: StepOutcome; description: SecretDescription }> {
  const { SecretId: secretId, ClientRequestToken: token } = event;
  const description = await store.describe(secretId);
  if (!description.rotationEnabled) {
    throw new RotationError(`secret ${secretId} does not have rotation enabled`);
  }
  const stages = description.stagesByVersion[token];
  if (!stages) {
    throw new RotationError(`version ${token} is not a version of secret ${secretId}`);
  }
  if (stages.includes("AWSCURRENT")) return { outcome: "already-current", description };
  if (!stages.includes("AWSPENDING")) {
    throw new RotationError(`version ${token} of secret ${secretId} is not labelled AWSPENDING`);
  }
  switch (event.Step) {
    case "createSecret":
      await createSecret(secretId, token, store, strategy);
      break;
    case "setSecret":
      await setSecret(secretId, token, store, strategy);
      break;
    case "testSecret":
      if (await testSecret(secretId, token, store, strategy)) {
        return { outcome: "configuration-tested", description };
      }
      break;
    case "finishSecret":
      await finishSecret(secretId, token, description, store);
      break;
  }
  return { outcome: "done", description };
}

/**
 * RotateSecret with RotateImmediately=false (how the stack turns rotation on) makes Secrets Manager test the
 * configuration: it creates a short-lived AWSPENDING version, invokes only testSecret, then removes the
 * version. No createSecret ran for it, so the version holds no value of ours: none at all, or a copy of the
 * current value. A real rotation's testSecret always follows a createSecret that stored a fresh value, and
 * finishSecret refuses to promote such a version (see `checkPromotable`), so recognising the test weakens no
 * check of a real rotation.
 */
export function isConfigurationTest(pending: string | undefined, current: string): boolean {
  return pending === undefined || pending === current;
}

/** Stores a new pending value, unless an earlier try already did (it is reused, never overwritten). */
async function createSecret(
  secretId: string,
  token: string,
  store: RotatingSecretStore,
  strategy: RotationStrategy,
): Promise<void> {
  const current = await store.getValue(secretId, "AWSCURRENT");
  if ((await store.findPendingValue(secretId, token)) !== undefined) return;
  const pending = await strategy.createPending(current, secretId);
  await store.putPendingValue(secretId, token, pending);
}

async function setSecret(
  secretId: string,
  token: string,
  store: RotatingSecretStore,
  strategy: RotationStrategy,
): Promise<void> {
  const pending = await store.getValue(secretId, "AWSPENDING", token);
  const current = await store.getValue(secretId, "AWSCURRENT");
  await strategy.setPending(pending, current, secretId);
}

/** Returns true when this was Secrets Manager's configuration test (and it passed). */
async function testSecret(
  secretId: string,
  token: string,
  store: RotatingSecretStore,
  strategy: RotationStrategy,
): Promise<boolean> {
  const pending = await store.findPendingValue(secretId, token);
  const current = await store.getValue(secretId, "AWSCURRENT");
  if (isConfigurationTest(pending, current)) {
    await strategy.testConfiguration(current, secretId);
    return true;
  }
  await strategy.testPending(pending as string, current, secretId);
  return false;
}

/** Only a version that createSecret filled with a new value may become current. */
async function checkPromotable(secretId: string, token: string, store: RotatingSecretStore): Promise<void> {
  const pending = await store.findPendingValue(secretId, token);
  const current = await store.getValue(secretId, "AWSCURRENT");
  if (pending === undefined) {
    throw new RotationError(
      `version ${token} of secret ${secretId} has no value: createSecret never ran for it`,
    );
  }
  if (pending === current) {
    throw new RotationError(`version ${token} of secret ${secretId} holds the current value, not a new one`);
  }
}

async function finishSecret(
  secretId: string,
  token: string,
  description: SecretDescription,
  store: RotatingSecretStore,
): Promise<void> {
  await checkPromotable(secretId, token, store);
  const currentVersion = Object.entries(description.stagesByVersion).find(([, labels]) =>
    labels.includes("AWSCURRENT"),
  )?.[0];
  if (!currentVersion) throw new RotationError(`secret ${secretId} has no AWSCURRENT version`);
  await store.moveCurrent(secretId, token, currentVersion);
}
