import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  adminSecretExpiryAlarm,
  type AlarmSpec,
  type AlarmTopic,
  alarmSpecs,
  type MonitoredJob,
} from "./alarms";
import type { AtlasOpsConfig } from "./config";
import { dashboardBody } from "./dashboard";
import { type JobName, stateMachineArn } from "./jobs";
import { workflowAlarmSpecs } from "./workflow-alarms";

export interface MonitoringArgs {
  config: AtlasOpsConfig;
  /** Names are fixed by app and job (jobs.ts), so alarms are plain data; pass the jobs as dependsOn. */
  jobs: MonitoredJob[];
  /** When the rotation Lambda's Atlas secret expires (ISO 8601); known only once Atlas created it. */
  adminSecretExpiresAt: pulumi.Input<string>;
  /** The account the workflows run in: their metrics are keyed by the state machine's ARN. */
  accountId: pulumi.Input<string>;
}

/** Stands in for the account id until it is known, so alarm names and thresholds are plain data. */
const ANY_ACCOUNT = "000000000000";

/**
 * Two SNS topics (technical: jobs, health, backups; security: rotations, certificates) mailed to the
 * configured contacts, every alarm from `alarmSpecs`, and one dashboard.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly technicalTopicArn: pulumi.Output<string>;
  public readonly securityTopicArn: pulumi.Output<string>;
  public readonly dashboardName: pulumi.Output<string>;
  /** Alarm names all start with this, so IAM can scope cloudwatch:DescribeAlarms to them. */
  public readonly alarmNamePrefix: string;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:monitoring:Monitoring", name, {}, opts);
    const { config } = args;
    const parent = { parent: this };
    this.alarmNamePrefix = `${config.appName}-`;

    const topics = {} as Record<AlarmTopic, aws.sns.Topic>;
    for (const topic of ["technical", "security"] as const) {
      topics[topic] = new aws.sns.Topic(
        `${name}-${topic}`,
        { name: `${config.appName}-${topic}-alerts` },
        parent,
      );
      config.contacts[topic].forEach(
        (endpoint, i) =>
          new aws.sns.TopicSubscription(
            `${name}-${topic}-${i}`,
            {
              topic: topics[topic].arn,
              protocol: "email",
              endpoint,
            },
            parent,
          ),
      );
    }

    for (const spec of alarmSpecs(config, args.jobs)) this.alarm(name, spec, topics[spec.topic]);
    const healthCheck = jobFunction(args.jobs, "health-check");
    this.alarm(
      name,
      adminSecretExpiryAlarm(healthCheck, new Date(0).toISOString()),
      topics.security,
      pulumi.output(args.adminSecretExpiresAt).apply((at) => adminSecretExpiryAlarm(healthCheck, at)),
    );

    const workflows = args.jobs.flatMap((j) =>
      j.stateMachineName ? [{ ...j, machine: j.stateMachineName }] : [],
    );
    const account = pulumi.output(args.accountId);
    const machineArn = (accountId: string, machine: string) =>
      stateMachineArn(config.awsRegion, accountId, machine);
    for (const { job, machine } of workflows) {
      workflowAlarmSpecs(job, machineArn(ANY_ACCOUNT, machine)).forEach((spec, i) =>
        this.alarm(
          name,
          spec,
          topics[spec.topic],
          account.apply((accountId) => workflowAlarmSpecs(job, machineArn(accountId, machine))[i]!),
        ),
      );
    }

    const functionNames = Object.fromEntries(args.jobs.map((j) => [j.job, j.functionName])) as Record<
      JobName,
      string
    >;
    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: `${config.appName}-atlas-ops`,
        dashboardBody: account.apply((accountId) =>
          dashboardBody(
            config,
            functionNames,
            Object.fromEntries(workflows.map(({ job, machine }) => [job, machineArn(accountId, machine)])),
          ),
        ),
      },
      parent,
    );

    this.technicalTopicArn = topics.technical.arn;
    this.securityTopicArn = topics.security.arn;
    this.dashboardName = dashboard.dashboardName;
    this.registerOutputs({
      technicalTopicArn: this.technicalTopicArn,
      securityTopicArn: this.securityTopicArn,
      dashboardName: this.dashboardName,
    });
  }

  /**
   * One alarm; `live` replaces the description, dimensions and metric math once values known only at deploy
   * exist.
   */
  private alarm(name: string, spec: AlarmSpec, topic: aws.sns.Topic, live?: pulumi.Output<AlarmSpec>): void {
    const { metric, anomalyBand } = spec;
    new aws.cloudwatch.MetricAlarm(
      `${name}-${spec.id}`,
      {
        name: `${this.alarmNamePrefix}${spec.id}`,
        alarmDescription: live ? live.apply((s) => s.description) : spec.description,
        namespace: metric?.namespace,
        metricName: metric?.metricName,
        dimensions: live ? live.apply((s) => s.metric?.dimensions) : metric?.dimensions,
        statistic: metric?.statistic,
        extendedStatistic: metric?.extendedStatistic,
        period: metric ? spec.period : undefined,
        metricQueries: live ? live.apply(metricQueries) : metricQueries(spec),
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapointsToAlarm,
        comparisonOperator: spec.comparisonOperator,
        threshold: anomalyBand ? undefined : spec.threshold,
        thresholdMetricId: anomalyBand ? "band" : undefined,
        treatMissingData: spec.treatMissingData,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        insufficientDataActions: spec.notifyOnNoData ? [topic.arn] : undefined,
      },
      { parent: this },
    );
  }
}

/** The metric math of an alarm spec, as CloudWatch's metricQueries (undefined for a single metric). */
function metricQueries(spec: AlarmSpec) {
  const { expression, anomalyBand } = spec;
  if (anomalyBand) {
    return [
      {
        id: "m0",
        returnData: true,
        metric: {
          namespace: anomalyBand.metric.namespace,
          metricName: anomalyBand.metric.metricName,
          dimensions: anomalyBand.metric.dimensions,
          stat: anomalyBand.metric.stat,
          period: spec.period,
        },
      },
      {
        id: "band",
        expression: `ANOMALY_DETECTION_BAND(m0, ${anomalyBand.stdDevs})`,
        label: `${spec.id} expected range`,
        returnData: true,
      },
    ];
  }
  return expression
    ? [
        { id: "total", expression: expression.expression, label: spec.id, returnData: true },
        ...expression.metrics.map((m, i) => ({
          id: `m${i}`,
          returnData: false,
          metric: {
            namespace: m.namespace,
            metricName: m.metricName,
            dimensions: m.dimensions,
            stat: m.stat,
            period: spec.period,
          },
        })),
      ]
    : undefined;
}

function jobFunction(jobs: MonitoredJob[], job: JobName): string {
  const found = jobs.find((j) => j.job === job);
  if (!found) throw new Error(`Monitoring: the ${job} job is missing`);
  return found.functionName;
}
