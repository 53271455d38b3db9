import { randomBytes } from "node:crypto";

/**
 * The environment the tests run against. `npm run services -- up` writes all of it to `.services.env`, and
 * test/setup/global-setup.ts loads that file, unless TEST_MONGODB_URI was already set (then the environment is
 * used as it is, e.g. a real mongod, Atlas or LocalStack).
 */
export const TEST_ENV_VARIABLES = {
  mongodbUri: "TEST_MONGODB_URI",
  mongodbAuthUri: "TEST_MONGODB_AUTH_URI",
  ferretdbPgHostPort: "TEST_FERRETDB_PG_HOSTPORT",
  postgresAdminUrl: "TEST_POSTGRES_ADMIN_URL",
  postgresFerretdbRole: "TEST_POSTGRES_FERRETDB_ROLE",
  psql: "TEST_PSQL",
  awsEndpointUrl: "AWS_ENDPOINT_URL",
  awsRegion: "AWS_REGION",
  awsAccessKeyId: "AWS_ACCESS_KEY_ID",
  awsSecretAccessKey: "AWS_SECRET_ACCESS_KEY",
  mongodump: "MONGODUMP",
  mongorestore: "MONGORESTORE",
} as const;

export type TestEnvKey = keyof typeof TEST_ENV_VARIABLES;
export type TestEnvVariable = (typeof TEST_ENV_VARIABLES)[TestEnvKey];

export interface TestEnv {
  /** MongoDB server without authentication (FerretDB on SQLite locally). */
  readonly mongodbUri: string;
  /** MongoDB server with real password checks, user:password included (FerretDB on PostgreSQL, PLAIN). */
  readonly mongodbAuthUri: string;
  /** host:port of the PostgreSQL-backed FerretDB, to build URIs for other users. */
  readonly ferretdbPgHostPort: string;
  /** Superuser URL of the PostgreSQL behind TEST_MONGODB_AUTH_URI (creates and alters MongoDB-visible users). */
  readonly postgresAdminUrl: string;
  /** Group role a PostgreSQL login role must be a member of to use the FerretDB data. */
  readonly postgresFerretdbRole: string;
  /** Absolute path of psql matching that PostgreSQL. */
  readonly psql: string;
  readonly awsEndpointUrl: string;
  readonly awsRegion: string;
  readonly awsAccessKeyId: string;
  readonly awsSecretAccessKey: string;
  /** Absolute paths of the stock tools. */
  readonly mongodump: string;
  readonly mongorestore: string;
}

export class MissingTestEnvError extends Error {
  constructor(readonly variable: TestEnvVariable) {
    super(
      `${variable} is not set. The vitest global setup loads it from .services.env (written by ` +
        `\`npm run services -- up\`) unless TEST_MONGODB_URI is already set; when pointing the tests at ` +
        `other services, set ${variable} as well.`,
    );
    this.name = "MissingTestEnvError";
  }
}

function read(variable: TestEnvVariable): string {
  const value = process.env[variable];
  if (value === undefined || value === "") throw new MissingTestEnvError(variable);
  return value;
}

/**
 * Reads the test environment. Each property is read when accessed, so a test only fails (with the missing
 * variable's name) for what it really uses; for example TEST_POSTGRES_ADMIN_URL exists only for local services.
 */
export function testEnv(): TestEnv {
  const env = {} as Record<TestEnvKey, string>;
  for (const [key, variable] of Object.entries(TEST_ENV_VARIABLES) as [TestEnvKey, TestEnvVariable][]) {
    Object.defineProperty(env, key, { enumerable: true, get: () => read(variable) });
  }
  return env;
}

/** True when every named variable is set (for `it.skipIf(!hasTestEnv(...))`). */
export function hasTestEnv(...keys: TestEnvKey[]): boolean {
  return keys.every((key) => {
    const value = process.env[TEST_ENV_VARIABLES[key]];
    return value !== undefined && value !== "";
  });
}

/** Options shared by the AWS SDK v3 clients (for S3 add `forcePathStyle: true`). */
export function awsClientConfig(): {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  const env = testEnv();
  return {
    region: env.awsRegion,
    endpoint: env.awsEndpointUrl,
    credentials: { accessKeyId: env.awsAccessKeyId, secretAccessKey: env.awsSecretAccessKey },
  };
}

let sequence = 0;

/**
 * A name no other test file running at the same time uses: `<prefix>-<pid><sequence><random hex>`.
 * Lowercase letters, digits and hyphens only, at most 44 characters, starting and ending with a letter or
 * digit: valid as an S3 bucket, a MongoDB/FerretDB database, a PostgreSQL role and a secret name.
 */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 24)
      .replace(/-+$/, "") || "t";
  sequence += 1;
  return `${clean}-${process.pid.toString(36)}${sequence.toString(36)}${randomBytes(4).toString("hex")}`;
}
