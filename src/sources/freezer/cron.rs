//! freezer-scheduler's cron-like schedules: the `schedule_year`, `schedule_month`,
//! `schedule_day`, `schedule_week`, `schedule_day_of_week`, `schedule_hour`,
//! `schedule_minute` and `schedule_second` keys of a job's `job_schedule`, bounded by
//! `schedule_start_date` and `schedule_end_date`.
//!
//! freezer-scheduler hands these keys, without their `schedule_` prefix, to APScheduler's
//! `CronTrigger` (a `schedule_date` wins over everything, then a `schedule_interval`, then
//! these). This module turns them into a [`croner`] pattern and walks it to find the longest
//! gap between two consecutive runs: the period that raises a target's stale threshold (a
//! Tue–Sat job waits three days from Saturday to Tuesday; a weekly one seven).
//!
//! APScheduler's forms differ from cron's in a few places, all handled here:
//! - `day_of_week` numbers Monday 0 to Sunday 6 (cron: Sunday 0); names (`mon`, `tue-sat`,
//!   `mon,wed`) are the same, `*/2` steps from Monday.
//! - An omitted field is `*` when a less significant field is given, else its least value
//!   (`{"schedule_hour": "3"}` runs at 03:00:00 every day; `{"schedule_day_of_week": "sun"}` at
//!   midnight every Sunday). Seconds are 0 unless given.
//! - `day` and `day_of_week` must both match (cron ORs them): croner's DOM-and-DOW mode.
//! - `day` also takes `last` (cron `L`) and `1st mon` … `5th fri`, `last fri` (cron
//!   `MON#1`, `FRI#L`), the latter only when `day_of_week` is not also given.
//! - `5/15` (from 5, every 15) is a step from a start (croner's "sloppy ranges").
//! - `week` (the ISO week number) has no cron equivalent: a schedule that restricts it is
//!   refused (the caller falls back to the default threshold), `*` is accepted.
//!
//! Dates are wall-clock times of the scheduler's host, whose time zone the API does not give;
//! they are read as UTC (a date with a zone, which the API's schema allows, keeps it). The runs
//! are walked in the same zone-less wall-clock time, so a daylight saving shift moves a gap by
//! an hour at most, well within the day of slack the threshold adds.

use chrono::{DateTime, Duration, NaiveDateTime, Timelike};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// APScheduler's fields, most significant first, with their defaults when omitted after a
/// given field (`None`: `*`).
const FIELDS: [(&str, Option<&str>); 8] = [
    ("year", None),
    ("month", Some("1")),
    ("day", Some("1")),
    ("week", None),
    ("day_of_week", None),
    ("hour", Some("0")),
    ("minute", Some("0")),
    ("second", Some("0")),
];

/// The `job_schedule` keys this module reads.
pub const KEYS: [&str; 8] = [
    "schedule_year",
    "schedule_month",
    "schedule_day",
    "schedule_week",
    "schedule_day_of_week",
    "schedule_hour",
    "schedule_minute",
    "schedule_second",
];

/// How far the gaps are looked for: a year before and after the time of the refresh (or two
/// years from the start date, when later), so that monthly, quarterly and yearly patterns show
/// their longest gap and the answer moves slowly from one refresh to the next.
const HORIZON_DAYS: i64 = 366;

/// A schedule that cannot be read: the key and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub key: &'static str,
    pub why: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.why)
    }
}

/// A cron-like schedule, read.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    /// The croner pattern (`sec min hour dom month dow year`), for messages and tests.
    pub pattern: String,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

/// A `schedule_*` value as text: a string, or a number (the v1 API took any JSON).
fn text(key: &'static str, v: &serde_json::Value) -> Result<Option<String>, Unreadable> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.trim().to_owned())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(Unreadable {
            key,
            why: format!("{other} is neither a string nor a number"),
        }),
    }
}

/// A `schedule_start_date`/`schedule_end_date` (`"%Y-%m-%dT%H:%M:%S"`, as freezer writes
/// them; a fraction and a zone are allowed by the API's schema).
pub fn parse_date(key: &'static str, s: &str) -> Result<NaiveDateTime, Unreadable> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| Unreadable {
        key,
        why: format!("{s:?} is not a date like 2025-06-02T03:20:00"),
    })
}

