import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { parseTrailEvent, type TrailRecord } from "../core/security/security-review";

/**
 * CloudTrail event history (LookupEvents: management events of the last 90 days, one lookup attribute per
 * call, 50 events per page, 2 calls per second per account and region). "adaptive" retries let the SDK pace
 * itself on ThrottlingException; pages are bounded so a busy account cannot make the review run for ever.
 */
const MAX_PAGES = 40;

export class TrailLookups {
  constructor(
    private readonly client: CloudTrailClient = new CloudTrailClient({
      retryMode: "adaptive",
      maxAttempts: 6,
    }),
  ) {}

  /** Every `eventName` event between `from` and `to` kept by `keep`; truncated when more pages remained. */
  async byEventName(
    eventName: string,
    from: Date,
    to: Date,
    keep: (record: TrailRecord) => boolean,
  ): Promise<{ records: TrailRecord[]; truncated: boolean }> {
    const records: TrailRecord[] = [];
    let NextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let output;
      try {
        output = await this.client.send(
          new LookupEventsCommand({
            LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: eventName }],
            StartTime: from,
            EndTime: to,
            MaxResults: 50,
            NextToken,
          }),
        );
      } catch (error) {
        const name = (error as { name?: string }).name ?? "Error";
        throw new Error(
          `CloudTrail LookupEvents for ${eventName} failed: ${name}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      for (const event of output.Events ?? []) {
        const record = parseTrailEvent(
          event.CloudTrailEvent ?? "{}",
          event.EventName ?? eventName,
          event.EventTime ?? to,
        );
        if (record && keep(record)) records.push(record);
      }
      NextToken = output.NextToken;
      if (!NextToken) return { records, truncated: false };
    }
    return { records, truncated: true };
  }
}
