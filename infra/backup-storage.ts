import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CONTINUATIONS_PREFIX } from "../lambdas/core/archive/names";
import type { AtlasOpsConfig, BackupKind } from "./config";
import { policyDocument, type PolicyDocument } from "./iam";

export const BACKUP_KINDS: BackupKind[] = ["daily", "weekly", "monthly"];

export interface LifecycleRule {
  id: string;
  status: "Enabled";
  filter: { prefix: string };
  expiration?: { days: number } | { expiredObjectDeleteMarker: true };
  noncurrentVersionExpiration?: { noncurrentDays: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
  transitions?: { days: number; storageClass: string }[];
}

/**
 * Retention per kind prefix (`<prefix><kind>/`), expiry of replaced or deleted versions, and cleanup of
 * multipart uploads a crashed backup left behind (they are billed but invisible in listings).
 */
export function lifecycleRules(config: Pick<AtlasOpsConfig, "backupPrefix" | "retention">): LifecycleRule[] {
  const { retention, backupPrefix } = config;
  const rules: LifecycleRule[] = BACKUP_KINDS.map((kind) => {
    const cold = retention.coldStorageAfterDays > 0 && retention.coldStorageAfterDays < retention[kind];
    return {
      id: `expire-${kind}`,
      status: "Enabled",
      filter: { prefix: `${backupPrefix}${kind}/` },
      expiration: { days: retention[kind] },
      noncurrentVersionExpiration: { noncurrentDays: retention.noncurrentVersionDays },
      ...(cold
        ? {
            transitions: [{ days: retention.coldStorageAfterDays, storageClass: retention.coldStorageClass }],
          }
        : {}),
    };
  });
  // In the versioned bucket an expiry only adds a delete marker; once the versions behind it expired
  // (noncurrentVersionExpiration) the marker stays alone forever, slowing listings. S3 accepts this flag only
  // in a rule of its own (not beside `days`).
  rules.push({
    id: "remove-expired-delete-markers",
    status: "Enabled",
    filter: { prefix: backupPrefix },
    expiration: { expiredObjectDeleteMarker: true },
  });
  // A backup workflow runs for at most a day (WORKFLOW_TIMEOUT_SECONDS); S3 counts days from the next midnight
  // UTC, so two days never abort the upload of a run still going.
  rules.push({
    id: "abort-incomplete-uploads",
    status: "Enabled",
    filter: { prefix: backupPrefix },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 2 },
  });
  // The state a backup passes from one step to the next (it holds archive bytes): useless once its run ended.
  rules.push({
    id: "expire-continuations",
    status: "Enabled",
    filter: { prefix: `${backupPrefix}${CONTINUATIONS_PREFIX}` },
    expiration: { days: 3 },
    noncurrentVersionExpiration: { noncurrentDays: 1 },
  });
  return rules;
}

/**
 * Refuses plain-HTTP access and uploads that ask for another encryption or another key. Conditions test
 * headers only when present: multipart UploadPart requests never carry them, and uploads without headers
 * get the bucket's default encryption (this key).
 */
export function backupBucketPolicy(bucketArn: string, kmsKeyArn: string): PolicyDocument {
  const everyone = { AWS: "*" };
  return policyDocument(
    {
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: everyone,
      Action: ["s3:*"],
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
    {
      Sid: "DenyUploadsWithoutKms",
      Effect: "Deny",
      Principal: everyone,
      Action: ["s3:PutObject"],
      Resource: [`${bucketArn}/*`],
      // Uploads without the header get the bucket default (this key); explicit other encryption is refused.
      Condition: {
        StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
        Null: { "s3:x-amz-server-side-encryption": "false" },
      },
    },
    {
      Sid: "DenyUploadsWithOtherKeys",
      Effect: "Deny",
      Principal: everyone,
      Action: ["s3:PutObject"],
      Resource: [`${bucketArn}/*`],
      Condition: {
        StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": kmsKeyArn },
        Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
      },
    },
  );
}

/**
 * The backup bucket: customer-managed KMS key with yearly rotation, bucket keys (fewer KMS calls), versioning,
 * no public access, TLS-only and KMS-only policy, lifecycle by kind, and optional Object Lock so even an
 * account administrator cannot delete backups early (COMPLIANCE) or only with a special permission
 * (GOVERNANCE).
 */
export class BackupStorage extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  public readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: { config: AtlasOpsConfig }, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:storage:BackupStorage", name, {}, opts);
    const { config } = args;
    const parent = { parent: this };
    const lock = config.objectLock;

    // Every archive is encrypted with this key: losing it loses them all, so it is guarded like the bucket
    // (protect) and outlives the stack (retainOnDelete), and so does its alias.
    const keep = { parent: this, protect: true, retainOnDelete: true };
    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `${config.appName} backups`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
      },
      keep,
    );
    new aws.kms.Alias(
      `${name}-key`,
      { name: `alias/${config.appName}-backups`, targetKeyId: key.keyId },
      keep,
    );

    const bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      {
        bucketPrefix: `${config.appName}-backups-`,
        objectLockEnabled: lock.mode !== "none",
        forceDestroy: false,
      },
      { parent: this, protect: true },
    );

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      {
        bucket: bucket.id,
        rule: { objectOwnership: "BucketOwnerEnforced" },
      },
      parent,
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      {
        bucket: bucket.id,
        versioningConfiguration: { status: "Enabled" },
      },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        bucket: bucket.id,
        policy: pulumi.all([bucket.arn, key.arn]).apply(([b, k]) => JSON.stringify(backupBucketPolicy(b, k))),
      },
      { parent: this, dependsOn: [publicAccess] },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucket.id,
        rules: lifecycleRules(config),
      },
      { parent: this, dependsOn: [versioning] },
    );
    if (lock.mode !== "none") {
      new aws.s3.BucketObjectLockConfiguration(
        `${name}-object-lock`,
        {
          bucket: bucket.id,
          objectLockEnabled: "Enabled",
          rule: { defaultRetention: { mode: lock.mode, days: lock.days } },
        },
        { parent: this, dependsOn: [versioning] },
      );
    }

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.kmsKeyArn = key.arn;
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      kmsKeyArn: this.kmsKeyArn,
    });
  }
}