/// When a job's runs may happen, as freezer-scheduler applies `schedule_start_date` and
/// `schedule_end_date` to interval and cron-like schedules alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// No run before it.
    pub start: Option<NaiveDateTime>,
    /// No run after it. freezer-scheduler applies an end date only together with a start date,
    /// and not when it is before the start: without one, the job runs on.
    pub end: Option<NaiveDateTime>,
}

impl Bounds {
    /// Whether the scheduler may still run the job at or after `now`: the end date, if any, is
    /// not past. A start date still to come says "not yet": see [`Bounds::started`].
    pub fn ended(&self, now: NaiveDateTime) -> bool {
        self.end.is_some_and(|end| end < now)
    }

    /// Whether the start date, if any, has come.
    pub fn started(&self, now: NaiveDateTime) -> bool {
        self.start.is_none_or(|start| start <= now)
    }
}

/// Reads a job's start and end dates.
pub fn bounds(start: Option<&str>, end: Option<&str>) -> Result<Bounds, Unreadable> {
    let start = start
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_date("schedule_start_date", s))
        .transpose()?;
    let end = match start {
        Some(start) => end
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_date("schedule_end_date", s))
            .transpose()?
            .filter(|end| *end >= start),
        None => None,
    };
    Ok(Bounds { start, end })
}

/// A Unix time as the zone-less wall-clock time the schedules are read in (UTC).
pub fn naive(t: f64) -> NaiveDateTime {
    DateTime::from_timestamp(t.floor() as i64, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// APScheduler's weekday (a name, or 0 = Monday … 6 = Sunday) as cron's (1 = Monday … 7 =
/// Sunday), so that a range ending on Sunday stays a range.
fn weekday(atom: &str) -> Option<String> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let a = atom.trim().to_ascii_lowercase();
    let n = match NAMES.iter().position(|n| *n == a) {
        Some(i) => i,
        None => a.parse::<usize>().ok().filter(|n| *n < 7)?,
    };
    Some((n + 1).to_string())
}

/// An APScheduler `day_of_week` expression as cron's: each atom of each list item renumbered,
/// `*/n` from Monday.
fn day_of_week(expr: &str) -> Option<String> {
    let items: Option<Vec<String>> = expr
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r.trim(), Some(s.trim())),
                None => (item, None),
            };
            let range = if range == "*" {
                if step.is_some() {
                    "1-7".to_owned()
                } else {
                    "*".to_owned()
                }
            } else {
                match range.split_once('-') {
                    Some((a, b)) => format!("{}-{}", weekday(a)?, weekday(b)?),
                    None => weekday(range)?,
                }
            };
            Some(match step {
                Some(s) => format!("{range}/{s}"),
                None => range,
            })
        })
        .collect();
    items.map(|i| i.join(","))
}

/// APScheduler's `1st mon`, `last fri` as cron's `MON#1`, `FRI#L`.
fn nth_weekday(item: &str) -> Option<String> {
    let mut words = item.split_whitespace();
    let (nth, day) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let nth = match nth.to_ascii_lowercase().as_str() {
        "1st" => "1",
        "2nd" => "2",
        "3rd" => "3",
        "4th" => "4",
        "5th" => "5",
        "last" => "L",
        _ => return None,
    };
    Some(format!("{}#{nth}", weekday(day)?))
}

/// One field's list without the blanks APScheduler allows around its commas.
fn compact(key: &'static str, expr: &str) -> Result<String, Unreadable> {
    let items: Vec<&str> = expr.split(',').map(str::trim).collect();
    if items
        .iter()
        .any(|i| i.is_empty() || i.contains(char::is_whitespace))
    {
        return Err(Unreadable {
            key,
            why: format!("{expr:?} is not a cron field"),
        });
    }
    Ok(items.join(","))
}

/// croner as APScheduler reads fields: seconds and years always given, day of month AND day
/// of week, `a/n` steps.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .dom_and_dow(true)
        .sloppy_ranges(true)
        .build()
}

