//! CronJob schedules as Kubernetes reads them.
//!
//! Kubernetes validates `spec.schedule` with the standard parser of
//! robfig/cron v3 and refuses time zones in it. The crates that parse cron
//! in Rust differ from that parser where it matters here (they take 7 for
//! Sunday, or six fields, or treat day of month and day of week otherwise),
//! so these rules follow robfig's: five fields, or one of its descriptors;
//! `*` and `?` for "any"; names of months and weekdays; day of week 0-6; a
//! step after `*`, a range or a single value (`5/15` runs from 5 to the
//! field's end); `@every <Go duration>`. A schedule that is valid but
//! matches no date (30 February) is refused too: the CronJob would never run
//! a backup.

/// The descriptors robfig/cron's standard parser accepts, and the schedule
/// each stands for.
const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// robfig's interval descriptor, followed by a Go duration.
const EVERY: &str = "@every ";
/// The units Go's `time.ParseDuration` knows.
const DURATION_UNITS: [&str; 8] = ["ns", "us", "\u{b5}s", "\u{3bc}s", "ms", "s", "m", "h"];

/// Go's duration syntax (`time.ParseDuration`): an optional sign, then
/// numbers with an optional fraction, each followed by a unit (`1h30m`,
/// `1.5h`), or a bare `0`.
fn is_go_duration(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned == "0" {
        return true;
    }
    let mut rest = unsigned;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let whole = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut end = whole;
        let mut fraction = 0;
        if rest[end..].starts_with('.') {
            fraction = rest[end + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            end += 1 + fraction;
        }
        if whole + fraction == 0 {
            return false;
        }
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        if !DURATION_UNITS.contains(&&rest[..unit_end]) {
            return false;
        }
        rest = &rest[unit_end..];
    }
    true
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &WEEKDAYS,
    },
];

/// The values a field matches, and whether it was written as "any" (`*` or
/// `?` without a step), which changes how day of month and day of week
/// combine.
struct Matches {
    values: u64,
    any: bool,
}

/// What is wrong with a schedule, in words for the user.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "time zones are not accepted in a schedule (Kubernetes refuses TZ= and CRON_TZ=); schedules run in UTC"
    )]
    TimeZone,
    #[error("unknown descriptor {0:?}; Kubernetes accepts {list} and @every <duration> (e.g. @every 6h)", list = descriptor_list())]
    Descriptor(String),
    #[error(
        "{0} fields; write five fields (minute hour day-of-month month day-of-week), e.g. \"30 2 * * *\", or a descriptor such as @daily"
    )]
    FieldCount(usize),
    #[error("{field} {item:?}: {problem}")]
    Field {
        field: &'static str,
        item: String,
        problem: String,
    },
    #[error(
        "matches no date (day of month and month never meet, as on 30 February): the job would never run"
    )]
    NeverFires,
}

fn descriptor_list() -> String {
    let names: Vec<&str> = DESCRIPTORS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// The five fields a valid schedule stands for: itself, or its
/// descriptor's expansion. `@every` has none: it counts from when the
/// scheduler started, not from the clock.
pub fn five_fields(schedule: &str) -> Option<&str> {
    if !schedule.starts_with('@') {
        return Some(schedule);
    }
    DESCRIPTORS
        .iter()
        .find(|(name, _)| *name == schedule)
        .map(|(_, spec)| *spec)
}

/// A valid schedule in the six fields, seconds first, that CloudNativePG's
/// ScheduledBackup reads (robfig/cron v1's parser), firing at the same
/// instants. `@every` has no such form; CloudNativePG parses it as it is
/// (and warns that it is not six fields).
pub fn with_seconds(schedule: &str) -> String {
    match five_fields(schedule) {
        Some(fields) => format!("0 {fields}"),
        None => schedule.to_owned(),
    }
}

/// Checks a schedule as Kubernetes would, and that it fires at least once.
pub fn check(schedule: &str) -> Result<(), CronError> {
    if schedule.contains("TZ") {
        return Err(CronError::TimeZone);
    }
    if let Some(duration) = schedule.strip_prefix(EVERY) {
        return if is_go_duration(duration) {
            Ok(())
        } else {
            Err(CronError::Descriptor(schedule.to_owned()))
        };
    }
    let spec = five_fields(schedule).ok_or_else(|| CronError::Descriptor(schedule.to_owned()))?;
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(CronError::FieldCount(fields.len()));
    }
    let mut matches = Vec::with_capacity(FIELDS.len());
    for (text, field) in fields.iter().zip(&FIELDS) {
        matches.push(parse_field(text, field)?);
    }
    if matches[0].values == 0 || matches[1].values == 0 || !fires_on_some_day(&matches) {
        return Err(CronError::NeverFires);
    }
    Ok(())
}

fn parse_field(text: &str, field: &Field) -> Result<Matches, CronError> {
    let mut all = Matches {
        values: 0,
        any: false,
    };
    // robfig splits on commas and drops empty items.
    for item in text.split(',').filter(|item| !item.is_empty()) {
        let error = |problem: String| CronError::Field {
            field: field.name,
            item: item.to_owned(),
            problem,
        };
        let one = parse_item(item, field).map_err(error)?;
        all.values |= one.values;
        all.any |= one.any;
    }
    Ok(all)
}

