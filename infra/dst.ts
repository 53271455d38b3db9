/**
 * Daylight-saving gaps of an IANA time zone, found with the Intl API (the zone database that ships with
 * Node): no dependency, and the same rules EventBridge Scheduler applies to a schedule's time zone.
 */

export interface DstGap {
  /** Local date of the gap, YYYY-MM-DD. */
  date: string;
  /** First local minute that does not exist, and the first one that does again (HH:MM, 24 h). */
  from: string;
  to: string;
}

const DAY_MS = 24 * 3600 * 1000;

const formats = new Map<string, Intl.DateTimeFormat>();
function formatFor(zone: string): Intl.DateTimeFormat {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formats.set(zone, format);
  }
  return format;
}

/** Offset of `zone` from UTC at `instant`, in minutes. */
function offsetMinutes(zone: string, instant: number): number {
  const parts = Object.fromEntries(
    formatFor(zone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  const local = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
  );
  return Math.round((local - Math.floor(instant / 60_000) * 60_000) / 60_000);
}

const pad = (n: number) => String(n).padStart(2, "0");
function localParts(instant: number, offset: number): { date: string; time: string; minutes: number } {
  const d = new Date(instant + offset * 60_000);
  const minutes = d.getUTCHours() * 60 + d.getUTCMinutes();
  return {
    date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
    minutes,
  };
}

/**
 * The gaps (clocks jump forward: local times that do not exist) of `zone` between `from` and `from + days`.
 * Steps a day at a time and narrows each offset change down to the minute.
 */
export function dstGaps(zone: string, from: number, days: number): DstGap[] {
  const gaps: DstGap[] = [];
  let before = offsetMinutes(zone, from);
  for (let day = 1; day <= days; day++) {
    const at = from + day * DAY_MS;
    const after = offsetMinutes(zone, at);
    if (after !== before) {
      let low = at - DAY_MS;
      let high = at;
      while (high - low > 60_000) {
        const middle = Math.floor((low + high) / 2 / 60_000) * 60_000;
        if (offsetMinutes(zone, middle) === before) low = middle;
        else high = middle;
      }
      if (after > before) {
        const start = localParts(high, before);
        const end = localParts(high, after);
        gaps.push({ date: start.date, from: start.time, to: end.time });
      }
      before = after;
    }
  }
  return gaps;
}

/** Whether the zone changes its offset at all (then some day lasts 23 and another 25 hours). */
export function hasDaylightSaving(zone: string, from: number): boolean {
  const yearly = [0, 91, 182, 273].map((d) => offsetMinutes(zone, from + d * DAY_MS));
  return new Set(yearly).size > 1;
}

/** Minutes since midnight of an HH:MM time. */
export function minutesOf(time: string): number {
  const [h = "0", m = "0"] = time.split(":");
  return Number(h) * 60 + Number(m);
}