impl CronSchedule {
    /// Reads the cron-like keys of a `job_schedule` (`get` looks a key up), or `None` when it
    /// has none.
    pub fn read<'a>(
        get: impl Fn(&str) -> Option<&'a serde_json::Value>,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Option<CronSchedule>, Unreadable> {
        let mut given: [Option<String>; 8] = Default::default();
        for (i, key) in KEYS.iter().enumerate() {
            if let Some(v) = get(key) {
                given[i] = text(key, v)?;
            }
        }
        let Some(last) = given.iter().rposition(Option::is_some) else {
            return Ok(None);
        };
        // APScheduler: omitted fields before the least significant given one are `*`, after
        // it their least value.
        let field = |i: usize| -> String {
            match &given[i] {
                Some(v) => v.clone(),
                None if i > last => FIELDS[i].1.unwrap_or("*").to_owned(),
                None => "*".to_owned(),
            }
        };
        let bad = |i: usize, why: &str| Unreadable {
            key: KEYS[i],
            why: format!("{:?} {why}", given[i].as_deref().unwrap_or("")),
        };
        let week = field(3);
        if week != "*" {
            return Err(bad(
                3,
                "restricts the ISO week, which the exporter does not follow",
            ));
        }
        let mut dow = match &given[4] {
            Some(v) => day_of_week(v).ok_or_else(|| bad(4, "is not a day of the week"))?,
            None => field(4),
        };
        let mut day = field(2);
        let items: Vec<&str> = day.split(',').map(str::trim).collect();
        if items.iter().any(|i| i.contains(char::is_whitespace)) {
            // `1st mon`, `last fri`: the nth weekday of the month.
            let nth: Option<Vec<String>> = items.iter().map(|i| nth_weekday(i)).collect();
            match nth {
                Some(nth) if given[4].is_none() => {
                    dow = nth.join(",");
                    day = "*".to_owned();
                }
                Some(_) => {
                    return Err(bad(
                        2,
                        "names weekdays while schedule_day_of_week is also given",
                    ))
                }
                None => return Err(bad(2, "is not a day of the month")),
            }
        } else {
            day = items
                .iter()
                .map(|i| {
                    if i.eq_ignore_ascii_case("last") {
                        "L"
                    } else {
                        i
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
        }
        let pattern = format!(
            "{} {} {} {} {} {} {}",
            compact(KEYS[7], &field(7))?,
            compact(KEYS[6], &field(6))?,
            compact(KEYS[5], &field(5))?,
            compact(KEYS[2], &day)?,
            compact(KEYS[1], &field(1))?,
            compact(KEYS[4], &dow)?,
            compact(KEYS[0], &field(0))?,
        );
        let cron = parser().parse(&pattern).map_err(|e| {
            // Name the field: the first that croner refuses on its own.
            let alone = |i: usize| {
                let mut fields = ["*"; 7];
                fields[[6, 4, 3, 0, 5, 2, 1, 0][i]] = match i {
                    2 => day.as_str(),
                    4 => dow.as_str(),
                    _ => given[i].as_deref().unwrap_or("*"),
                };
                fields[0] = if i == 7 { fields[0] } else { "0" };
                parser().parse(&fields.join(" ")).is_err()
            };
            let i = (0..8)
                .find(|&i| given[i].is_some() && alone(i))
                .unwrap_or(last);
            Unreadable {
                key: KEYS[i],
                why: format!(
                    "{:?} cannot be read (cron {pattern:?}: {e})",
                    given[i].as_deref().unwrap_or("")
                ),
            }
        })?;
        let Bounds { start, end } = bounds(start, end)?;
        Ok(Some(CronSchedule {
            cron,
            pattern,
            start,
            end,
        }))
    }

    /// The next run at or after `t`, within the end date.
    fn next(&self, t: &NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.cron
            .find_next_occurrence(t, inclusive)
            .ok()
            .filter(|n| self.end.is_none_or(|end| *n <= end))
    }

    /// Whether a run is still to come after `now`.
    pub fn runs_after(&self, now: NaiveDateTime) -> bool {
        let from = self.start.map_or(now, |s| s.max(now));
        self.next(&from, true).is_some()
    }

    /// The longest time in seconds between two consecutive runs from a year before `now` (or
    /// the start date, when later) to a year after it (two years from the start date, at
    /// least), within the end date. A schedule with fewer than two runs in that window gets
    /// the time between its next two runs; `None` when it has fewer than two runs left
    /// (within its end date), like a one-shot job, or when they are further apart than croner
    /// searches (the 29th of February).
    ///
    /// Every run of a day has the same time of day (the time fields do not depend on the
    /// date), so the walk learns one day's times once and then asks croner for one run per
    /// day: at most 733 questions, whatever the number of runs a day.
    pub fn longest_gap(&self, now: NaiveDateTime) -> Option<f64> {
        let horizon = Duration::days(HORIZON_DAYS);
        let lo = match self.start {
            Some(s) => s.max(now - horizon),
            None => now - horizon,
        };
        let hi = (lo + horizon + horizon).max(now + horizon);
        let hi = self.end.map_or(hi, |end| end.min(hi));
        let first = self.next(&lo, true).filter(|f| *f <= hi)?;
        // One day's runs: its first and last time of day and the longest gap between them.
        let midnight = first.date().and_hms_opt(0, 0, 0)?;
        let (mut first_tod, mut last_tod, mut inner) = (None::<i64>, 0_i64, 0_i64);
        let mut t = midnight;
        let mut per_day = 0_u32;
        while let Ok(n) = self.cron.find_next_occurrence(&t, per_day == 0) {
            if n.date() != first.date() {
                break;
            }
            let tod = i64::from(n.num_seconds_from_midnight());
            if first_tod.is_some() {
                inner = inner.max(tod - last_tod);
            }
            first_tod.get_or_insert(tod);
            last_tod = tod;
            per_day += 1;
            t = n;
            // A run every second all day: the gap is a second, no need to read them all.
            if per_day > 86_400 {
                break;
            }
        }
        let first_tod = first_tod?;
        let mut runs: u64 = 0;
        let mut longest = 0_i64;
        let mut day = first.date();
        loop {
            // The runs of `day` inside the window.
            let day_start = day.and_hms_opt(0, 0, 0)?;
            let day_first = (day_start + Duration::seconds(first_tod)).max(lo);
            let day_last = (day_start + Duration::seconds(last_tod)).min(hi);
            if day_first <= day_last {
                runs += if day_first == day_start + Duration::seconds(first_tod)
                    && day_last == day_start + Duration::seconds(last_tod)
                {
                    u64::from(per_day)
                } else {
                    1
                };
                if per_day > 1 {
                    longest = longest.max(inner);
                }
            }
            let last_run = day_start + Duration::seconds(last_tod);
            let Some(next) = self.next(&last_run, false).filter(|n| *n <= hi) else {
                break;
            };
            longest = longest.max((next - last_run).num_seconds());
            day = next.date();
        }
        if runs >= 2 {
            return Some(longest as f64);
        }
        // Rarer than the window (February 29th, a list of years): the two runs from the
        // window's start on, within the end date.
        let a = self.next(&lo, true)?;
        let b = self.next(&a, false)?;
        Some((b - a).num_seconds() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(fields: Value) -> Result<Option<CronSchedule>, Unreadable> {
        let start = fields.get("schedule_start_date").and_then(Value::as_str);
        let end = fields.get("schedule_end_date").and_then(Value::as_str);
        CronSchedule::read(|k| fields.get(k), start, end)
    }

    fn at(s: &str) -> NaiveDateTime {
        parse_date("now", s).unwrap()
    }

    fn gap(fields: Value, now: &str) -> Option<f64> {
        read(fields).unwrap().unwrap().longest_gap(at(now))
    }

    const H: f64 = 3600.0;
    const D: f64 = 86_400.0;

    #[test]
    fn the_documents_workday_job_waits_three_days_from_saturday_to_tuesday() {
        let job = json!({"schedule_day_of_week": "tue,wed,thu,fri,sat",
                         "schedule_hour": "03", "schedule_minute": "20"});
        let s = read(job.clone()).unwrap().unwrap();
        assert_eq!(s.pattern, "0 20 03 * * 2,3,4,5,6 *");
        // 2026-12-01 is a Tuesday; the runs before it: Saturday 2026-11-28 03:20.
        let sat = at("2026-11-28T03:20:00");
        assert_eq!(s.next(&at("2026-11-27T04:00:00"), false), Some(sat));
        assert_eq!(s.next(&sat, false), Some(at("2026-12-01T03:20:00")));
        assert_eq!(gap(job, "2026-12-01T03:50:00"), Some(3.0 * D));
    }

    #[test]
    fn weekdays_count_from_monday_zero_like_apscheduler() {
        // 0 is Monday, 6 Sunday; names and numbers mix; ranges and steps.
        for (dow, pattern_dow, longest) in [
            ("0", "1", 7.0 * D),
            ("6", "7", 7.0 * D),
            ("sun", "7", 7.0 * D),
            ("mon-fri", "1-5", 3.0 * D),
            ("0-4", "1-5", 3.0 * D),
            ("fri-sun", "5-7", 5.0 * D),
            ("TUE, Thu", "2,4", 5.0 * D),
            ("*/2", "1-7/2", 2.0 * D),
            ("*", "*", D),
        ] {
            let job = json!({"schedule_day_of_week": dow, "schedule_hour": "1"});
            let s = read(job.clone()).unwrap().unwrap();
            assert_eq!(s.pattern, format!("0 0 1 * * {pattern_dow} *"), "{dow}");
            assert_eq!(gap(job, "2026-12-03T12:00:00"), Some(longest), "{dow}");
        }
        // Monday 0 is a Monday: 2026-11-30 is one.
        let mon = read(json!({"schedule_day_of_week": "0"})).unwrap().unwrap();
        assert_eq!(
            mon.next(&at("2026-11-28T00:00:00"), true),
            Some(at("2026-11-30T00:00:00"))
        );
    }

    #[test]
    fn omitted_fields_follow_apscheduler() {
        // Only the hour: every day at 03:00:00.
        let hour = read(json!({"schedule_hour": "3"})).unwrap().unwrap();
        assert_eq!(hour.pattern, "0 0 3 * * * *");
        // Only a weekday: that day at midnight.
        let sunday = read(json!({"schedule_day_of_week": "sun"}))
            .unwrap()
            .unwrap();
        assert_eq!(sunday.pattern, "0 0 0 * * 7 *");
        // Only a month: the first of it, once a year.
        let june = read(json!({"schedule_month": "6"})).unwrap().unwrap();
        assert_eq!(june.pattern, "0 0 0 1 6 * *");
        // Only the minute: every hour.
        let minute = read(json!({"schedule_minute": "15"})).unwrap().unwrap();
        assert_eq!(minute.pattern, "0 15 * * * * *");
        // Numbers as JSON numbers (v1 took any JSON); blanks and null are not given.
        let numbers =
            read(json!({"schedule_hour": 4, "schedule_minute": "", "schedule_second": null}))
                .unwrap()
                .unwrap();
        assert_eq!(numbers.pattern, "0 0 4 * * * *");
        assert!(read(json!({"schedule_interval": "1 days"}))
            .unwrap()
            .is_none());
    }

    #[test]
    fn weekly_monthly_yearly_and_hourly_gaps() {
        let now = "2026-12-03T12:00:00";
        assert_eq!(
            gap(
                json!({"schedule_day_of_week": "sat", "schedule_hour": "22"}),
                now
            ),
            Some(7.0 * D)
        );
        // The 1st of every month: January to March crosses February, 28 days, and 31-day
        // months give the longest gap.
        assert_eq!(
            gap(json!({"schedule_day": "1", "schedule_hour": "2"}), now),
            Some(31.0 * D)
        );
        // The last day of the month (`last`, cron `L`).
        assert_eq!(
            gap(json!({"schedule_day": "last", "schedule_hour": "2"}), now),
            Some(31.0 * D)
        );
        // The 31st: only months that have one; July 31 → August 31, but March 31 → May 31
        // skips April (61 days).
        assert_eq!(gap(json!({"schedule_day": "31"}), now), Some(61.0 * D));
        // The first Sunday of the month: up to five weeks apart.
        assert_eq!(
            gap(
                json!({"schedule_day": "1st sun", "schedule_hour": "1"}),
                now
            ),
            Some(35.0 * D)
        );
        // Quarterly: months 1, 4, 7, 10 (APScheduler's `*/3` from January).
        assert_eq!(
            gap(json!({"schedule_month": "*/3", "schedule_day": "1"}), now),
            Some(92.0 * D)
        );
        // Yearly.
        assert_eq!(gap(json!({"schedule_month": "jun"}), now), Some(365.0 * D));
        // Hourly, and a day's burst at 01:00, 01:30 and 13:00: the gap from 13:00 to 01:00.
        assert_eq!(gap(json!({"schedule_minute": "5"}), now), Some(H));
        assert_eq!(gap(json!({"schedule_minute": "*/20"}), now), Some(1200.0));
        assert_eq!(
            gap(
                json!({"schedule_hour": "1,13", "schedule_minute": "0,30"}),
                now
            ),
            Some(11.5 * H)
        );
        // `5/15` steps from 5 (:05, :20, :35, :50, then :05 again).
        assert_eq!(
            gap(json!({"schedule_minute": "5/15"}), now),
            Some(15.0 * 60.0)
        );
        // February 29th: every four years, further apart than croner searches (about a year
        // and a half from a given time): no period, the default threshold.
        assert_eq!(
            gap(json!({"schedule_month": "2", "schedule_day": "29"}), now),
            None
        );
        // Two runs in the window's first year only (a list of years): the gap between them.
        assert_eq!(
            gap(
                json!({"schedule_year": "2026,2027", "schedule_month": "6"}),
                now
            ),
            Some(365.0 * D)
        );
        // Every second: all day, the gap is a second.
        assert_eq!(gap(json!({"schedule_second": "*"}), now), Some(1.0));
    }

    #[test]
    fn start_and_end_dates_bound_the_runs() {
        let now = "2026-12-03T12:00:00";
        // A weekly job whose end date leaves one more run: no gap left to wait for beyond it,
        // but the runs of the past year still count.
        let weekly = json!({"schedule_day_of_week": "mon", "schedule_hour": "1",
                            "schedule_start_date": "2026-01-01T00:00:00",
                            "schedule_end_date": "2026-12-08T00:00:00"});
        let s = read(weekly.clone()).unwrap().unwrap();
        assert_eq!(gap(weekly, now), Some(7.0 * D));
        assert!(s.runs_after(at(now)));
        assert!(!s.runs_after(at("2026-12-07T02:00:00")));
        // Starting next month, yearly in June: the two runs after the start are a year apart.
        let yearly = json!({"schedule_month": "6", "schedule_start_date": "2027-01-01T00:00:00"});
        assert_eq!(gap(yearly, now), Some(366.0 * D));
        // Ending before its second run: a single run, no period.
        let once = json!({"schedule_month": "6", "schedule_start_date": "2027-01-01T00:00:00",
                          "schedule_end_date": "2027-12-31T00:00:00"});
        assert_eq!(gap(once, now), None);
        // freezer-scheduler ignores an end date without a start date, and one before the start.
        let no_start =
            read(json!({"schedule_hour": "1", "schedule_end_date": "2020-01-01T00:00:00"}))
                .unwrap()
                .unwrap();
        assert_eq!(no_start.end, None);
        let backwards = read(
            json!({"schedule_hour": "1", "schedule_start_date": "2026-01-01T00:00:00",
                                    "schedule_end_date": "2025-01-01T00:00:00"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(backwards.end, None);
        // Zones and fractions are allowed by the API's schema.
        assert_eq!(at("2026-01-01T01:00:00+01:00"), at("2026-01-01T00:00:00"));
        assert_eq!(at("2026-01-01T00:00:00.5Z"), at("2026-01-01T00:00:00.5"));
    }

    #[test]
    fn unreadable_schedules_name_their_field() {
        for (fields, key) in [
            (
                json!({"schedule_day_of_week": "funday"}),
                "schedule_day_of_week",
            ),
            (json!({"schedule_day_of_week": "7"}), "schedule_day_of_week"),
            (
                json!({"schedule_day_of_week": "sun-tue"}),
                "schedule_day_of_week",
            ),
            (json!({"schedule_hour": "25"}), "schedule_hour"),
            (
                json!({"schedule_hour": "3", "schedule_minute": "every minute"}),
                "schedule_minute",
            ),
            (json!({"schedule_minute": ["5"]}), "schedule_minute"),
            (json!({"schedule_week": "2"}), "schedule_week"),
            (
                json!({"schedule_day": "2nd mon", "schedule_day_of_week": "mon"}),
                "schedule_day",
            ),
            (json!({"schedule_day": "someday"}), "schedule_day"),
            (
                json!({"schedule_hour": "1", "schedule_start_date": "tomorrow"}),
                "schedule_start_date",
            ),
            (
                json!({"schedule_hour": "1", "schedule_start_date": "2026-01-01T00:00:00",
                    "schedule_end_date": "2026-13-01T00:00:00"}),
                "schedule_end_date",
            ),
        ] {
            let err = read(fields.clone()).expect_err(&fields.to_string());
            assert_eq!(err.key, key, "{fields}: {err}");
        }
        // A pattern croner reads but that never runs (February 30th): no gap.
        let never = read(json!({"schedule_month": "2", "schedule_day": "30"}))
            .unwrap()
            .unwrap();
        assert_eq!(never.longest_gap(at("2026-12-03T12:00:00")), None);
        assert!(!never.runs_after(at("2026-12-03T12:00:00")));
    }
}
