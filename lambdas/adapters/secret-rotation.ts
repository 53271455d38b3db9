import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import type { RotationReporter } from "../core/rotation/rotation-job";
import type { RotatingSecretStore, SecretDescription, VersionStage } from "../core/rotation/rotation-steps";
import { MetricUnit, type JobObservability } from "./observability";

/** The Secrets Manager calls of a rotation. Every read names its stage (and version), never the default. */
export class SecretsManagerRotationStore implements RotatingSecretStore {
  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  async describe(secretId: string): Promise<SecretDescription> {
    const answer = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return {
      name: answer.Name ?? secretId,
      rotationEnabled: answer.RotationEnabled === true,
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

/** Logs and metrics of a rotation: RotationSucceeded (1/0) and RotationStepFailed, dimension SecretName. */
export function rotationReporter({ logger, metrics }: JobObservability): RotationReporter {
  const count = (secretName: string, metric: string, value: number, step?: string): void => {
    metrics.addDimension("SecretName", secretName);
    if (step) metrics.addMetadata("step", step);
    metrics.addMetric(metric, MetricUnit.Count, value);
    metrics.publishStoredMetrics();
  };
  const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
  return {
    stepDone(secretName, step, outcome) {
      logger.info("rotation step done", { secretName, step, outcome });
    },
    stepFailed(secretName, step, error) {
      logger.error("rotation step failed", { secretName, step, error: message(error) });
      metrics.addDimension("SecretName", secretName);
      metrics.addMetadata("step", step);
      metrics.addMetric("RotationStepFailed", MetricUnit.Count, 1);
      metrics.addMetric("RotationSucceeded", MetricUnit.Count, 0);
      metrics.publishStoredMetrics();
    },
    rotationSucceeded(secretName) {
      logger.info("rotation finished: new version is AWSCURRENT", { secretName });
      count(secretName, "RotationSucceeded", 1);
    },
    restartFailed(secretName, error) {
      logger.error("application restart failed; the rotation stands", { secretName, error: message(error) });
      count(secretName, "RotationStepFailed", 1, "restart");
    },
  };
}
