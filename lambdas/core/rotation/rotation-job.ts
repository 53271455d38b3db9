import type { RestartApplication } from "./restart";
import {
  parseRotationEvent,
  runRotationStep,
  type RotatingSecretStore,
  type RotationStep,
  type RotationStrategy,
} from "./rotation-steps";

/**
 * Where a rotation reports what happened (logs and metrics in the Lambda). Never given a secret value.
 * Failures are reported by the caller, which also sees the ones that happen before a step runs (bad
 * configuration, malformed event): see `rotationFailure`.
 */
export interface RotationReporter {
  stepDone(secretName: string, step: RotationStep, outcome: string): void;
  rotationSucceeded(secretName: string): void;
  restartSkipped(secretName: string): void;
  restartFailed(secretName: string, error: unknown): void;
}

export interface RotationJob {
  store: RotatingSecretStore;
  /** Built per invocation: the database strategy reads its admin secret when it runs. */
  strategy(): Promise<RotationStrategy>;
  restart: RestartApplication;
  reporter: RotationReporter;
}

/**
 * Handles one Secrets Manager invocation; a failed step throws. After finishSecret the application is
 * restarted when the secret says the application uses it; a failed restart is reported but does not fail the
 * step: the rotation stands (the old value stays valid as AWSPREVIOUS where the app accepts it, and the next
 * deploy picks the new one up).
 */
export async function handleRotationEvent(rawEvent: unknown, job: RotationJob): Promise<void> {
  const event = parseRotationEvent(rawEvent);
  const secretName = secretNameFromId(event.SecretId);
  const { outcome, description } = await runRotationStep(event, job.store, await job.strategy());
  job.reporter.stepDone(secretName, event.Step, outcome);
  if (event.Step !== "finishSecret") return;
  job.reporter.rotationSucceeded(secretName);
  if (description.restart === "none") {
    job.reporter.restartSkipped(secretName);
    return;
  }
  try {
    await job.restart({ secretName, versionId: event.ClientRequestToken });
  } catch (error) {
    job.reporter.restartFailed(secretName, error);
  }
}

/** Secrets Manager passes the ARN; metrics and logs use the name (the ARN minus its random 6-char suffix). */
export function secretNameFromId(secretId: string): string {
  const match = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId);
  return match ? match[1]! : secretId;
}

/** The secret and step a failed invocation was about, read from the raw event (it may be malformed). */
export function rotationFailure(rawEvent: unknown): { secretName: string; step: string } {
  const record = (typeof rawEvent === "object" && rawEvent !== null ? rawEvent : {}) as Record<
    string,
    unknown
  >;
  return {
    secretName: typeof record.SecretId === "string" ? secretNameFromId(record.SecretId) : "unknown",
    step: typeof record.Step === "string" ? record.Step : "event",
  };
}
