import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../support/env";
import {
  bucketChange,
  secretRead,
  startFakeCloudTrail,
  type FakeCloudTrail,
} from "../support/fake-cloudtrail";
import type { AtlasEvent } from "../../lambdas/core/atlas/atlas-reads";
import { createTopicWithQueue, type TopicWithQueue } from "./support/aws";
import { startAtlasReviewFixture, type AtlasReviewFixture } from "./support/atlas-reviews";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";

const HOUR = 3600_000;
const ago = (hours: number) => new Date(Date.now() - hours * HOUR);
const ACCOUNT = "123456789012";
const OUR_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:opendev/mongodb/app-AbC123`;
const JOB_ROLE = `arn:aws:iam::${ACCOUNT}:role/opendev-backup-role-1a2b3c`;
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/opendev-app-task`;
const STRANGER = `arn:aws:iam::${ACCOUNT}:role/someone-elses-role`;
const BUCKET = "opendev-backups-1a2b3c";

let trail: FakeCloudTrail;
let topic: TopicWithQueue;
const fixtures: AtlasReviewFixture[] = [];
let previousEndpoint: string | undefined;

beforeAll(async () => {
  trail = await startFakeCloudTrail();
  previousEndpoint = process.env.AWS_ENDPOINT_URL_CLOUDTRAIL;
  process.env.AWS_ENDPOINT_URL_CLOUDTRAIL = trail.url;
  topic = await createTopicWithQueue(uniqueName("security"));
});

