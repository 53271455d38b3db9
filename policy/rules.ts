/**
 * The policy pack's rules as plain functions over the stack's resources (type + output properties, as
 * `@pulumi/policy` hands them to a stack validation). Each returns its violations; `index.ts` reports them.
 */
import { UNSAFE_ACCESS_COMMENT } from "../infra/config-rules";
import { ACTIONS_WITHOUT_RESOURCE_LEVEL } from "../infra/iam";

export interface StackResource {
  type: string;
  urn?: string;
  name?: string;
  props: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Violation {
  message: string;
  urn?: string;
}

export type StackRule = (resources: StackResource[]) => Violation[];

const T = {
  bucket: "aws:s3/bucket:Bucket",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  function: "aws:lambda/function:Function",
  schedule: "aws:scheduler/schedule:Schedule",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  iamPolicy: "aws:iam/policy:Policy",
  accessList: "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList",
  secret: "aws:secretsmanager/secret:Secret",
  rotation: "aws:secretsmanager/secretRotation:SecretRotation",
  stateMachine: "aws:sfn/stateMachine:StateMachine",
};

const label = (r: StackResource) => r.name ?? r.urn ?? r.type;
const ofType = (resources: StackResource[], type: string) => resources.filter((r) => r.type === type);
const asArray = <V>(value: V | V[] | undefined): V[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The resources attached to a bucket (by its name, which is also its id). */
function attachedTo(resources: StackResource[], type: string, bucket: StackResource): StackResource[] {
  const names = [bucket.props.bucket, bucket.props.id].filter(Boolean);
  return ofType(resources, type).filter((r) => names.includes(r.props.bucket));
}

function parsePolicy(policy: unknown): { Statement?: unknown } | undefined {
  if (typeof policy === "object" && policy !== null) return policy as { Statement?: unknown };
  if (typeof policy !== "string") return undefined;
  try {
    return JSON.parse(policy) as { Statement?: unknown };
  } catch {
    return undefined;
  }
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const statementsOf = (policy: unknown): Statement[] => asArray(parsePolicy(policy)?.Statement as Statement[]);

export const bucketsArePrivate: StackRule = (resources) =>
  ofType(resources, T.bucket).flatMap((bucket) => {
    const blocks = attachedTo(resources, T.publicAccessBlock, bucket);
    const complete = blocks.some((b) =>
      ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].every(
        (k) => b.props[k] === true,
      ),
    );
    const publicAcl = /^public-|authenticated-read/.test(String(bucket.props.acl ?? ""));
    return complete && !publicAcl
      ? []
      : [
          {
            message: `bucket ${label(bucket)} must block all public access (all four settings) and use no public ACL`,
            urn: bucket.urn,
          },
        ];
  });

export const bucketsEncryptedWithKms: StackRule = (resources) =>
  ofType(resources, T.bucket).flatMap((bucket) => {
    const rules = attachedTo(resources, T.encryption, bucket).flatMap((c) => asArray(c.props.rules));
    const kms = rules.some(
      (r) =>
        r?.applyServerSideEncryptionByDefault?.sseAlgorithm === "aws:kms" &&
        Boolean(r.applyServerSideEncryptionByDefault.kmsMasterKeyId),
    );
    return kms
      ? []
      : [
          {
            message: `bucket ${label(bucket)} must default to SSE-KMS with a customer-managed key`,
            urn: bucket.urn,
          },
        ];
  });

export const bucketsRequireTls: StackRule = (resources) =>
  ofType(resources, T.bucket).flatMap((bucket) => {
    const denies = attachedTo(resources, T.bucketPolicy, bucket).flatMap((p) => statementsOf(p.props.policy));
    const tlsOnly = denies.some(
      (s) =>
        s.Effect === "Deny" &&
        asArray(s.Action).some((a) => a === "s3:*") &&
        String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false",
    );
    return tlsOnly
      ? []
      : [
          {
            message: `bucket ${label(bucket)} needs a policy denying s3:* without TLS (aws:SecureTransport)`,
            urn: bucket.urn,
          },
        ];
  });

export const bucketsHaveLifecycle: StackRule = (resources) =>
  ofType(resources, T.bucket).flatMap((bucket) => {
    const rules = attachedTo(resources, T.lifecycle, bucket)
      .flatMap((l) => asArray(l.props.rules))
      .filter((r) => r?.status === "Enabled");
    const expires = rules.some((r) => r.expiration?.days || r.noncurrentVersionExpiration?.noncurrentDays);
    const aborts = rules.some((r) => r.abortIncompleteMultipartUpload?.daysAfterInitiation);
    return expires && aborts
      ? []
      : [
          {
            message: `bucket ${label(bucket)} needs lifecycle rules that expire objects and abort incomplete uploads`,
            urn: bucket.urn,
          },
        ];
  });

/**
 * Every Lambda must leave a trace when an asynchronous run fails: its own dead-letter queue, or being a
 * rotation Lambda (Secrets Manager invokes synchronously and keeps the failed rotation visible). Every
 * schedule must have a dead-letter queue too.
 */
export const lambdasHaveDeadLetterQueues: StackRule = (resources) => {
  const rotationArns = new Set(ofType(resources, T.rotation).map((r) => r.props.rotationLambdaArn));
  const functions = ofType(resources, T.function).flatMap((fn) =>
    fn.props.deadLetterConfig?.targetArn || rotationArns.has(fn.props.arn)
      ? []
      : [{ message: `Lambda ${label(fn)} has no dead-letter queue`, urn: fn.urn }],
  );
  const schedules = ofType(resources, T.schedule).flatMap((s) =>
    s.props.target?.deadLetterConfig?.arn
      ? []
      : [{ message: `schedule ${label(s)} has no dead-letter queue`, urn: s.urn }],
  );
  return [...functions, ...schedules];
};

export const noWildcardIamActions: StackRule = (resources) =>
  [...ofType(resources, T.rolePolicy), ...ofType(resources, T.iamPolicy)].flatMap((policy) =>
    statementsOf(policy.props.policy)
      .filter((s) => s.Effect === "Allow")
      .flatMap((s) => {
        const actions = asArray(s.Action);
        const wildcards = actions.filter((a) => a.includes("*"));
        const anyResource = asArray(s.Resource).includes("*");
        const unscoped = anyResource
          ? actions.filter((a) => !ACTIONS_WITHOUT_RESOURCE_LEVEL.includes(a))
          : [];
        return [
          ...wildcards.map((a) => ({
            message: `IAM policy ${label(policy)} allows the wildcard action ${a}`,
            urn: policy.urn,
          })),
          ...unscoped.map((a) => ({
            message: `IAM policy ${label(policy)} allows ${a} on every resource ("*")`,
            urn: policy.urn,
          })),
        ];
      }),
  );

const opensAtlas = (entry: StackResource) =>
  entry.props.cidrBlock === "0.0.0.0/0" || entry.props.ipAddress === "0.0.0.0";
/** The entry `networkMode: public-unsafe` with `unsafeAllowAtlasAccessFromAnywhere` creates, and only that. */
const openOnPurpose = (entry: StackResource) => entry.props.comment === UNSAFE_ACCESS_COMMENT;

export const atlasAccessListNotOpen: StackRule = (resources) =>
  ofType(resources, T.accessList)
    .filter((entry) => opensAtlas(entry) && !openOnPurpose(entry))
    .map((entry) => ({
      message: `Atlas access list entry ${label(entry)} opens the database to the whole internet`,
      urn: entry.urn,
    }));

/** Advisory: the open entry the configuration asked for explicitly is allowed, and said out loud. */
export const atlasOpenOnPurpose: StackRule = (resources) =>
  ofType(resources, T.accessList)
    .filter((entry) => opensAtlas(entry) && openOnPurpose(entry))
    .map((entry) => ({
      message: `Atlas access list entry ${label(entry)} opens the database to the whole internet, as networkMode public-unsafe asks: only the passwords protect it`,
      urn: entry.urn,
    }));

/** A secret rotates through a SecretRotation, or is explicitly owned by the stack (rotated by replacement). */
export const secretsRotate: StackRule = (resources) => {
  const rotated = new Set(
    ofType(resources, T.rotation)
      .filter((r) => r.props.rotationEnabled !== false && r.props.rotationLambdaArn)
      .map((r) => r.props.secretId),
  );
  return ofType(resources, T.secret).flatMap((secret) =>
    rotated.has(secret.props.arn) ||
    rotated.has(secret.props.id) ||
    secret.props.tags?.["atlas-ops:rotated-by"] === "pulumi"
      ? []
      : [{ message: `secret ${label(secret)} has no rotation`, urn: secret.urn }],
  );
};

/**
 * A Standard workflow keeps its history in Step Functions for 90 days only, and its failures are what an
 * operator looks for after an alarm: every state machine logs at least its errors to a log group. X-Ray
 * tracing stays optional (it adds nothing the execution history lacks for a chain of Lambda steps).
 */
export const stateMachinesLogErrors: StackRule = (resources) =>
  ofType(resources, T.stateMachine).flatMap((machine) => {
    const logging = machine.props.loggingConfiguration;
    const logs = ["ALL", "ERROR"].includes(String(logging?.level)) && Boolean(logging?.logDestination);
    return logs
      ? []
      : [
          {
            message: `state machine ${label(machine)} must log its errors to CloudWatch Logs (level ERROR or ALL)`,
            urn: machine.urn,
          },
        ];
  });

export const RULES: {
  name: string;
  description: string;
  rule: StackRule;
  /** Default "mandatory": a violation stops the preview or deploy. "advisory" only warns. */
  enforcementLevel?: "advisory";
}[] = [
  { name: "buckets-private", description: "S3 buckets block all public access", rule: bucketsArePrivate },
  { name: "buckets-kms", description: "S3 buckets default to SSE-KMS", rule: bucketsEncryptedWithKms },
  {
    name: "buckets-tls-only",
    description: "S3 bucket policies deny requests without TLS",
    rule: bucketsRequireTls,
  },
  {
    name: "buckets-lifecycle",
    description: "S3 buckets expire data and abort stale uploads",
    rule: bucketsHaveLifecycle,
  },
  {
    name: "lambdas-dead-letter",
    description: "Lambdas and schedules keep failed events",
    rule: lambdasHaveDeadLetterQueues,
  },
  {
    name: "iam-no-wildcards",
    description: "IAM grants name actions and resources",
    rule: noWildcardIamActions,
  },
  {
    name: "atlas-not-open",
    description: "The Atlas access list is not open to the world",
    rule: atlasAccessListNotOpen,
  },
  {
    name: "atlas-open-on-purpose",
    description: "Warns about the open Atlas access list that public-unsafe mode creates",
    rule: atlasOpenOnPurpose,
    enforcementLevel: "advisory",
  },
  { name: "secrets-rotate", description: "Secrets have a rotation", rule: secretsRotate },
  {
    name: "state-machines-log-errors",
    description: "Step Functions state machines log their errors",
    rule: stateMachinesLogErrors,
  },
];
