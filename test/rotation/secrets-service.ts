import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import type { RotationStep } from "../../lambdas/core/rotation/rotation-steps";

/**
 * Plays the Secrets Manager rotation service against moto, doing what AWS does where moto differs
 * (/work/shared/notes/moto.md): moto cannot invoke a rotation Lambda (it needs Docker), so the test calls the
 * handler itself with the event AWS sends, and clears AWSPENDING after finishSecret as the AWS service does.
 */
export type Handler = (event: unknown) => Promise<void>;

export class SecretsService {
  readonly client = new SecretsManagerClient({});

  /** A secret with rotation configured and `value` as its first (AWSCURRENT) version; returns its ARN. */
  async createRotatingSecret(
    name: string,
    value: string,
    tags: Record<string, string> = {},
  ): Promise<string> {
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const created = await this.client.send(
      new CreateSecretCommand({ Name: name, ...(Tags.length > 0 ? { Tags } : {}) }),
    );
    // Configured before the first value exists: moto then only records the schedule (RotationEnabled needs
    // AutomaticallyAfterDays in moto) instead of promoting an empty version.
    await this.client.send(
      new RotateSecretCommand({ SecretId: name, RotationRules: { AutomaticallyAfterDays: 30 } }),
    );
    await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    return created.ARN!;
  }

  async createPlainSecret(name: string, value: string): Promise<string> {
    const created = await this.client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return created.ARN!;
  }

  /**
   * What RotateSecret does on AWS before it invokes the function: a new version id labelled AWSPENDING, no
   * value. moto does exactly that and then fails looking the function up (it would run it in Docker); an ARN
   * of no function leaves the state AWS has when it sends createSecret. Checked, so a moto change shows.
   */
  async startRotation(secretId: string): Promise<string> {
    const token = randomUUID();
    try {
      await this.client.send(
        new RotateSecretCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:played-by-the-test",
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    const stages = await this.stages(secretId);
    if (JSON.stringify(stages[token]) !== '["AWSPENDING"]') {
      throw new Error(`harness: moto did not create the pending version (${JSON.stringify(stages)})`);
    }
    return token;
  }

  /**
   * What RotateSecret with RotateImmediately=false does on AWS (API reference, RotateSecret): a short-lived
   * AWSPENDING version, only the testSecret step, then the version is removed. The version is either a copy
   * of the current value (what moto 5 models) or holds no value; both shapes are played.
   * Returns the error the handler threw, if any.
   */
  async configurationTest(
    handler: Handler,
    secretId: string,
    shape: "copy" | "empty",
  ): Promise<{ token: string; error?: unknown }> {
    const token = await this.configurationTestVersion(secretId, shape);
    let error: unknown;
    try {
      await this.step(handler, "testSecret", secretId, token);
    } catch (caught) {
      error = caught;
    }
    await this.removePending(secretId, token);
    return { token, error };
  }

  /**
   * The AWSPENDING version of a configuration test, before testSecret is sent. moto copies the value only
   * from its own top-level copy, which PutSecretValue does not refresh, so the harness stores the copy itself.
   */
  async configurationTestVersion(secretId: string, shape: "copy" | "empty"): Promise<string> {
    const token = await this.startRotation(secretId);
    if (shape === "copy") {
      await this.client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: await this.value(secretId, "AWSCURRENT"),
          VersionStages: ["AWSPENDING"],
        }),
      );
    }
    return token;
  }

  async removePending(secretId: string, token: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: "AWSPENDING",
        RemoveFromVersionId: token,
      }),
    );
  }

  async step(handler: Handler, step: RotationStep, secretId: string, token: string): Promise<void> {
    await handler({ Step: step, SecretId: secretId, ClientRequestToken: token });
  }

  /** The four steps in order, then the service's own clean-up. */
  async runSteps(handler: Handler, secretId: string, token: string): Promise<void> {
    for (const step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) {
      await this.step(handler, step, secretId, token);
    }
    await this.clearPending(secretId, token);
  }

  async rotate(handler: Handler, secretId: string): Promise<string> {
    const token = await this.startRotation(secretId);
    await this.runSteps(handler, secretId, token);
    return token;
  }

  /** AWS removes AWSPENDING once finishSecret made the version current; moto leaves it. */
  async clearPending(secretId: string, token: string): Promise<void> {
    const stages = await this.stages(secretId);
    if (stages[token]?.includes("AWSCURRENT") && stages[token]?.includes("AWSPENDING")) {
      await this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSPENDING",
          RemoveFromVersionId: token,
        }),
      );
    }
  }

  async stages(secretId: string): Promise<Record<string, string[]>> {
    const answer = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return answer.VersionIdsToStages ?? {};
  }

  /** Versions holding `stage`: exactly one for AWSCURRENT in a healthy secret. */
  async versionsWith(secretId: string, stage: string): Promise<string[]> {
    return Object.entries(await this.stages(secretId))
      .filter(([, labels]) => labels.includes(stage))
      .map(([id]) => id);
  }

  async value(secretId: string, stage: string, versionId?: string): Promise<string> {
    const answer = await this.client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }),
    );
    return answer.SecretString!;
  }
}