afterAll(async () => {
  if (previousEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDTRAIL;
  else process.env.AWS_ENDPOINT_URL_CLOUDTRAIL = previousEndpoint;
  await trail?.close();
  for (const fixture of fixtures) await fixture.atlas.close();
});

async function fixture(
  roles: Parameters<typeof startAtlasReviewFixture>[0] = ["GROUP_READ_ONLY", "GROUP_MONITORING_ADMIN"],
) {
  const started = await startAtlasReviewFixture(roles);
  fixtures.push(started);
  return started;
}

async function review(atlas: AtlasReviewFixture, env: Env = {}) {
  const handler = await coldStart("lambdas/security-review/handler", {
    APP_NAME: "opendev",
    SECURITY_TOPIC_ARN: topic.topicArn,
    REVIEWED_SECRET_ARNS: OUR_SECRET,
    EXPECTED_SECRET_READERS: `${JOB_ROLE},${APP_ROLE}`,
    BACKUP_BUCKET: BUCKET,
    FAILED_LOGINS_THRESHOLD: "20",
    ...atlas.env,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" });
}

const event = (type: string, hoursAgo: number, extra: Partial<AtlasEvent> = {}): AtlasEvent => ({
  id: Math.random().toString(16).slice(2).padEnd(24, "0"),
  created: ago(hoursAgo).toISOString(),
  eventTypeName: type,
  username: "ops@example.com",
  remoteAddress: "198.51.100.4",
  ...extra,
});

describe("security-review handler", () => {
  it("counts a week of failed logins, Atlas changes, unexpected secret reads and bucket changes, and mails them", async () => {
    const atlas = await fixture();
    const failed = (n: number, hoursAgo: number, user = "opendev-app", ip = "203.0.113.9") =>
      Array.from({ length: n }, () => ({
        authResult: false,
        username: user,
        ipAddress: ip,
        authSource: "admin",
        failureReason: "UserNotFound",
        hostname: "opendev-cluster-shard-00-01.ab1cd.mongodb.net",
        timestamp: ago(hoursAgo).toISOString(),
      }));
    atlas.state.accessLogs.push(
      ...failed(24, 30),
      ...failed(3, 5, "admin", "192.0.2.50"),
      { authResult: true, username: "opendev-app", ipAddress: "10.20.1.5", timestamp: ago(2).toISOString() },
      ...failed(9, 24 * 8), // before the week: not counted
    );
    atlas.state.events.push(
      // More than one page of 500: the review must follow the `next` links.
      ...Array.from({ length: 520 }, (_, i) =>
        event("MONGODB_USER_UPDATED", 10 + i / 100, { dbUserUsername: "opendev-app" }),
      ),
      event("MONGODB_USER_ADDED", 20, { dbUserUsername: "intruder" }),
      event("NETWORK_PERMISSION_ENTRY_ADDED", 40, { raw: { cidrBlock: "0.0.0.0/0" } }),
      event("API_KEY_CREATED", 50, { username: undefined, publicKey: "abcdefgh" }),
      event("CLUSTER_UPDATE_STARTED", 3), // not a security event type
      event("MONGODB_USER_DELETED", 24 * 9), // before the week
    );
    trail.events.push(
      // 60 reads by the expected roles: more than one page of 50.
      ...Array.from({ length: 60 }, (_, i) =>
        secretRead(`ok-${i}`, ago(1 + i), i % 2 ? JOB_ROLE : APP_ROLE, OUR_SECRET),
      ),
      secretRead("stranger-1", ago(70), STRANGER, "opendev/mongodb/app"),
      secretRead(
        "other-secret",
        ago(71),
        STRANGER,
        `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:unrelated-XyZ987`,
      ),
      bucketChange("policy-1", ago(80), "PutBucketPolicy", BUCKET, `arn:aws:iam::${ACCOUNT}:user/deployer`),
      bucketChange(
        "pab-1",
        ago(81),
        "DeleteBucketPublicAccessBlock",
        BUCKET,
        `arn:aws:iam::${ACCOUNT}:user/mallory`,
      ),
      bucketChange(
        "other-bucket",
        ago(82),
        "PutBucketPolicy",
        "someone-else",
        `arn:aws:iam::${ACCOUNT}:user/deployer`,
      ),
    );

    const run = await review(atlas);

    expect(run.error).toBeUndefined();
    expect(metricValue(run, "SecurityReviewSucceeded")).toBe(1);
    expect(metricValue(run, "FailedLogins")).toBe(27);
    expect(metricValue(run, "DatabaseUserChanges")).toBe(521);
    expect(metricValue(run, "AccessListOpened")).toBe(1);
    expect(metricValue(run, "ApiCredentialsCreated")).toBe(1);
    expect(metricValue(run, "UnexpectedSecretReads")).toBe(1);
    expect(metricValue(run, "BackupBucketChanges")).toBe(2);
    expect(metricValue(run, "SecurityFindings")).toBe(6);

    const [mail] = await topic.receive();
    expect(mail?.Subject).toBe("[opendev] weekly security review: 6 finding(s)");
    expect(mail?.Message).toContain("Failed database logins: 27 of 28 attempts");
    expect(mail?.Message).toContain("24 x opendev-app from 203.0.113.9");
    expect(mail?.Message).toContain("3 x admin from 192.0.2.50");
    expect(mail?.Message).toMatch(
      /NETWORK_PERMISSION_ENTRY_ADDED 0\.0\.0\.0\/0 by ops@example\.com from 198\.51\.100\.4/,
    );
    expect(mail?.Message).toMatch(/API_KEY_CREATED by abcdefgh/);
    expect(mail?.Message).toMatch(new RegExp(`opendev/mongodb/app by ${STRANGER} from 203\\.0\\.113\\.7`));
    expect(mail?.Message).toMatch(
      /DeleteBucketPublicAccessBlock on opendev-backups-1a2b3c by arn:aws:iam::\d+:user\/mallory/,
    );
    expect(mail?.Message).not.toContain("another-teams-bucket");
    expect(mail?.Message).not.toContain("CLUSTER_UPDATE_STARTED");
    expect(mail?.Message).toContain("... and 506 more");

    // The week asked for, server-side filters, and every page.
    const eventReads = atlas.state.seen.filter((url) => url.pathname.endsWith("/events"));
    expect(eventReads.map((url) => url.searchParams.get("pageNum"))).toEqual(["1", "2"]);
    expect(eventReads[0]!.searchParams.getAll("eventType")).toContain("NETWORK_PERMISSION_ENTRY_ADDED");
    const lookups = trail.requests.filter((body) => JSON.stringify(body).includes("GetSecretValue"));
    expect(lookups.length).toBe(2);

    // The read-only credentials never leave the function.
    expect(run.lines.join("\n")).not.toContain(atlas.clientSecret);
    expect(mail?.Message).not.toContain(atlas.clientSecret);
  });

  it("says nothing was found in a quiet week", async () => {
    const atlas = await fixture();
    atlas.state.accessLogs.push({
      authResult: true,
      username: "opendev-app",
      ipAddress: "10.20.1.5",
      timestamp: ago(1).toISOString(),
    });
    const run = await review(atlas, {
      BACKUP_BUCKET: "quiet-bucket",
      REVIEWED_SECRET_ARNS: "arn:aws:secretsmanager:us-east-1:1:secret:quiet-AAAAAA",
    });
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "SecurityFindings")).toBe(0);
    expect(metricValue(run, "FailedLogins")).toBe(0);
    const [mail] = await topic.receive();
    expect(mail?.Subject).toBe("[opendev] weekly security review: nothing found");
  });

  it("rides out Atlas 429s and CloudTrail throttling", async () => {
    const atlas = await fixture();
    atlas.atlas.failNext(429, { times: 2 });
    trail.throttleNext(2);
    const run = await review(atlas);
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "SecurityReviewSucceeded")).toBe(1);
    expect(atlas.atlas.requests.filter((r) => r.status === 429)).toHaveLength(2);
    await topic.receive();
  }, 30_000);

  it("fails, mailing nothing, when the credentials lack the role access history needs", async () => {
    const atlas = await fixture(["GROUP_READ_ONLY"]);
    const run = await review(atlas);
    expect(run.error?.message).toMatch(
      /dbAccessHistory.*lack the Project Monitoring Admin role on project [0-9a-f]{24} \(403\)/,
    );
    expect(metricValue(run, "SecurityReviewSucceeded")).toBe(0);
    expect(await topic.receive(2)).toEqual([]);
  });

  it("rejects a bad configuration naming the variable", async () => {
    const atlas = await fixture();
    const run = await review(atlas, { SECURITY_TOPIC_ARN: "security-topic" });
    expect(run.error?.message).toBe(
      'environment variable SECURITY_TOPIC_ARN must be an SNS topic ARN (got "security-topic")',
    );
    const missing = await review(atlas, { ATLAS_READ_SECRET_ID: undefined });
    expect(missing.error?.message).toBe("environment variable ATLAS_READ_SECRET_ID is required but not set");
  });
});
