import { SNSClient } from "@aws-sdk/client-sns";
import { atlasReadsFrom } from "../adapters/atlas-reads";
import { TrailLookups } from "../adapters/cloudtrail-lookups";
import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { publishSummary } from "../adapters/publish";
import { SecretReader } from "../adapters/secrets";
import {
  ALL_SECURITY_EVENT_TYPES,
  BUCKET_PROTECTION_EVENTS,
  isOurSecret,
  reviewSecurity,
  type SecurityReview,
  type TrailRecord,
} from "../core/security/security-review";
import { loadSecurityReviewConfig, type SecurityReviewConfig } from "./config";

const secrets = new SecretReader();
const sns = new SNSClient({});
const trail = new TrailLookups();
const DAY = 24 * 3600_000;

/** Weekly: Atlas access history and project events, CloudTrail secret reads and bucket changes, mailed. */
export const handler = createJobHandler<unknown, SecurityReviewConfig, SecurityReview>({
  job: "security-review",
  loadConfig: loadSecurityReviewConfig,
  outcomeMetric: "SecurityReviewSucceeded",
  async run(_event, config, { logger, metrics }) {
    const to = new Date();
    const from = new Date(to.getTime() - config.reviewDays * DAY);
    const atlas = await atlasReadsFrom(secrets, config.atlas);
    const accessLogs = await atlas.accessHistory(config.atlas.clusterName, from, to);
    const { events, truncated: eventsTruncated } = await atlas.events(ALL_SECURITY_EVENT_TYPES, from, to);

    const reads = await trail.byEventName("GetSecretValue", from, to, (r) =>
      isOurSecret(r.target, config.secretArns),
    );
    const bucketChanges: TrailRecord[] = [];
    if (config.backupBucket) {
      for (const name of BUCKET_PROTECTION_EVENTS) {
        const found = await trail.byEventName(name, from, to, (r) => r.target === config.backupBucket);
        bucketChanges.push(...found.records);
      }
    }

    const review = reviewSecurity({
      app: config.appName,
      from,
      to,
      accessLogs,
      events,
      eventsTruncated,
      secretReads: reads.records,
      secretReadsTruncated: reads.truncated,
      bucketChanges,
      expectedSecretReaders: config.expectedSecretReaders,
      thresholds: config.thresholds,
    });
    for (const [name, value] of Object.entries(review.figures))
      metrics.addMetric(name, MetricUnit.Count, value);
    await publishSummary(sns, config.topicArn, review, "the security review");
    logger.info("security review sent", { subject: review.subject, ...review.figures });
    return review;
  },
});
