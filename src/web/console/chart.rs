//! The dashboard's sign-in chart as server-rendered SVG geometry: one polyline per series
//! (logins, failed logins, lockouts) over the hours of the last 7 days, gridlines with a
//! rounded scale, a tick per day, and the daily totals that are its text alternative.
//! The template draws it with presentation attributes and console.css classes only (the
//! console's CSP has no `unsafe-inline`, so no `style` attribute), and no script.

use crate::service::console::pages::SignIns;
use crate::store::login_stats::HourRow;

/// The SVG's coordinate system (`viewBox`); CSS scales it to the width of the page.
pub const WIDTH: i64 = 720;
pub const HEIGHT: i64 = 220;
/// The plot area: 168 hours at 4 units each, labels left of it and under it.
pub const LEFT: i64 = 40;
pub const TOP: i64 = 10;
pub const BOTTOM: i64 = HEIGHT - 28;
/// Horizontal units per hour.
pub const STEP: i64 = 4;

pub struct Line {
    /// The console.css class (its colour, light and dark).
    pub class: &'static str,
    pub name: &'static str,
    /// `stroke-dasharray`: the series differ by more than colour.
    pub dash: &'static str,
    /// `x,y` pairs, one per hour up to the current one.
    pub points: String,
}

/// A gridline or a day boundary: its coordinate and its label.
pub struct Tick {
    pub at: i64,
    pub label: String,
}

pub struct DayTotal {
    pub date: String,
    pub logins: i64,
    pub failures: i64,
    pub lockouts: i64,
}

pub struct Chart {
    pub view_box: String,
    /// The plot area's edges.
    pub left: i64,
    pub top: i64,
    pub bottom: i64,
    pub right: i64,
    pub lines: Vec<Line>,
    /// Horizontal gridlines (y), bottom first.
    pub y_ticks: Vec<Tick>,
    /// Midnights (x), with the day they start.
    pub x_ticks: Vec<Tick>,
    /// The label's x at the middle of each day.
    pub x_labels: Vec<Tick>,
    pub days: Vec<DayTotal>,
    pub total: DayTotal,
}

/// The smallest of 1, 2, 5, 10, 20, 50 … that is at least `max` (and at least 1).
pub fn scale_max(max: i64) -> i64 {
    let mut unit = 1;
    loop {
        for m in [1, 2, 5] {
            if m * unit >= max {
                return m * unit;
            }
        }
        unit *= 10;
    }
}

fn day_label(day: i64, f: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .ok()
        .and_then(|d| d.format(f).ok())
        .unwrap_or_default()
}

