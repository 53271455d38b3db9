import { describe, expect, it } from "vitest";
import { UNSAFE_ACCESS_COMMENT } from "../../infra/config-rules";
import {
  atlasAccessListNotOpen,
  atlasOpenOnPurpose,
  RULES,
  bucketsArePrivate,
  bucketsEncryptedWithKms,
  bucketsHaveLifecycle,
  bucketsRequireTls,
  lambdasHaveDeadLetterQueues,
  noWildcardIamActions,
  secretsRotate,
  type StackResource,
  stateMachinesLogErrors,
} from "../../policy/rules";

const BUCKET = "aws:s3/bucket:Bucket";
const bucket: StackResource = { type: BUCKET, name: "b", props: { bucket: "b-1", id: "b-1" } };
const on = (type: string, props: Record<string, unknown>): StackResource => ({
  type,
  name: type.split(":").pop(),
  props: { bucket: "b-1", ...props },
});

describe("policy rules on crafted resources", () => {
  it("rejects a bucket with public access allowed or missing", () => {
    const partial = on("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {
      blockPublicAcls: true,
      blockPublicPolicy: false,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(bucketsArePrivate([bucket, partial])[0]?.message).toContain(
      "bucket b must block all public access",
    );
    expect(bucketsArePrivate([bucket])).toHaveLength(1);
  });

  it("rejects a bucket encrypted without KMS", () => {
    const sse = on("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", {
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    expect(bucketsEncryptedWithKms([bucket, sse])[0]?.message).toContain("SSE-KMS");
  });

  it("rejects a bucket whose policy does not deny plain HTTP", () => {
    const policy = on("aws:s3/bucketPolicy:BucketPolicy", {
      policy: JSON.stringify({ Statement: [{ Effect: "Deny", Action: "s3:PutObject", Resource: "*" }] }),
    });
    expect(bucketsRequireTls([bucket, policy])[0]?.message).toContain("aws:SecureTransport");
    expect(bucketsRequireTls([bucket])).toHaveLength(1);
  });

  it("rejects a bucket without expiring lifecycle rules", () => {
    const lifecycle = on("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", {
      rules: [
        {
          id: "x",
          status: "Disabled",
          expiration: { days: 30 },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ],
    });
    expect(bucketsHaveLifecycle([bucket, lifecycle])[0]?.message).toContain("lifecycle rules");
  });

  it("rejects a state machine that does not log at least its errors to a log group", () => {
    const machine = (loggingConfiguration?: Record<string, unknown>): StackResource => ({
      type: "aws:sfn/stateMachine:StateMachine",
      name: "m",
      props: { loggingConfiguration },
    });
    const logs = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/vendedlogs/states/m:*";
    expect(stateMachinesLogErrors([machine()]).map((v) => v.message)).toEqual([
      "state machine m must log its errors to CloudWatch Logs (level ERROR or ALL)",
    ]);
    expect(stateMachinesLogErrors([machine({ level: "OFF", logDestination: logs })])).toHaveLength(1);
    expect(stateMachinesLogErrors([machine({ level: "ERROR" })])).toHaveLength(1);
    expect(stateMachinesLogErrors([machine({ level: "ERROR", logDestination: logs })])).toEqual([]);
    expect(stateMachinesLogErrors([machine({ level: "ALL", logDestination: logs })])).toEqual([]);
  });

  it("rejects a Lambda or schedule without a dead-letter queue", () => {
    const fn: StackResource = { type: "aws:lambda/function:Function", name: "f", props: { arn: "arn:f" } };
    const schedule: StackResource = {
      type: "aws:scheduler/schedule:Schedule",
      name: "s",
      props: { target: { arn: "arn:f" } },
    };
    expect(lambdasHaveDeadLetterQueues([fn, schedule]).map((v) => v.message)).toEqual([
      "Lambda f has no dead-letter queue",
      "schedule s has no dead-letter queue",
    ]);
    const rotation: StackResource = {
      type: "aws:secretsmanager/secretRotation:SecretRotation",
      props: { rotationLambdaArn: "arn:f", secretId: "arn:s" },
    };
    expect(lambdasHaveDeadLetterQueues([fn, rotation])).toEqual([]);
  });

  it("rejects wildcard actions and unscoped resources", () => {
    const policy = (statement: object): StackResource => ({
      type: "aws:iam/rolePolicy:RolePolicy",
      name: "p",
      props: { policy: JSON.stringify({ Version: "2012-10-17", Statement: [statement] }) },
    });
    expect(
      noWildcardIamActions([policy({ Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::b/*" })])[0]
        ?.message,
    ).toBe("IAM policy p allows the wildcard action s3:*");
    expect(
      noWildcardIamActions([policy({ Effect: "Allow", Action: ["s3:GetObject"], Resource: "*" })])[0]
        ?.message,
    ).toBe('IAM policy p allows s3:GetObject on every resource ("*")');
    expect(
      noWildcardIamActions([
        policy({ Effect: "Allow", Action: ["cloudwatch:GetMetricData"], Resource: "*" }),
      ]),
    ).toEqual([]);
    expect(noWildcardIamActions([policy({ Effect: "Deny", Action: ["s3:*"], Resource: "*" })])).toEqual([]);
  });

  it("rejects an Atlas access list open to the world", () => {
    const entry = (props: object): StackResource => ({
      type: "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList",
      name: "a",
      props: { projectId: "p", ...props },
    });
    expect(atlasAccessListNotOpen([entry({ cidrBlock: "0.0.0.0/0" })])).toHaveLength(1);
    expect(atlasAccessListNotOpen([entry({ ipAddress: "0.0.0.0" })])).toHaveLength(1);
    expect(atlasAccessListNotOpen([entry({ ipAddress: "203.0.113.10" })])).toEqual([]);
  });

  it("lets the explicitly requested public-unsafe entry through with a warning, and only that one", () => {
    const entry = (props: object): StackResource => ({
      type: "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList",
      name: "a",
      props: { projectId: "p", ...props },
    });
    const flagged = entry({ cidrBlock: "0.0.0.0/0", comment: UNSAFE_ACCESS_COMMENT });
    expect(atlasAccessListNotOpen([flagged])).toEqual([]);
    expect(atlasOpenOnPurpose([flagged])[0]?.message).toContain("as networkMode public-unsafe asks");
    expect(atlasAccessListNotOpen([entry({ cidrBlock: "0.0.0.0/0", comment: "temporary" })])).toHaveLength(1);
    expect(
      atlasOpenOnPurpose([entry({ cidrBlock: "198.51.100.0/24", comment: UNSAFE_ACCESS_COMMENT })]),
    ).toEqual([]);
    expect(RULES.find((r) => r.name === "atlas-open-on-purpose")?.enforcementLevel).toBe("advisory");
    expect(RULES.find((r) => r.name === "atlas-not-open")?.enforcementLevel).toBeUndefined();
  });

  it("rejects a secret without rotation unless the stack owns it", () => {
    const secret = (tags?: object): StackResource => ({
      type: "aws:secretsmanager/secret:Secret",
      name: "s",
      props: { arn: "arn:s", id: "arn:s", tags },
    });
    expect(secretsRotate([secret()])[0]?.message).toBe("secret s has no rotation");
    expect(secretsRotate([secret({ "atlas-ops:rotated-by": "lambda" })])).toHaveLength(1);
    expect(secretsRotate([secret({ "atlas-ops:rotated-by": "pulumi" })])).toEqual([]);
  });
});
