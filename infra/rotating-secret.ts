import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { RESTART_TAG, type SecretRestart } from "../lambdas/core/rotation/rotation-steps";

/** Stays on the first version forever, so Secrets Manager never deletes it and a refresh finds it again. */
export const INITIAL_VERSION_STAGE = "ATLASOPS_INITIAL";

export interface RotatingSecretArgs {
  secretName: string;
  description: string;
  /** The first value (JSON), straight from @pulumi/random or the provider; never in config or plain outputs. */
  initialValue: pulumi.Input<string>;
  /**
   * "lambda": a rotation Lambda owns the value after creation (ignoreChanges, so `pulumi up` never undoes a
   * rotation). "pulumi": the stack owns the value and rotates it by replacing its source (Atlas admin secret).
   */
  rotatedBy: "lambda" | "pulumi";
  /**
   * For secrets a Lambda rotates: "app" when the application reads the secret, so rotating it restarts the
   * app (RESTART_MODE); "none" when only the jobs read it (they read it on every run). Tag atlas-ops:restart.
   */
  restart?: SecretRestart;
}

/**
 * A Secrets Manager secret whose initial value goes from the generator straight into a secret version. Call
 * `rotateWith` once its rotation Lambda exists (the Lambda's IAM policy names this secret's ARN first).
 */
export class RotatingSecret extends pulumi.ComponentResource {
  public readonly secretArn: pulumi.Output<string>;
  public readonly secretName: pulumi.Output<string>;
  private readonly secret: aws.secretsmanager.Secret;
  private readonly initialVersion: aws.secretsmanager.SecretVersion;
  private readonly resourceName: string;

  constructor(name: string, args: RotatingSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:secrets:RotatingSecret", name, {}, opts);
    this.resourceName = name;
    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: args.description,
        recoveryWindowInDays: 7,
        tags: {
          "atlas-ops:rotated-by": args.rotatedBy,
          ...(args.restart ? { [RESTART_TAG]: args.restart } : {}),
        },
      },
      { parent: this },
    );
    this.initialVersion = new aws.secretsmanager.SecretVersion(
      `${name}-initial`,
      {
        secretId: this.secret.id,
        secretString: pulumi.secret(args.initialValue),
        versionStages: args.rotatedBy === "lambda" ? ["AWSCURRENT", INITIAL_VERSION_STAGE] : ["AWSCURRENT"],
      },
      {
        parent: this,
        ignoreChanges: args.rotatedBy === "lambda" ? ["secretString", "versionStages"] : [],
      },
    );
    this.secretArn = this.secret.arn;
    this.secretName = this.secret.name;
    this.registerOutputs({ secretArn: this.secretArn, secretName: this.secretName });
  }

  /**
   * Lets Secrets Manager invoke the rotation Lambda for this secret only (sourceArn) and turns on rotation
   * every `days` days. Turning it on makes Secrets Manager run the Lambda's testSecret once (rotateImmediately
   * false), so `needs` names what that test uses (the database users, the Atlas admin secret and its access).
   */
  rotateWith(
    rotationFunction: { functionArn: pulumi.Output<string>; functionName: pulumi.Output<string> },
    days: number,
    needs: pulumi.Resource[] = [],
  ) {
    const permission = new aws.lambda.Permission(
      `${this.resourceName}-invoke-rotation`,
      {
        action: "lambda:InvokeFunction",
        function: rotationFunction.functionName,
        principal: "secretsmanager.amazonaws.com",
        sourceArn: this.secret.arn,
      },
      { parent: this },
    );
    return new aws.secretsmanager.SecretRotation(
      `${this.resourceName}-rotation`,
      {
        secretId: this.secret.id,
        rotationLambdaArn: rotationFunction.functionArn,
        rotationRules: { automaticallyAfterDays: days },
        rotateImmediately: false,
      },
      { parent: this, dependsOn: [permission, this.initialVersion, ...needs] },
    );
  }
}
