import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";

/** Mails a summary through an SNS topic; the error names the topic, never the message. */
export async function publishSummary(
  sns: SNSClient,
  topicArn: string,
  summary: { subject: string; message: string },
  /** What is being published, for the error: "the report", "the security review". */
  what: string,
): Promise<void> {
  try {
    await sns.send(
      new PublishCommand({ TopicArn: topicArn, Subject: summary.subject, Message: summary.message }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? "Error";
    throw new Error(`publishing ${what} to ${topicArn} failed: ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
