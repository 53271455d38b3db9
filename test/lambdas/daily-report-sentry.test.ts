import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextPage } from "../../lambdas/core/sentry/sentry-issues";
import { uniqueName } from "../support/env";
import { sentryIssue, startFakeSentry, type FakeSentry } from "../support/fake-sentry-api";
import { createSecret, createTopicWithQueue, type TopicWithQueue } from "./support/aws";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";

/** The daily report's Sentry digest: the application's own issues, read from Sentry's web API. */
const TOKEN = "sntrys_test_token_4e1f0c2a9b";
let sentry: FakeSentry;
let topic: TopicWithQueue;
let tokenSecret: string;

beforeAll(async () => {
  sentry = await startFakeSentry({
    organization: "opendev-org",
    project: "opendev-web",
    token: TOKEN,
    perPage: 2,
  });
  topic = await createTopicWithQueue(uniqueName("report-sentry"));
  tokenSecret = await createSecret(uniqueName("sentry/token"), { token: TOKEN });
  sentry.issues.push(
    sentryIssue(
      101,
      "TypeError: Cannot read properties of undefined (reading 'total')",
      [0, 0, 5, 40, 80, 3],
      2,
    ),
    sentryIssue(102, "MongoServerSelectionError: connection timed out", [1, 1, 1, 1], 300),
    sentryIssue(103, "Error: NEXTAUTH_URL mismatch", [], 500), // no events today: not in the digest
    sentryIssue(104, "Unhandled rejection in checkout", [0, 2], 20),
    { ...sentryIssue(105, "Resolved long ago", [9, 9], 900), status: "resolved" },
  );
});

afterAll(async () => {
  await sentry?.close();
});

async function report(env: Env) {
  const handler = await coldStart("lambdas/daily-report/handler", {
    APP_NAME: uniqueName("sentryapp"),
    METRICS_NAMESPACE: "AtlasOpsSentryTest",
    REPORT_TOPIC_ARN: topic.topicArn,
    SENTRY_API_URL: sentry.url,
    SENTRY_ORG: "opendev-org",
    SENTRY_PROJECT: "opendev-web",
    SENTRY_TOKEN_SECRET_ID: tokenSecret,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" });
}

describe("daily report with the Sentry digest", () => {
  it("adds the last 24 hours of the application's unresolved issues, every page, and flags a spike", async () => {
    const run = await report({ SENTRY_SPIKE_EVENTS: "100" });

    expect(run.error).toBeUndefined();
    expect(metricValue(run, "SentryEvents")).toBe(134);
    expect(metricValue(run, "SentryNewIssues")).toBe(2);
    expect(metricValue(run, "SentryUnresolvedIssues")).toBe(3);
    const [mail] = await topic.receive();
    const text = mail!.Message;
    expect(text).toContain("Application errors (Sentry)");
    expect(text).toContain("events: 134, new issues: 2, unresolved issues with events: 3");
    expect(text).toContain(
      "OPENDEV-2T (new): 128 events, TypeError: Cannot read properties of undefined (reading 'total')",
    );
    expect(text).toContain("OPENDEV-2U: 4 events, MongoServerSelectionError");
    expect(text).not.toContain("NEXTAUTH_URL mismatch");
    expect(text).not.toContain("Resolved long ago");
    expect(text).toContain("134 Sentry events in 24 hours (spike threshold 100)");

    // Cursor pagination: two pages of two (four unresolved issues), each asked with the documented parameters and a bearer token.
    const pages = sentry.requests.slice(-2);
    expect(pages.map((r) => r.url.searchParams.get("cursor"))).toEqual([null, "0:2:0"]);
    expect(pages.every((r) => r.url.searchParams.get("statsPeriod") === "24h")).toBe(true);
    expect(pages.every((r) => r.url.searchParams.get("query") === "is:unresolved")).toBe(true);
    expect(run.lines.join("\n")).not.toContain(TOKEN);
  });

  it("waits out a 429 as Retry-After says", async () => {
    sentry.rateLimitNext(1);
    const run = await report({});
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "SentryEvents")).toBe(134);
    await topic.receive();
  }, 20_000);

  it("still sends the report when Sentry refuses the token, saying why and never showing it", async () => {
    const wrong = await createSecret(uniqueName("sentry/wrong"), { token: "sntrys_wrong_token_77" });
    const run = await report({ SENTRY_TOKEN_SECRET_ID: wrong });
    expect(run.error).toBeUndefined();
    const [mail] = await topic.receive();
    expect(mail!.Message).toContain(
      "could not be read: Sentry issues of opendev-org/opendev-web: the auth token was refused (401): Invalid token",
    );
    expect(mail!.Message).toContain("- Sentry could not be read");
    expect(mail!.Message + run.lines.join("\n")).not.toContain("sntrys_wrong_token_77");
    expect(run.metrics.some((m) => m.name === "SentryEvents")).toBe(false);
  });

  it("needs the organization, the project and the token secret together", async () => {
    const run = await report({ SENTRY_PROJECT: undefined });
    expect(run.error?.message).toBe(
      "environment variable SENTRY_PROJECT is required with SENTRY_ORG and SENTRY_TOKEN_SECRET_ID (the Sentry digest)",
    );
  });

  it("reads only Link entries Sentry marks as having results", () => {
    const link =
      '<https://sentry.io/api/0/projects/o/p/issues/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", ' +
      '<https://sentry.io/api/0/projects/o/p/issues/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"';
    expect(nextPage(link)).toBe("https://sentry.io/api/0/projects/o/p/issues/?cursor=0:100:0");
    expect(nextPage(link.replace('results="true"', 'results="false"'))).toBeUndefined();
    expect(nextPage(null)).toBeUndefined();
  });
});