fn parse_item(item: &str, field: &Field) -> Result<Matches, String> {
    let accepted = || {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(
                " or {}-{}",
                field.names[0],
                field.names[field.names.len() - 1]
            )
        };
        format!("{}-{}{names}", field.min, field.max)
    };
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if step.is_some_and(|step| step.contains('/')) {
        return Err("more than one '/'".to_owned());
    }
    let value = |text: &str| -> Result<u32, String> {
        let by_name = field
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .map(|index| u32::try_from(index).unwrap_or(u32::MAX) + field.min);
        by_name
            .or_else(|| text.parse().ok())
            .ok_or_else(|| format!("{text:?} is not a number; accepted: {}", accepted()))
    };
    let (mut start, mut end, mut any) = if range == "*" || range == "?" {
        (field.min, field.max, true)
    } else {
        match range.split_once('-') {
            Some((from, to)) => {
                if to.contains('-') {
                    return Err("more than one '-'".to_owned());
                }
                (value(from)?, value(to)?, false)
            }
            None => {
                let single = value(range)?;
                (single, single, false)
            }
        }
    };
    let step = match step {
        None => 1,
        Some(step) => {
            // "N/step" runs from N to the end of the field.
            if range != "*" && range != "?" && !range.contains('-') {
                end = field.max;
            }
            let step: u32 = step
                .parse()
                .map_err(|_| format!("step {step:?} is not a whole number"))?;
            if step > 1 {
                any = false;
            }
            step
        }
    };
    if start < field.min || end > field.max {
        return Err(format!(
            "out of range; accepted: {} (Kubernetes refuses the rest)",
            accepted()
        ));
    }
    if start > end {
        return Err(format!("the range starts after it ends ({start} > {end})"));
    }
    if step == 0 {
        return Err("a step must be at least 1".to_owned());
    }
    let mut values = 0;
    while start <= end {
        values |= 1 << start;
        start += step;
    }
    Ok(Matches { values, any })
}

/// Whether day of month, month and day of week meet on any day of a leap
/// cycle (2024 to 2027: one leap year, every date and weekday), with
/// robfig's rule: when either day field is "any", both must match, else
/// either may.
fn fires_on_some_day(fields: &[Matches]) -> bool {
    let (dom, month, dow) = (&fields[2], &fields[3], &fields[4]);
    // 1 January 2024 was a Monday.
    let mut weekday = 1;
    for year in 2024..2028 {
        for month_number in 1..=12u32 {
            for day in 1..=days_in_month(year, month_number) {
                let dom_hit = dom.values & (1 << day) != 0;
                let dow_hit = dow.values & (1 << weekday) != 0;
                let day_hit = if dom.any || dow.any {
                    dom_hit && dow_hit
                } else {
                    dom_hit || dow_hit
                };
                if day_hit && month.values & (1 << month_number) != 0 {
                    return true;
                }
                weekday = (weekday + 1) % 7;
            }
        }
    }
    false
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_get_six_fields_with_seconds() {
        assert_eq!(with_seconds("30 2 * * *"), "0 30 2 * * *");
        assert_eq!(with_seconds("@daily"), "0 0 0 * * *");
        assert_eq!(with_seconds("@hourly"), "0 0 * * * *");
        assert_eq!(with_seconds("@every 6h"), "@every 6h");
    }

    #[test]
    fn accepts_what_kubernetes_accepts() {
        for good in [
            "30 2 * * *",
            "*/15 * * * *",
            "0 0 1 jan,jul *",
            "0 3 * * mon-fri",
            "0 3 * * SUN",
            "0 0 ? * ?",
            "5/15 * * * *",
            "0 0 29 2 *",
            "0 0 31 * *",
            "0 0 30 2 1",
            "@daily",
            "@hourly",
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@midnight",
            "@every 6h",
            "@every 1h30m",
            "@every 1.5h",
            "@every 90s",
            // Fractions of any length, or none after the point, as Go's
            // time.ParseDuration accepts them (checked with Go 1.26).
            "@every 0.25h",
            "@every 1.125h30.5m",
            "@every 1.h",
            "@every .5h",
            "@every 2.500s",
            "@every 1h0.75m",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for (bad, expected) in [
            ("daily", "1 fields"),
            ("* * * *", "4 fields"),
            ("0 0 * * * *", "6 fields"),
            ("60 * * * *", "minute \"60\": out of range; accepted: 0-59"),
            ("0 24 * * *", "hour"),
            ("0 0 0 * *", "day of month \"0\""),
            ("0 0 * 13 *", "month \"13\""),
            (
                "0 0 * * 7",
                "day of week \"7\": out of range; accepted: 0-6 or sun-sat",
            ),
            ("*/0 * * * *", "a step must be at least 1"),
            ("5-1 * * * *", "starts after it ends"),
            ("@every", "unknown descriptor"),
            ("@every 1", "unknown descriptor"),
            ("@every 1d", "unknown descriptor"),
            ("@every  1h", "unknown descriptor"),
            ("@every .h", "unknown descriptor"),
            ("@every 1.5.5h", "unknown descriptor"),
            ("@fortnightly", "unknown descriptor"),
            ("@Daily", "unknown descriptor"),
            ("CRON_TZ=UTC 0 0 * * *", "time zones"),
            ("TZ=UTC 0 0 * * *", "time zones"),
            ("0 0 -1 * *", "day of month"),
        ] {
            let error = check(bad).expect_err(bad).to_string();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn refuses_schedules_that_never_fire() {
        for never in [
            "0 0 31 2 *",
            "0 0 30 2 *",
            "0 0 31 4 *",
            "0 0 31 4,6,9,11 *",
        ] {
            assert_eq!(check(never), Err(CronError::NeverFires), "{never}");
        }
        // Day of month and day of week both set: either fires it (robfig ORs them).
        assert_eq!(check("0 0 31 2 mon"), Ok(()));
        // One of them "any": both must match, and 31 February never does.
        assert_eq!(check("0 0 31 2 ?"), Err(CronError::NeverFires));
    }
}
