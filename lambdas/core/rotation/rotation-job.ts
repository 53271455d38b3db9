import type { RestartApplication } from "./restart";
import {
  parseRotationEvent,
  runRotationStep,
  type RotatingSecretStore,
  type RotationStep,
  type RotationStrategy,
} from "./rotation-steps";

/** Where a rotation reports what happened (logs and metrics in the Lambda). Never given a secret value. */
export interface RotationReporter {
  stepDone(secretName: string, step: RotationStep, outcome: string): void;
  stepFailed(secretName: string, step: RotationStep | "event", error: unknown): void;
  rotationSucceeded(secretName: string): void;
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
 * Handles one Secrets Manager invocation. After finishSecret the application is restarted; a failed restart
 * is reported but does not fail the step: the rotation stands (the old value stays valid as AWSPREVIOUS where
 * the app accepts it, and the next deploy picks the new one up).
 */
export async function handleRotationEvent(rawEvent: unknown, job: RotationJob): Promise<void> {
  let event;
  try {
    event = parseRotationEvent(rawEvent);
  } catch (error) {
    job.reporter.stepFailed(secretNameOf(rawEvent), "event", error);
    throw error;
  }
  const secretName = secretNameFromId(event.SecretId);
  try {
    const outcome = await runRotationStep(event, job.store, await job.strategy());
    job.reporter.stepDone(secretName, event.Step, outcome);
  } catch (error) {
    job.reporter.stepFailed(secretName, event.Step, error);
    throw error;
  }
  if (event.Step !== "finishSecret") return;
  job.reporter.rotationSucceeded(secretName);
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

function secretNameOf(event: unknown): string {
  const id = (event as { SecretId?: unknown } | null)?.SecretId;
  return typeof id === "string" ? secretNameFromId(id) : "unknown";
}
