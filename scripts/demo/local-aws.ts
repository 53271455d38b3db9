import { randomBytes } from "node:crypto";
import { DeleteObjectsCommand, DeleteBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { DeleteSecretCommand } from "@aws-sdk/client-secrets-manager";
import { buildMongoUri, type DatabaseCredentials } from "../../lambdas/core/mongo/credentials";
import { startFakeAtlasApi, type FakeAtlasApi } from "../../test/support/fake-atlas-api";
import { createBucket, createTopicWithQueue, type TopicWithQueue } from "../../test/lambdas/support/aws";
import { listKeys } from "../../test/lambdas/support/s3";
import { postgresUsers } from "../../test/rotation/postgres-users";
import { SecretsService } from "../../test/rotation/secrets-service";

/**
 * What the Pulumi stack creates in AWS, made in the local AWS (moto) and on the local FerretDB/PostgreSQL for
 * one run of the drill: the backup bucket, the database users with their credentials secrets, the
 * NEXTAUTH_SECRET secret, the Atlas admin secret (for the local Atlas Admin API stand-in) and the report's
 * SNS topic with an SQS queue subscribed to it (the inbox the report is read from). Names carry the run id,
 * so the drill can run while the tests use the same services.
 */
export interface DemoResources {
  run: string;
  database: string;
  bucket: string;
  metricsNamespace: string;
  /** Secret ARNs. */
  secrets: {
    backup: string;
    app: string;
    restoreTest: string;
    nextAuth: string;
    atlasAdmin: string;
  };
  credentials: { backup: DatabaseCredentials; app: DatabaseCredentials; restoreTest: DatabaseCredentials };
  /** Secret names, for people. */
  secretNames: string[];
  topic: TopicWithQueue;
  atlas: FakeAtlasApi;
  atlasProjectId: string;
  service: SecretsService;
  users: ReturnType<typeof postgresUsers>;
  s3: S3Client;
  /** Removes the users, secrets and bucket (the data and the services stay). */
  remove(): Promise<void>;
}

const password = (): string => randomBytes(24).toString("base64url");

/** `run` is a short id (lowercase letters and digits) that every name of this run carries. */
export async function createDemoResources(database: string, run: string): Promise<DemoResources> {
  const host = process.env.TEST_FERRETDB_PG_HOSTPORT!;
  const users = postgresUsers(process.env.TEST_POSTGRES_ADMIN_URL!, process.env.TEST_POSTGRES_FERRETDB_ROLE);
  const service = new SecretsService();
  const created = { users: [] as string[], secrets: [] as string[] };

  const credentialsFor = async (role: string, db: string): Promise<DatabaseCredentials> => {
    const username = `${database}_${role}_${run}`;
    const parts = {
      username,
      password: password(),
      host,
      scheme: "mongodb" as const,
      database: db,
      // FerretDB passes PLAIN credentials to PostgreSQL; on Atlas this is mongodb+srv with SCRAM.
      options: "authMechanism=PLAIN",
    };
    await users.createLogin(username, parts.password);
    created.users.push(username, `${username}_clone`);
    return { ...parts, MONGODB_URI: buildMongoUri(parts) };
  };
  const credentials = {
    backup: await credentialsFor("backup", database),
    app: await credentialsFor("app", database),
    // The restore test's user points at the scratch database, never at production.
    restoreTest: await credentialsFor("restoretest", `restoretest_${database}`),
  };

  const atlasProjectId = randomBytes(12).toString("hex");
  const serviceAccount = { clientId: `mdb_sa_id_${run}`, clientSecret: `mdb_sa_sk_${password()}` };
  const atlas = await startFakeAtlasApi({ projectId: atlasProjectId, backend: users, serviceAccount });
  // The app user and the other user of its pair, as the stack creates both for alternating-users rotation.
  for (const username of [credentials.app.username, `${credentials.app.username}_clone`]) {
    atlas.addUser({
      username,
      databaseName: "admin",
      roles: [{ roleName: "readWrite", databaseName: database }],
    });
  }
  await users.createLogin(`${credentials.app.username}_clone`, password());

  const name = (label: string): string => {
    const secretName = `${database}/${run}/${label}`;
    created.secrets.push(secretName);
    return secretName;
  };
  const secrets = {
    backup: await service.createPlainSecret(name("mongodb-backup"), JSON.stringify(credentials.backup)),
    app: await service.createRotatingSecret(name("mongodb-app"), JSON.stringify(credentials.app)),
    restoreTest: await service.createPlainSecret(
      name("mongodb-restore-test"),
      JSON.stringify(credentials.restoreTest),
    ),
    nextAuth: await service.createRotatingSecret(
      name("nextauth"),
      JSON.stringify({ NEXTAUTH_SECRET: randomBytes(32).toString("base64") }),
    ),
    atlasAdmin: await service.createPlainSecret(name("atlas-admin"), JSON.stringify(serviceAccount)),
  };

  const bucket = `${database}-backups-${run}`;
  const s3 = await createBucket(bucket);
  const topic = await createTopicWithQueue(`${database}-reports-${run}`);

  return {
    run,
    database,
    bucket,
    metricsNamespace: `AtlasOpsDemo-${run}`,
    secrets,
    secretNames: created.secrets,
    credentials,
    topic,
    atlas,
    atlasProjectId,
    service,
    users,
    s3,
    async remove() {
      await atlas.close();
      for (const username of created.users) await users.dropLogin(username);
      for (const secretId of created.secrets) {
        await service.client.send(
          new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
        );
      }
      const keys = await listKeys(s3, bucket);
      for (let start = 0; start < keys.length; start += 1000) {
        const Objects = keys.slice(start, start + 1000).map((Key) => ({ Key }));
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
  };
}
