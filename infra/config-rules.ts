import { type DstGap, minutesOf } from "./dst";

/**
 * Pure checks behind the stack configuration: each returns an error message naming the rule (the caller adds
 * the config key), or undefined when the value is fine. No Pulumi imports, so tests call them directly.
 */

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Extra tokens EventBridge Scheduler accepts in this field ("?", "L", "W", "#"). */
  allowQuestion?: boolean;
  allowLast?: boolean;
}

const CRON_FIELDS: CronField[] = [
  { name: "minutes", min: 0, max: 59 },
  { name: "hours", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31, allowQuestion: true, allowLast: true },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day-of-week", min: 1, max: 7, names: WEEKDAYS, allowQuestion: true, allowLast: true },
  { name: "year", min: 1970, max: 2199 },
];

function parseCronNumber(token: string, field: CronField): number | undefined {
  const upper = token.toUpperCase();
  const named = field.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + field.min;
  if (!/^\d+$/.test(token)) return undefined;
  const value = Number(token);
  return value >= field.min && value <= field.max ? value : undefined;
}

/** Expands one cron field into the values it matches; undefined for "*", "?" or L/W/# forms. */
function cronFieldValues(text: string, field: CronField): number[] | "any" | "special" | string {
  if (text === "*" || text === "?") return "any";
  if (field.allowLast && /^(L|LW|\d{1,2}W|\d?L|[1-7]#[1-5])$/i.test(text)) return "special";
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    if (range === undefined || range === "") return `empty element in "${text}"`;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) return `bad step "${stepText}"`;
    let from: number | undefined;
    let to: number | undefined;
    if (range === "*") {
      from = field.min;
      to = field.max;
    } else {
      const [a, b] = range.split("-");
      from = parseCronNumber(a ?? "", field);
      to = b === undefined ? (stepText === undefined ? from : field.max) : parseCronNumber(b, field);
    }
    if (from === undefined || to === undefined || from > to) {
      return `"${part}" is outside ${field.min}-${field.max}${field.names ? " (or " + field.names[0] + "...)" : ""}`;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((x, y) => x - y);
}

/** Checks an EventBridge Scheduler expression: `cron(m h dom mon dow year)`, `rate(n unit)` or `at(...)`. */
export function checkScheduleExpression(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? "";
    if (value < 1) return "a rate must be at least 1";
    if (value === 1 && unit.endsWith("s"))
      return `use the singular unit for 1 ("rate(1 ${unit.slice(0, -1)})")`;
    if (value > 1 && !unit.endsWith("s"))
      return `use the plural unit for ${value} ("rate(${value} ${unit}s)")`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) return 'must be "cron(minutes hours day-of-month month day-of-week year)" or "rate(n unit)"';
  const parts = (cron[1] ?? "").trim().split(/\s+/);
  if (parts.length !== 6) return `a cron expression has 6 fields, got ${parts.length}`;
  for (const [index, field] of CRON_FIELDS.entries()) {
    const text = parts[index] ?? "";
    if (text === "?" && !field.allowQuestion) return `"?" is only allowed in day-of-month or day-of-week`;
    const values = cronFieldValues(text, field);
    if (typeof values === "string" && values !== "any" && values !== "special") {
      return `cron field ${field.name}: ${values}`;
    }
  }
  if ((parts[2] === "?") === (parts[4] === "?")) {
    return 'exactly one of day-of-month and day-of-week must be "?"';
  }
  return undefined;
}

/**
 * The runs of a valid cron schedule that a daylight-saving gap swallows: EventBridge Scheduler skips a run
 * whose local time does not exist that day. Returns "YYYY-MM-DD HH:MM" per skipped run. Rate schedules and
 * crons with L/W/# day forms are checked by time of day only (conservative).
 */
export function cronRunsInGaps(expression: string, gaps: DstGap[]): string[] {
  const parts = (/^cron\((.*)\)$/.exec(expression)?.[1] ?? "").trim().split(/\s+/);
  if (parts.length !== 6) return [];
  const field = (i: number) => cronFieldValues(parts[i] ?? "*", CRON_FIELDS[i] as CronField);
  const [minutes, hours, dom, month, dow] = [field(0), field(1), field(2), field(3), field(4)];
  const matches = (values: ReturnType<typeof field>, value: number) =>
    !Array.isArray(values) || values.includes(value);
  const skipped: string[] = [];
  for (const gap of gaps) {
    const [year = 0, mon = 1, day = 1] = gap.date.split("-").map(Number);
    const weekday = new Date(Date.UTC(year, mon - 1, day)).getUTCDay() + 1;
    if (!matches(dom, day) || !matches(month, mon) || !matches(dow, weekday)) continue;
    for (let minute = minutesOf(gap.from); minute < minutesOf(gap.to); minute++) {
      if (matches(hours, Math.floor(minute / 60)) && matches(minutes, minute % 60)) {
        const time = `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
        skipped.push(`${gap.date} ${time}`);
      }
    }
  }
  return skipped;
}

function longestCircularGap(values: number[], period: number): number {
  if (values.length === 0) return period;
  let longest = 0;
  values.forEach((value, i) => {
    const next = i + 1 < values.length ? (values[i + 1] as number) : (values[0] as number) + period;
    longest = Math.max(longest, next - value);
  });
  return longest;
}

/**
 * The longest time between two runs of a valid schedule, in hours (an upper bound for crons with L/W/#
 * forms, taken as monthly). Used to check that retention outlives the interval between backups.
 */
export function longestIntervalHours(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) {
    const hoursPerUnit = { minute: 1 / 60, hour: 1, day: 24 }[rate[2] as "minute" | "hour" | "day"];
    return Number(rate[1]) * hoursPerUnit;
  }
  const parts = (/^cron\((.*)\)$/.exec(expression)?.[1] ?? "").trim().split(/\s+/);
  const field = (i: number) => cronFieldValues(parts[i] ?? "*", CRON_FIELDS[i] as CronField);
  const [hours, dom, dow] = [field(1), field(2), field(4)];
  if (dom === "special" || dow === "special") return 31 * 24;
  if (Array.isArray(dom)) return longestCircularGap(dom, 31) * 24;
  if (Array.isArray(dow)) return longestCircularGap(dow, 7) * 24;
  if (Array.isArray(hours)) return longestCircularGap(hours, 24);
  return 1;
}

export function checkTimeZone(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return undefined;
  } catch {
    return `"${zone}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`;
  }
}

export function checkEmail(address: string): string | undefined {
  return /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/.test(address)
    ? undefined
    : `"${address}" is not an e-mail address`;
}

/** Dedicated tiers only: Atlas cloud backup schedules and PrivateLink need them (M0 and Flex have neither). */
export const ATLAS_INSTANCE_SIZES = [
  "M10",
  "M20",
  "M30",
  "M40",
  "M50",
  "M60",
  "M80",
  "M140",
  "M200",
  "M300",
  "M400",
  "M700",
  "R40",
  "R50",
  "R60",
  "R80",
  "R200",
  "R300",
  "R400",
  "R700",
] as const;
export type AtlasInstanceSize = (typeof ATLAS_INSTANCE_SIZES)[number];

export function checkInstanceSize(size: string): string | undefined {
  if ((ATLAS_INSTANCE_SIZES as readonly string[]).includes(size)) return undefined;
  const hint = /^(M0|M2|M5|FLEX)$/i.test(size)
    ? " (shared and Flex tiers have no cloud backup schedule)"
    : "";
  return `unknown instance size "${size}"${hint}; use one of ${ATLAS_INSTANCE_SIZES.join(", ")}`;
}

export function checkIpv4Cidr(cidr: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  if (!match || octets.some((o) => o > 255) || Number(match[5]) > 32) {
    return `"${cidr}" is not an IPv4 CIDR block (e.g. "203.0.113.7/32")`;
  }
  return undefined;
}

/**
 * The comment of the one access-list entry `public-unsafe` mode creates: the policy pack lets exactly this
 * explicitly requested entry through with a warning, and still blocks any other open entry.
 */
export const UNSAFE_ACCESS_COMMENT = "UNSAFE: unsafeAllowAtlasAccessFromAnywhere is set";

export function isWholeInternet(cidr: string): boolean {
  return /^0\.0\.0\.0\/0$/.test(cidr) || cidr === "::/0";
}

/** The only values CloudWatch Logs accepts for a log group's retention. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export function checkLogRetentionDays(days: number): string | undefined {
  return LOG_RETENTION_DAYS.includes(days)
    ? undefined
    : `${days} is not one of ${LOG_RETENTION_DAYS.join(", ")}`;
}

/** Atlas region names are the provider's upper-case form of the AWS region (eu-central-1 -> EU_CENTRAL_1). */
export function atlasRegionName(awsRegion: string): string {
  return awsRegion.toUpperCase().replace(/-/g, "_");
}

export function checkHttpsUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" ? undefined : `"${url}" must use https`;
  } catch {
    return `"${url}" is not a URL`;
  }
}