pub fn chart(s: &SignIns) -> Chart {
    let shown: Vec<&HourRow> = s.hours.iter().filter(|h| h.hour <= s.now_hour).collect();
    let top = shown
        .iter()
        .map(|h| h.logins.max(h.failures).max(h.lockouts))
        .max()
        .unwrap_or(0);
    let max = scale_max(top);
    let y = |v: i64| BOTTOM as f64 - (v as f64) * ((BOTTOM - TOP) as f64) / (max as f64);
    let x = |hour: i64| LEFT + (hour - s.first_hour) * STEP + STEP / 2;
    let line = |class, name, dash, value: fn(&HourRow) -> i64| Line {
        class,
        name,
        dash,
        points: shown
            .iter()
            .map(|h| format!("{},{:.1}", x(h.hour), y(value(h))))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let lines = vec![
        line("s-logins", "Logins", "none", |h| h.logins),
        line("s-failures", "Failed logins", "6 3", |h| h.failures),
        line("s-lockouts", "Lockouts", "2 2", |h| h.lockouts),
    ];
    let mut marks = vec![0, max];
    if max % 2 == 0 {
        marks.insert(1, max / 2);
    }
    let y_ticks = marks
        .into_iter()
        .map(|v| Tick {
            at: y(v).round() as i64,
            label: v.to_string(),
        })
        .collect();
    let first_day = s.first_hour.div_euclid(24);
    let days_n = (s.hours.len() as i64).div_euclid(24);
    let short = time::macros::format_description!("[month repr:short] [day padding:none]");
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let x_ticks = (0..=days_n)
        .map(|d| Tick {
            at: LEFT + d * 24 * STEP,
            label: String::new(),
        })
        .collect();
    let x_labels = (0..days_n)
        .map(|d| Tick {
            at: LEFT + d * 24 * STEP + 12 * STEP,
            label: day_label(first_day + d, short),
        })
        .collect();
    let days: Vec<DayTotal> = s
        .hours
        .chunks(24)
        .enumerate()
        .map(|(d, hours)| DayTotal {
            date: day_label(first_day + d as i64, iso),
            logins: hours.iter().map(|h| h.logins).sum(),
            failures: hours.iter().map(|h| h.failures).sum(),
            lockouts: hours.iter().map(|h| h.lockouts).sum(),
        })
        .collect();
    let total = DayTotal {
        date: "Total".into(),
        logins: days.iter().map(|d| d.logins).sum(),
        failures: days.iter().map(|d| d.failures).sum(),
        lockouts: days.iter().map(|d| d.lockouts).sum(),
    };
    Chart {
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        left: LEFT,
        top: TOP,
        bottom: BOTTOM,
        right: LEFT + days_n * 24 * STEP,
        lines,
        y_ticks,
        x_ticks,
        x_labels,
        days,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-02 13:20 UTC.
    const NOW: i64 = 1_796_169_600 + 13 * 3600 + 1200;

    fn sign_ins(rows: &[HourRow]) -> SignIns {
        SignIns::of(rows, NOW)
    }

    fn points(l: &Line) -> Vec<(i64, f64)> {
        l.points
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn the_scale_rounds_up_to_1_2_5() {
        let got: Vec<i64> = [0, 1, 2, 3, 5, 6, 11, 20, 21, 499, 501, 7_000]
            .iter()
            .map(|m| scale_max(*m))
            .collect();
        assert_eq!(got, [1, 1, 2, 5, 5, 10, 20, 20, 50, 500, 1000, 10_000]);
    }

    #[test]
    fn seven_days_from_midnight_with_the_hours_up_to_now() {
        let s = sign_ins(&[]);
        assert_eq!(s.hours.len(), 168);
        // The first hour is midnight six days before today.
        assert_eq!(s.first_hour * 3600, 1_796_169_600 - 6 * 86_400);
        let c = chart(&s);
        assert_eq!(c.view_box, "0 0 720 220");
        assert_eq!(c.right, LEFT + 168 * STEP);
        assert!(c.right <= WIDTH);
        assert_eq!(c.days.len(), 7);
        assert_eq!(c.days[0].date, "2026-11-26");
        assert_eq!(c.days[6].date, "2026-12-02");
        assert_eq!(c.x_labels[6].label, "Dec 2");
        assert_eq!(c.x_ticks.len(), 8);
        assert_eq!(c.x_ticks[1].at - c.x_ticks[0].at, 24 * STEP);
        // Six whole days and today's 14 hours (00:00 to 13:00) are drawn; the future is not.
        for l in &c.lines {
            let p = points(l);
            assert_eq!(p.len(), 6 * 24 + 14, "{}", l.name);
            assert_eq!(p[0].0, LEFT + STEP / 2);
            assert!(p.iter().all(|(_, y)| *y == BOTTOM as f64));
        }
    }

    #[test]
    fn values_map_onto_the_plot_with_the_largest_at_the_top_of_the_scale() {
        let first = sign_ins(&[]).first_hour;
        let rows = [
            HourRow {
                hour: first,
                logins: 8,
                failures: 3,
                lockouts: 1,
            },
            HourRow {
                hour: first + 30,
                logins: 4,
                failures: 0,
                lockouts: 0,
            },
            // Outside the window: ignored.
            HourRow {
                hour: first - 1,
                logins: 1000,
                ..HourRow::default()
            },
        ];
        let c = chart(&sign_ins(&rows));
        // max 8 → scale 10: gridlines at 0, 5 and 10.
        let labels: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "5", "10"]);
        assert_eq!(c.y_ticks[0].at, BOTTOM);
        assert_eq!(c.y_ticks[2].at, TOP);
        let logins = points(&c.lines[0]);
        let h = (BOTTOM - TOP) as f64;
        assert!((logins[0].1 - (BOTTOM as f64 - 0.8 * h)).abs() < 0.06);
        assert!((logins[30].1 - (BOTTOM as f64 - 0.4 * h)).abs() < 0.06);
        assert_eq!(logins[30].0, LEFT + 30 * STEP + STEP / 2);
        assert_eq!(points(&c.lines[2])[0].1, BOTTOM as f64 - 0.1 * h);
        // Every point lies inside the plot.
        for l in &c.lines {
            assert!(
                points(l).iter().all(|(x, y)| (LEFT..=c.right).contains(x)
                    && (TOP as f64..=BOTTOM as f64).contains(y))
            );
        }
        assert_eq!(c.days[0].logins, 8);
        assert_eq!(c.days[1].logins, 4);
        assert_eq!(
            (c.total.logins, c.total.failures, c.total.lockouts),
            (12, 3, 1)
        );
        // The series differ by dash pattern, not colour only.
        assert_ne!(c.lines[0].dash, c.lines[1].dash);
        assert_ne!(c.lines[1].dash, c.lines[2].dash);
    }
}
