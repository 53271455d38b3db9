import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import type { JobMetricName } from "../core/metrics-catalog";
import { rotationFailure, type RotationReporter } from "../core/rotation/rotation-job";
import {
  secretRestartFromTags,
  type RotatingSecretStore,
  type SecretDescription,
  type VersionStage,
} from "../core/rotation/rotation-steps";
import { emitWithDimensions, type Figure } from "./dimensioned-metrics";
import { MetricUnit, type JobObservability } from "./observability";

/** The Secrets Manager calls of a rotation. Every read names its stage (and version), never the default. */
export class SecretsManagerRotationStore implements RotatingSecretStore {
  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  async describe(secretId: string): Promise<SecretDescription> {
    const answer = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return {
      name: answer.Name ?? secretId,
      rotationEnabled: answer.RotationEnabled === true,
      restart: secretRestartFromTags(
        Object.fromEntries((answer.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
        secretId,
      ),
      stagesByVersion: answer.VersionIdsToStages ?? {},
    };
  }

  async getValue(secretId: string, stage: VersionStage, versionId?: string): Promise<string> {
    const where = `${stage}${versionId ? ` version ${versionId}` : ""} of secret ${secretId}`;
    let value: string | undefined;
    try {
      const answer = await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }),
      );
      value = answer.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) throw new Error(`${where} has no value`);
      throw error;
    }
    if (value === undefined) throw new Error(`${where} has no SecretString`);
    return value;
  }

  async findPendingValue(secretId: string, versionId: string): Promise<string | undefined> {
    try {
      const answer = await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: "AWSPENDING" }),
      );
      return answer.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async putPendingValue(secretId: string, versionId: string, value: string): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: versionId,
        SecretString: value,
        VersionStages: ["AWSPENDING"],
      }),
    );
  }

  async moveCurrent(secretId: string, toVersionId: string, fromVersionId: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: "AWSCURRENT",
        MoveToVersionId: toVersionId,
        RemoveFromVersionId: fromVersionId,
      }),
    );
  }

  /** A random password without the characters in `excludeCharacters`. */
  async randomPassword(length: number, excludeCharacters: string): Promise<string> {
    const answer = await this.client.send(
      new GetRandomPasswordCommand({
        PasswordLength: length,
        ExcludeCharacters: excludeCharacters,
        RequireEachIncludedType: true,
      }),
    );
    if (!answer.RandomPassword) throw new Error("GetRandomPassword returned no password");
    return answer.RandomPassword;
  }

  /** The current value of another secret (admin credentials, webhook key); the error names the variable. */
  async readCurrent(secretId: string, variable: string): Promise<string> {
    try {
      return await this.getValue(secretId, "AWSCURRENT");
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot read secret ${secretId} named by ${variable}: ${why}`);
    }
  }
}

/** RotationSucceeded and RotationStepFailed, per secret and once per function (see metrics-catalog.ts). */
function recordRotation(metrics: JobObservability["metrics"], secretName: string, figures: Figure[]): void {
  // The aggregate goes with the job's stored metrics, published when the invocation ends.
  for (const [name, unit, value] of figures) metrics.addMetric(name, unit, value);
  emitWithDimensions(metrics, { SecretName: secretName }, figures);
}

type RotationMetric = JobMetricName<"rotate-app-secret">;
const figure = (name: RotationMetric, value: number): Figure => [name, MetricUnit.Count, value];

/** Logs and metrics of a rotation that ran its step (failures: `reportRotationFailure`). */
export function rotationReporter({ logger, metrics }: JobObservability): RotationReporter {
  return {
    stepDone(secretName, step, outcome) {
      logger.info("rotation step done", { secretName, step, outcome });
    },
    rotationSucceeded(secretName) {
      logger.info("rotation finished: new version is AWSCURRENT", { secretName });
      recordRotation(metrics, secretName, [figure("RotationSucceeded", 1)]);
    },
    restartSkipped(secretName) {
      logger.info("no application restart: the secret is tagged atlas-ops:restart=none", { secretName });
    },
    restartFailed(secretName, error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.error("application restart failed; the rotation stands", { secretName, error: message });
      recordRotation(metrics, secretName, [figure("RotationStepFailed", 1)]);
    },
  };
}

/**
 * Records a failed invocation (a step, a malformed event or a bad configuration) as RotationStepFailed=1 and
 * RotationSucceeded=0 for the secret named in the event; the job handler logs the error and rethrows it.
 */
export function reportRotationFailure(event: unknown, _error: Error, { metrics }: JobObservability): void {
  const { secretName, step } = rotationFailure(event);
  metrics.addMetadata("step", step);
  recordRotation(metrics, secretName, [figure("RotationStepFailed", 1), figure("RotationSucceeded", 0)]);
}
