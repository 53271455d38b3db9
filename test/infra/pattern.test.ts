// The smallest example of how infra is tested: mocks first, then one component, then its resources.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { INITIAL_VERSION_STAGE, RotatingSecret } from "../../infra/rotating-secret";
import { installMocks, isSecret, named, plain, type RecordedResource, settle } from "./mocks";

describe("RotatingSecret under Pulumi mocks", () => {
  let resources: RecordedResource[];

  beforeAll(async () => {
    resources = installMocks();
    const secret = new RotatingSecret("example", {
      secretName: "opendev/app/EXAMPLE",
      description: "example",
      rotatedBy: "lambda",
      initialValue: pulumi.output('{"EXAMPLE":"c2VjcmV0"}'),
    });
    secret.rotateWith(
      {
        functionArn: pulumi.output("arn:aws:lambda:eu-central-1:123456789012:function:rotate"),
        functionName: pulumi.output("rotate"),
      },
      30,
    );
    await settle(resources);
  });

  it("writes the initial value, marked secret, into a version that keeps a stage of its own", () => {
    const version = named(resources, "aws:secretsmanager/secretVersion:SecretVersion", "example-initial");
    expect(isSecret(version.inputs.secretString)).toBe(true);
    expect(plain(version.inputs.secretString)).toBe('{"EXAMPLE":"c2VjcmV0"}');
    expect(version.inputs.versionStages).toEqual(["AWSCURRENT", INITIAL_VERSION_STAGE]);
  });

  it("lets Secrets Manager invoke the rotation Lambda for this secret only", () => {
    const secret = named(resources, "aws:secretsmanager/secret:Secret", "example-secret");
    const permission = named(resources, "aws:lambda/permission:Permission", "example-invoke-rotation");
    expect(permission.inputs).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "secretsmanager.amazonaws.com",
      sourceArn: secret.state.arn,
      function: "rotate",
    });
    const rotation = named(resources, "aws:secretsmanager/secretRotation:SecretRotation", "example-rotation");
    expect(rotation.inputs).toMatchObject({
      secretId: secret.state.arn,
      rotationLambdaArn: "arn:aws:lambda:eu-central-1:123456789012:function:rotate",
      rotationRules: { automaticallyAfterDays: 30 },
    });
  });
});
