//! `--chart FILE.svg`: the latency distributions as box plots, one panel
//! per operation (each with its own millisecond axis, since `delete` and
//! `podman run` differ fiftyfold), one row per tool, every sample drawn as
//! a dot so that a bimodal tail shows. Plain SVG 1.1 written by hand.

use std::fmt::Write as _;

use super::output::{Outcome, Row};
use super::stats::percentile;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 40.0;
const ROW: f64 = 28.0;
const PANEL_TOP: f64 = 28.0;
const AXIS: f64 = 34.0;
const PALETTE: [&str; 8] = [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
];

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A round axis maximum and tick step for data up to `max` (1, 2 or 5
/// times a power of ten, about five ticks).
pub fn ticks(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

/// Renders the chart of every measured row of `o`.
pub fn render(o: &Outcome) -> String {
    let measured: Vec<&Row> = o
        .results
        .iter()
        .filter(|r| !r.samples_ms.is_empty())
        .collect();
    let mut tools: Vec<&str> = Vec::new();
    let mut panels: Vec<(&str, &str)> = Vec::new();
    for r in &measured {
        if !tools.contains(&&r.tool[..]) {
            tools.push(&r.tool);
        }
        if !panels.contains(&(r.kind, r.op)) {
            panels.push((r.kind, r.op));
        }
    }
    let color = |tool: &str| {
        let i = tools.iter().position(|t| *t == tool).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    let legend_h = 56.0;
    let panel_h = |n: usize| PANEL_TOP + ROW * n as f64 + AXIS;
    let height = legend_h
        + panels
            .iter()
            .map(|(k, op)| {
                panel_h(
                    measured
                        .iter()
                        .filter(|r| r.kind == *k && r.op == *op)
                        .count(),
                ) + 16.0
            })
            .sum::<f64>()
        + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<title>husk bench startup: start-up latency</title>
<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"##,
        escape(&format!(
            "Start-up latency: {} rounds, {} at a time, Linux {} ({} CPUs)",
            o.config.rounds, o.config.parallel, o.host.kernel, o.host.cpus
        ))
    );
    s.push_str("<g class=\"legend\">\n");
    let mut x = 10.0;
    for t in &tools {
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="32" width="12" height="12" fill="{}"/><text x="{}" y="43">{}</text>"##,
            color(t),
            x + 16.0,
            escape(t)
        );
        x += 30.0 + 7.0 * t.len() as f64;
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="43" fill="#555">box: p25-p75, bar: median, diamond: mean, whiskers: min-p99, dots: samples</text>"##,
        x + 10.0
    );
    s.push_str("</g>\n");
    let mut y = legend_h;
    for (kind, op) in panels {
        let rows: Vec<&&Row> = measured
            .iter()
            .filter(|r| r.kind == kind && r.op == op)
            .collect();
        let max = rows
            .iter()
            .flat_map(|r| r.samples_ms.iter().copied())
            .fold(0.0, f64::max);
        let (top, step) = ticks(max);
        let plot_w = WIDTH - LEFT - RIGHT;
        let xs = |v: f64| LEFT + plot_w * (v / top).clamp(0.0, 1.0);
        let h = panel_h(rows.len());
        let _ = writeln!(
            s,
            r##"<g class="panel" data-kind="{kind}" data-op="{}">
<text x="10" y="{}" font-weight="bold">{}</text>"##,
            escape(op),
            y + 18.0,
            escape(&format!("{kind} {op} (ms)"))
        );
        let plot_top = y + PANEL_TOP;
        let plot_bottom = plot_top + ROW * rows.len() as f64;
        let mut v = 0.0;
        while v <= top + step / 2.0 {
            let px = xs(v);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{plot_top:.1}" x2="{px:.1}" y2="{plot_bottom:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
                plot_bottom + 16.0,
                fmt_tick(v, step)
            );
            v += step;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{plot_bottom:.1}" x2="{:.1}" y2="{plot_bottom:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">ms</text>"##,
            WIDTH - RIGHT,
            LEFT + plot_w / 2.0,
            plot_bottom + 30.0
        );
        for (i, r) in rows.iter().enumerate() {
            series(&mut s, r, color(&r.tool), plot_top + ROW * i as f64, &xs);
        }
        s.push_str("</g>\n");
        y += h + 16.0;
    }
    s.push_str("</svg>\n");
    s
}

fn series(s: &mut String, r: &Row, color: &str, top: f64, xs: &dyn Fn(f64) -> f64) {
    let mut v = r.samples_ms.clone();
    v.sort_by(f64::total_cmp);
    let q = |p| percentile(&v, p);
    let mid = top + ROW / 2.0;
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let _ = writeln!(
        s,
        r##"<g class="series" data-tool="{}" data-n="{}">
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>
<line x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="{color}"/>
<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.25" stroke="{color}"/>
<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="3"/>
<path d="M{:.1} {:.1} l5 5 l-5 5 l-5 -5 z" fill="{color}"/>"##,
        escape(&r.tool),
        v.len(),
        LEFT - 8.0,
        mid + 4.0,
        escape(&r.tool),
        xs(v[0]),
        xs(q(99.0)),
        xs(q(25.0)),
        top + 5.0,
        (xs(q(75.0)) - xs(q(25.0))).max(1.0),
        ROW - 10.0,
        xs(q(50.0)),
        top + 4.0,
        xs(q(50.0)),
        top + ROW - 4.0,
        xs(mean),
        mid - 5.0,
    );
    // Samples, spread over the row's height in a fixed pattern so equal
    // values do not hide each other.
    for (i, ms) in r.samples_ms.iter().enumerate() {
        let dy = ((i * 7) % 11) as f64 - 5.0;
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{color}" fill-opacity="0.6"/>"##,
            xs(*ms),
            mid + dy
        );
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn round_ticks() {
        assert_eq!(ticks(9.3), (10.0, 2.0));
        assert_eq!(ticks(48.0), (50.0, 10.0));
        assert_eq!(ticks(0.7), (0.8, 0.2));
        assert_eq!(ticks(0.0), (1.0, 0.2));
        assert_eq!(fmt_tick(0.4, 0.2), "0.4");
        assert_eq!(fmt_tick(20.0, 10.0), "20");
    }
}
