import type { PolicyStatement } from "./iam";

/**
 * The reviews' AWS permissions beyond reading their own secrets. CloudTrail's LookupEvents has no
 * resource-level permissions (it is listed in ACTIONS_WITHOUT_RESOURCE_LEVEL), so it is granted on "*".
 */
export function securityReviewStatements(topicArn: string): PolicyStatement[] {
  return [
    { Sid: "ReadEventHistory", Effect: "Allow", Action: ["cloudtrail:LookupEvents"], Resource: ["*"] },
    { Sid: "SendReview", Effect: "Allow", Action: ["sns:Publish"], Resource: [topicArn] },
  ];
}

/** The monthly review reads the month's metrics back (trends) and mails the technical topic. */
export function performanceReviewStatements(topicArn: string): PolicyStatement[] {
  return [
    { Sid: "ReadMetrics", Effect: "Allow", Action: ["cloudwatch:GetMetricData"], Resource: ["*"] },
    { Sid: "SendReview", Effect: "Allow", Action: ["sns:Publish"], Resource: [topicArn] },
  ];
}
