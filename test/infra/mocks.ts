import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT_ID = "123456789012";
export const REGION = "eu-central-1";
export const NAT_IP = "203.0.113.10";
export const CLUSTER_SRV = "mongodb+srv://opendev-cluster.ab1cd.mongodb.net";
export const ADMIN_SECRET_EXPIRES_AT = "2027-03-02T01:00:00Z";
export const PRIVATE_SRV = "mongodb+srv://opendev-cluster-pl-0.ab1cd.mongodb.net";

/** What the AWS provider answers for the data sources the program reads (undefined for any other token). */
export function dataSourceAnswer(token: string): Record<string, unknown> | undefined {
  switch (token) {
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`, userId: "test" };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: [`${REGION}a`, `${REGION}b`, `${REGION}c`] };
    case "aws:index/getRegion:getRegion":
      return { region: REGION, name: REGION };
    default:
      return undefined;
  }
}

/** The resource options the program sent the engine with a registration (what `pulumi up` acts on). */
export interface RecordedOptions {
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  /** URNs of the resources this one waits for (dependsOn and input dependencies). */
  dependencies: string[];
  additionalSecretOutputs: string[];
}

/** A resource as the program registered it: type token, logical name and the inputs it was given. */
export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  state: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  options: RecordedOptions;
}

/** The outputs a provider would add for a resource: ARNs, names and ids the program reads back. */
function providerOutputs(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const service = type.split(":")[1]?.split("/")[0] ?? "x";
  const arn = `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${name}`;
  switch (type) {
    case "aws:s3/bucket:Bucket": {
      const bucket = String(inputs.bucket ?? `${inputs.bucketPrefix ?? ""}test`);
      return { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case "aws:secretsmanager/secret:Secret": {
      const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:${inputs.name}-AbCdEf`;
      return { id: secretArn, arn: secretArn };
    }
    case "aws:lambda/function:Function":
      return { arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${inputs.name}` };
    case "aws:sfn/stateMachine:StateMachine":
      return { arn: `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:${inputs.name}` };
    case "aws:sqs/queue:Queue":
      return { arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${inputs.name}`, url: `https://sqs/${inputs.name}` };
    case "aws:sns/topic:Topic":
      return { arn: `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${inputs.name}` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { arn: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:${inputs.name}` };
    case "aws:kms/key:Key":
      return { arn: `arn:aws:kms:${REGION}:${ACCOUNT_ID}:key/${name}`, keyId: `key-${name}` };
    case "aws:ec2/eip:Eip":
      return { publicIp: NAT_IP, allocationId: "eipalloc-1" };
    case "mongodbatlas:index/project:Project":
      return { id: "0123456789abcdef01234567" };
    case "mongodbatlas:index/advancedCluster:AdvancedCluster":
      return {
        connectionStrings: {
          standardSrv: CLUSTER_SRV,
          // The VPC endpoint of the stack (its mock id), as Atlas lists it once the endpoint is AVAILABLE.
          privateEndpoints: [
            { srvConnectionString: PRIVATE_SRV, endpoints: [{ endpointId: "database-privatelink-id" }] },
          ],
        },
      };
    case "mongodbatlas:index/projectServiceAccount:ProjectServiceAccount":
      // Atlas generates a first secret with the account (returned once, at creation).
      return { clientId: "mdb_sa_id_rotation", secrets: [{ secret: "mdb_sa_sk_initial-of-the-account" }] };
    case "mongodbatlas:index/projectServiceAccountSecret:ProjectServiceAccountSecret":
      return { secret: "mdb_sa_sk_generated-by-atlas", expiresAt: ADMIN_SECRET_EXPIRES_AT };
    case "mongodbatlas:index/privateLinkEndpoint:PrivateLinkEndpoint":
      return { endpointServiceName: "com.amazonaws.vpce.eu-central-1.vpce-svc-1", privateLinkId: "pl-1" };
    case "random:index/randomPassword:RandomPassword":
      return { result: `generated-password-${name}` };
    case "random:index/randomBytes:RandomBytes":
      return { base64: Buffer.from(`generated-bytes-${name}`).toString("base64") };
    case "aws:cloudwatch/dashboard:Dashboard":
      return {};
    default:
      return { arn };
  }
}

/**
 * Installs Pulumi mocks that record every resource. Call before constructing anything; the returned array
 * fills as the program registers resources (see `settle`).
 */
export function installMocks(
  options: {
    preview?: boolean;
    /** Replaces what the provider answers for one type (e.g. a cluster without private endpoints yet). */
    outputs?: Record<string, (name: string, inputs: Record<string, unknown>) => Record<string, unknown>>;
  } = {},
): RecordedResource[] {
  const resources: RecordedResource[] = [];
  const pendingOptions = new Map<string, RecordedOptions>();
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const answer =
          options.outputs?.[args.type] ?? ((name, inputs) => providerOutputs(args.type, name, inputs));
        const { id = `${args.name}-id`, ...outputs } = answer(args.name, args.inputs) as { id?: string };
        const state = { ...args.inputs, ...outputs };
        const recorded = pendingOptions.get(`${args.type}::${args.name}`) ?? NO_OPTIONS;
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, state, options: recorded });
        return { id, state };
      },
      call(args) {
        return dataSourceAnswer(args.token) ?? args.inputs;
      },
    },
    "atlas-ops",
    "prod",
    options.preview ?? false,
  );
  recordOptions(pendingOptions);
  return resources;
}

const NO_OPTIONS: RecordedOptions = {
  protect: false,
  retainOnDelete: false,
  deleteBeforeReplace: false,
  ignoreChanges: [],
  dependencies: [],
  additionalSecretOutputs: [],
};

/** The registration request as the mock monitor receives it (protobuf getters). */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
}

/**
 * Pulumi's mocks hand `newResource` only type, name and inputs; the options (protect, retainOnDelete,
 * deleteBeforeReplace, dependencies) are in the request the program sent. Reads them there, before the mock
 * answers, so tests check what the engine would be told.
 */
function recordOptions(byResource: Map<string, RecordedOptions>): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(request: RegisterRequest, callback: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    byResource.set(`${request.getType()}::${request.getName()}`, {
      protect: request.getProtect() === true,
      retainOnDelete: request.getRetainondelete() === true,
      deleteBeforeReplace: request.getDeletebeforereplace(),
      ignoreChanges: request.getIgnorechangesList(),
      dependencies: request.getDependenciesList(),
      additionalSecretOutputs: request.getAdditionalsecretoutputsList(),
    });
    return register(request, callback);
  };
}

/** Whether `resource` waits for `other` (URNs end with the parent-qualified type and the name). */
export function waitsFor(resource: RecordedResource, other: RecordedResource): boolean {
  return resource.options.dependencies.some(
    (urn) => urn.endsWith(`::${other.name}`) && urn.split("::")[2]?.split("$").pop() === other.type,
  );
}

/** Resolves an Output to its value (secret or not). */
export function resolve<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((done) => output.apply((value) => done(value)));
}

/** Waits until the program stops registering resources (registrations are asynchronous under mocks). */
export async function settle(resources: RecordedResource[]): Promise<void> {
  let stable = 0;
  let count = -1;
  while (stable < 5) {
    await new Promise((r) => setTimeout(r, 20));
    stable = resources.length === count ? stable + 1 : 0;
    count = resources.length;
  }
}

export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function named(resources: RecordedResource[], type: string, name: string): RecordedResource {
  const found = resources.find((r) => r.type === type && r.name === name);
  if (!found)
    throw new Error(
      `no ${type} named ${name}; have ${ofType(resources, type)
        .map((r) => r.name)
        .join(", ")}`,
    );
  return found;
}

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** True when a recorded input was marked secret (Pulumi serializes it wrapped with the secret signature). */
export function isSecret(value: unknown): boolean {
  return (
    typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

/** The plain value of a recorded input, secret or not. */
export function plain<T = unknown>(value: unknown): T {
  return (isSecret(value) ? (value as { value: unknown }).value : value) as T;
}
