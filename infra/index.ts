import { readConfig } from "./config";
import { atlasOpsStack } from "./program";

// The Pulumi program: read and validate the stack configuration, build everything, export the outputs.
const stack = atlasOpsStack(readConfig());

export const backupBucket = stack.backupBucket;
export const backupKmsKeyArn = stack.backupKmsKeyArn;
export const jobsPublicIp = stack.jobsPublicIp;
export const atlasProjectId = stack.atlasProjectId;
export const atlasClusterName = stack.atlasClusterName;
export const atlasHost = stack.atlasHost;
export const secretArns = stack.secretArns;
export const technicalAlertsTopicArn = stack.technicalAlertsTopicArn;
export const securityAlertsTopicArn = stack.securityAlertsTopicArn;
export const dashboardUrl = stack.dashboardUrl;
export const functionNames = stack.functionNames;
export const stateMachineArns = stack.stateMachineArns;
