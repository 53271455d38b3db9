import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../infra/iam";
import { bundleLambda, LAMBDA_NAMES, type LambdaName } from "../../lambdas/bundle";
import { named, type RecordedResource } from "./mocks";
import { runStack } from "./stack-run";

/**
 * The AWS calls each deployed bundle can make, read from the bundle itself (the SDK's command classes carry
 * their operation name), checked against the IAM policy the stack gives that Lambda's role. moto allows every
 * call, so a missing permission would otherwise only show on a real account.
 */

/** The IAM action each SDK operation needs; an operation missing here fails the test until it is added. */
const ACTION_OF_OPERATION: Record<string, string> = {
  GetObject: "s3:GetObject",
  ListObjectsV2: "s3:ListBucket",
  PutObject: "s3:PutObject",
  CreateMultipartUpload: "s3:PutObject",
  UploadPart: "s3:PutObject",
  CompleteMultipartUpload: "s3:PutObject",
  AbortMultipartUpload: "s3:AbortMultipartUpload",
  PutObjectTagging: "s3:PutObjectTagging",
  DeleteObject: "s3:DeleteObject",
  GetSecretValue: "secretsmanager:GetSecretValue",
  DescribeSecret: "secretsmanager:DescribeSecret",
  PutSecretValue: "secretsmanager:PutSecretValue",
  UpdateSecretVersionStage: "secretsmanager:UpdateSecretVersionStage",
  GetRandomPassword: "secretsmanager:GetRandomPassword",
  GetMetricData: "cloudwatch:GetMetricData",
  ListMetrics: "cloudwatch:ListMetrics",
  Publish: "sns:Publish",
  UpdateService: "ecs:UpdateService",
  LookupEvents: "cloudtrail:LookupEvents",
};

/** The SDK's own credential providers (SSO, STS web identity, S3 Express sessions): never run in Lambda. */
const CREDENTIAL_OPERATIONS = new Set([
  "AssumeRole",
  "AssumeRoleWithWebIdentity",
  "CreateOAuth2Token",
  "CreateOAuth2TokenWithIAM",
  "CreateToken",
  "GetRoleCredentials",
  "CreateSession",
]);

/** Calls a bundle contains but that job never makes (or makes best-effort, refused on purpose). */
const UNUSED: Partial<Record<LambdaName, { actions: string[]; why: string }>> = {
  backup: {
    actions: ["s3:DeleteObject"],
    why: "cleanup of a failed upload is best-effort; the role is denied deletes so history stays",
  },
  "verify-backup": {
    actions: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:DeleteObject"],
    why: "the S3 target's writing half: verification only reads",
  },
  "restore-test": {
    actions: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:DeleteObject"],
    why: "the S3 target's writing half: the restore test only reads",
  },
  "daily-report": {
    actions: ["secretsmanager:GetSecretValue"],
    why: "reads the Sentry token only when the Sentry digest is configured (granted then; not in this stack)",
  },
  "performance-review": {
    actions: ["cloudwatch:ListMetrics"],
    why: "the metrics reader's dimension listing: the monthly trends read fixed dimensions only",
  },
};

/** Operation names of the SDK command classes in a minified bundle: `class extends x(a,b,"GetObject",s){}`. */
function operationsIn(bundle: string): string[] {
  const found = new Set<string>();
  for (const match of bundle.matchAll(/class extends [\w$]+\([\w$]+,[\w$]+,"([A-Za-z0-9]+)"/g)) {
    found.add(match[1]!);
  }
  return [...found].sort();
}

function allowedBy(doc: PolicyDocument, action: string): boolean {
  const denied = doc.Statement.some((s) => s.Effect === "Deny" && s.Action.includes(action));
  return !denied && doc.Statement.some((s) => s.Effect === "Allow" && s.Action.includes(action));
}

let outDir: string;
const operations = new Map<LambdaName, string[]>();
let resources: RecordedResource[];

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "sdk-permissions-"));
  for (const name of LAMBDA_NAMES) {
    const bundle = await bundleLambda(name, outDir);
    operations.set(name, operationsIn(readFileSync(bundle.file, "utf8")));
  }
  // ECS restarts, so the rotation roles get UpdateService as deployed with restartMode "ecs".
  resources = (
    await runStack({ restartMode: "ecs", restartEcsCluster: "shop", restartEcsServices: '["web"]' })
  ).resources;
}, 120_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe("IAM against the calls each Lambda bundle makes", () => {
  it("finds the SDK operations in the bundles", () => {
    expect(operations.get("backup")).toEqual(expect.arrayContaining(["CreateMultipartUpload", "GetObject"]));
    expect(operations.get("daily-report")).toEqual(expect.arrayContaining(["GetMetricData", "Publish"]));
    expect(operations.get("health-check")).toEqual([]);
  });

  it.each(LAMBDA_NAMES)("grants %s every AWS call it makes", (job) => {
    const policy = named(resources, "aws:iam/rolePolicy:RolePolicy", `${job}-policy`);
    const doc = JSON.parse(policy.inputs.policy as string) as PolicyDocument;
    const unused = new Set(UNUSED[job]?.actions ?? []);
    const needed = (operations.get(job) ?? []).filter((op) => !CREDENTIAL_OPERATIONS.has(op));
    const unknown = needed.filter((op) => !ACTION_OF_OPERATION[op]);
    expect(unknown, `add the IAM action of these operations to ACTION_OF_OPERATION`).toEqual([]);
    const missing = needed
      .map((op) => `${op} -> ${ACTION_OF_OPERATION[op]}`)
      .filter((entry) => {
        const action = entry.split(" -> ")[1]!;
        return !unused.has(action) && !allowedBy(doc, action);
      });
    expect(missing, `${job} role`).toEqual([]);
  });

  it("denies the backup job deletes even though its bundle could issue one", () => {
    const policy = named(resources, "aws:iam/rolePolicy:RolePolicy", "backup-policy");
    const doc = JSON.parse(policy.inputs.policy as string) as PolicyDocument;
    expect(allowedBy(doc, "s3:DeleteObject")).toBe(false);
    expect(allowedBy(doc, "s3:GetObject")).toBe(true);
  });
});
