//! Chart drawing: panels of lines or bars on plotters' bitmap backend, PNG
//! out. Axes are laid out by the `axis` module rather than by plotters, so every chart
//! in the reports has one look and the drawing code one coordinate type:
//! plot coordinates are plain `f64`, log axes are drawn in `log10` of the
//! value.

mod axis;

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

pub use axis::fmt_value;
use axis::{Coord, Laid, lay_out};
pub use plotters::style::RGBColor;

/// The font family asked of fontconfig (DejaVu Sans on Debian).
const FONT: &str = "sans-serif";

/// Series colours, in order (the Tableau 10 palette: distinct, colour-blind
/// tolerant, readable on white).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How an axis maps values to the plot.
#[derive(Debug, Clone)]
pub enum Scale {
    /// Linear, from zero (or the data's minimum when it is negative).
    Linear,
    /// Decades; values at or below zero sit on the floor of the axis.
    Log,
    /// Log when the positive values span more than two decades, else linear.
    Auto,
    /// Ticks at given plot coordinates with given labels; the axis runs from
    /// the first to the last. The caller transforms its data.
    Fixed(Vec<(f64, String)>),
    /// Ticks at the given data values (a sweep's few settings), on a log
    /// or linear axis that spans them with a little room either side.
    Values { log: bool, at: Vec<f64> },
    /// Named slots at 0, 1, 2, ...; bars stand on them.
    Categories(Vec<String>),
}

/// How tick labels print a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Number,
    /// A fraction shown as a percentage.
    Percent,
    /// Microseconds, shown as µs, ms or s.
    Micros,
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub desc: String,
    pub scale: Scale,
    pub unit: Unit,
}

impl Axis {
    pub fn new(desc: impl Into<String>, scale: Scale, unit: Unit) -> Axis {
        Axis {
            desc: desc.into(),
            scale,
            unit,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Lines,
    /// Lines with a dot on every point (few points, e.g. a sweep).
    LinesPoints,
    /// Bars on the categorical axis, x or y; series at one slot share it.
    Bars,
}

/// Where the series names go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    None,
    /// In a column right of the plot, where it never hides data.
    Right,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    /// Data coordinates (category index on a categorical axis).
    pub points: Vec<(f64, f64)>,
    /// Whiskers of lines-and-points series: at x, from the lowest to the
    /// highest of repeated runs (the point is their median).
    pub ranges: Vec<(f64, f64, f64)>,
    pub look: Look,
}

impl Series {
    fn is_rule(&self) -> bool {
        matches!(self.look, Look::Rule { .. })
    }

    /// A series drawn as its panel's mark says, without whiskers.
    pub fn plain(name: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            color,
            points,
            ranges: Vec::new(),
            look: Look::Plain,
        }
    }
}

/// How a series of a lines panel draws its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// As the panel's mark says.
    Plain,
    /// Hollow rings, no line: points set apart from a line (e.g. the
    /// failed steps of a search).
    Rings,
    /// A large ring round each point, no line: a point to notice (e.g. a
    /// curve's knee).
    Marked,
    /// A vertical line across the plot at each point's x (its y is not
    /// read), under the data: an event (a fault) on a time axis. When
    /// `labelled`, the series name is written at the top of each line;
    /// else (many events) the lines are fainter and only the legend names
    /// them.
    Rule { labelled: bool },
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub mark: Mark,
    pub legend: Legend,
    pub series: Vec<Series>,
}

/// A chart that cannot be drawn: the PNG cannot be written (no permission,
/// a full disk), or fontconfig finds no font for the labels (install one,
/// e.g. DejaVu Sans).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot draw chart: {err}", path.display())]
pub struct DrawError {
    pub path: PathBuf,
    pub err: String,
}

/// One PNG: panels in a grid, filled row by row.
#[derive(Debug, Clone)]
pub struct Chart {
    pub size: (u32, u32),
    pub grid: (usize, usize),
    pub panels: Vec<Panel>,
    /// One row of series names above all panels (taken from the first
    /// panel), for grids whose panels share their series.
    pub shared_legend: bool,
}

/// Height of the line under a chart that says what it is of.
const NOTE_HEIGHT: u32 = 18;

impl Chart {
    /// Draws the chart into a PNG file, with `note` (what it is of: the
    /// workload, run and date) in small type along its bottom edge, so that
    /// the PNG says where it comes from wherever it is pasted.
    pub fn draw(&self, path: &Path, note: &str) -> Result<(), DrawError> {
        self.draw_inner(path, note).map_err(|e| DrawError {
            path: path.to_path_buf(),
            err: e.to_string(),
        })
    }

    fn draw_inner(&self, path: &Path, note: &str) -> Result<(), Box<dyn Error>> {
        let whole = BitMapBackend::new(path, self.size).into_drawing_area();
        whole.fill(&WHITE)?;
        let (root, foot) = whole.split_vertically(self.size.1.saturating_sub(NOTE_HEIGHT));
        foot.draw(&Text::new(
            note.to_string(),
            (8, 2),
            (FONT, 12).into_font().color(&RGBColor(0x59, 0x63, 0x6e)),
        ))?;
        let areas = match self.panels.first() {
            Some(first) if self.shared_legend => {
                let (top, rest) = root.split_vertically(34);
                draw_legend_row(first, &top)?;
                rest.split_evenly(self.grid)
            }
            _ => root.split_evenly(self.grid),
        };
        for (panel, area) in self.panels.iter().zip(&areas) {
            draw_panel(panel, area)?;
        }
        root.present()?;
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let xs = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = panel.series.iter().filter(|s| !s.is_rule()).flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.ranges.iter().flat_map(|r| [r.1, r.2]))
    });
    let x = lay_out(&panel.x, xs, false);
    let y = lay_out(&panel.y, ys, true);
    let y_label_width = y
        .ticks
        .iter()
        .map(|t| t.1.chars().count())
        .max()
        .unwrap_or(4) as u32
        * 8
        + 30;
    let area = plot_area(panel, area)?;
    let mut chart = ChartBuilder::on(&area)
        .caption(&panel.title, (FONT, 18))
        .margin(12)
        .margin_right(if panel.legend == Legend::Right { 4 } else { 36 })
        .x_label_area_size(if panel.x.desc.is_empty() { 28 } else { 48 })
        .y_label_area_size(y_label_width.clamp(60, 260))
        .build_cartesian_2d(x.coord(), y.coord())?;
    let fx = |v: &f64| x.label(*v);
    let fy = |v: &f64| y.label(*v);
    let grid = RGBColor(225, 225, 225);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x.desc.as_str())
        .y_desc(panel.y.desc.as_str())
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .bold_line_style(grid)
        .light_line_style(WHITE);
    if x.categorical {
        mesh.disable_x_mesh();
    }
    if y.categorical {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    draw_series(&mut chart, panel, &x, &y)
}

/// The area left for the plot: all of `area`, or its left part when the
/// panel's legend goes in a column at the right (drawn here).
fn plot_area<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<DrawingArea<DB, plotters::coord::Shift>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    if panel.legend != Legend::Right || panel.series.is_empty() {
        return Ok(area.clone());
    }
    let longest = panel.series.iter().map(|s| s.name.chars().count()).max();
    let width = (longest.unwrap_or(4) as u32 * 15 / 2 + 44).clamp(80, 280);
    let (plot, side) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(width));
    draw_legend(panel, &side)?;
    Ok(plot)
}

/// The panel's series as its mark says: lines (with dots) or bars.
fn draw_series<DB: DrawingBackend>(
    chart: &mut Ctx<'_, DB>,
    panel: &Panel,
    x: &Laid,
    y: &Laid,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let plotted: Vec<Vec<(f64, f64)>> = panel
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|(px, py)| (x.to_plot(*px), y.to_plot(*py)))
                .collect()
        })
        .collect();
    draw_rules(chart, panel, &plotted, y)?;
    match panel.mark {
        Mark::Lines | Mark::LinesPoints => {
            for (s, pts) in panel.series.iter().zip(&plotted) {
                let color = s.color;
                let ring = match s.look {
                    Look::Plain => 0,
                    Look::Rings => 5,
                    Look::Marked => 11,
                    Look::Rule { .. } => continue,
                };
                if ring > 0 {
                    let style = color.stroke_width(2);
                    chart.draw_series(pts.iter().map(|p| Circle::new(*p, ring, style)))?;
                    continue;
                }
                chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
                if panel.mark == Mark::LinesPoints {
                    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
                    draw_whiskers(chart, s, x, y)?;
                }
            }
        }
        Mark::Bars => draw_bars(chart, panel, &plotted, x, y)?,
    }
    Ok(())
}

/// The panel's rules (see [`Look::Rule`]), each label a row lower when it
/// would run into the one before it in its row.
fn draw_rules<DB: DrawingBackend>(
    chart: &mut Ctx<'_, DB>,
    panel: &Panel,
    plotted: &[Vec<(f64, f64)>],
    y: &Laid,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let (px, _) = chart.plotting_area().get_pixel_range();
    let Range { start: lo, end: hi } = chart.x_range();
    let per_px = (hi - lo) / f64::from((px.end - px.start).max(1));
    let mut labels: Vec<(f64, &Series)> = Vec::new();
    for (s, pts) in panel.series.iter().zip(plotted) {
        let Look::Rule { labelled } = s.look else {
            continue;
        };
        let style = s.color.mix(if labelled { 0.85 } else { 0.35 });
        let lines = pts
            .iter()
            .map(|p| PathElement::new(vec![(p.0, y.lo), (p.0, y.hi)], style.stroke_width(1)));
        chart.draw_series(lines)?;
        if labelled {
            labels.extend(pts.iter().map(|p| (p.0, s)));
        }
    }
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Where each row's last label ends (plot coordinates).
    let mut rows: Vec<f64> = Vec::new();
    for (at, s) in labels {
        let width = (s.name.chars().count() as f64 * 7.0 + 8.0) * per_px;
        let row = match rows.iter().position(|end| *end < at) {
            Some(r) => r,
            None if rows.len() < 4 => {
                rows.push(f64::NEG_INFINITY);
                rows.len() - 1
            }
            None => 0,
        };
        rows[row] = at + width;
        let font = (FONT, 12).into_font().color(&s.color);
        let dy = 4 + 15 * row as i32;
        chart.draw_series([
            EmptyElement::at((at, y.hi)) + Text::new(s.name.clone(), (3, dy), font)
        ])?;
    }
    Ok(())
}

/// A series' ranges as whiskers: a vertical line from the lowest to the
/// highest, with a cap at each end.
fn draw_whiskers<DB: DrawingBackend>(
    chart: &mut Ctx<'_, DB>,
    s: &Series,
    x: &Laid,
    y: &Laid,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let style = s.color.stroke_width(2);
    for &(px, lo, hi) in &s.ranges {
        let (px, lo, hi) = (x.to_plot(px), y.to_plot(lo), y.to_plot(hi));
        chart.draw_series([PathElement::new(vec![(px, lo), (px, hi)], style)])?;
        chart.draw_series([lo, hi].map(|at| {
            EmptyElement::at((px, at)) + PathElement::new(vec![(-6, 0), (6, 0)], style)
        }))?;
    }
    Ok(())
}

/// A column of swatches and names, top-aligned with the plot.
fn draw_legend<DB: DrawingBackend>(
    panel: &Panel,
    side: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let mut y = 48;
    for s in &panel.series {
        legend_entry(side, panel.mark, s, (2, y))?;
        y += 22;
    }
    Ok(())
}

/// Swatches and names in a row, for a chart of several panels.
fn draw_legend_row<DB: DrawingBackend>(
    panel: &Panel,
    top: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let mut x = 70;
    for s in &panel.series {
        legend_entry(top, panel.mark, s, (x, 20))?;
        x += s.name.chars().count() as i32 * 8 + 60;
    }
    Ok(())
}

/// A swatch (a bar or a line) at `at` with the series name after it.
fn legend_entry<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    mark: Mark,
    s: &Series,
    (x, y): (i32, i32),
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    if mark == Mark::Bars {
        area.draw(&Rectangle::new(
            [(x + 2, y - 6), (x + 20, y + 6)],
            s.color.filled(),
        ))?;
    } else if s.is_rule() {
        area.draw(&PathElement::new(
            vec![(x + 11, y - 8), (x + 11, y + 8)],
            s.color.stroke_width(2),
        ))?;
    } else if s.look != Look::Plain {
        area.draw(&Circle::new((x + 11, y), 6, s.color.stroke_width(2)))?;
    } else {
        area.draw(&PathElement::new(
            vec![(x, y), (x + 22, y)],
            s.color.stroke_width(3),
        ))?;
    }
    area.draw(&Text::new(s.name.clone(), (x + 28, y - 8), (FONT, 14)))?;
    Ok(())
}

type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<Coord, Coord>>;

/// Bars stand on the categorical axis (x, or y for horizontal bars). The
/// series with a value at one slot share it side by side.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut Ctx<'_, DB>,
    panel: &Panel,
    plotted: &[Vec<(f64, f64)>],
    x: &Laid,
    y: &Laid,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let horizontal = y.categorical && !x.categorical;
    // The slot a point stands on, and its value along the other axis.
    let slot_of = |p: &(f64, f64)| if horizontal { (p.1, p.0) } else { *p };
    let slot_key = |v: f64| v.round() as i64;
    let mut at_slot: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, pts) in plotted.iter().enumerate() {
        for p in pts {
            let list = at_slot.entry(slot_key(slot_of(p).0)).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let base = if horizontal { x.base() } else { y.base() };
    for (i, (s, pts)) in panel.series.iter().zip(plotted).enumerate() {
        let color = s.color;
        let bars: Vec<Rectangle<(f64, f64)>> = pts
            .iter()
            .map(|p| {
                let (slot, v) = slot_of(p);
                let sharing = &at_slot[&slot_key(slot)];
                let k = sharing.len() as f64;
                let j = sharing.iter().position(|x| *x == i).unwrap_or(0) as f64;
                let width = 0.8 / k;
                let a = slot - 0.4 + j * width + width * 0.06;
                let b = a + width * 0.88;
                let corners = if horizontal {
                    [(base, a), (v, b)]
                } else {
                    [(a, base), (b, v)]
                };
                Rectangle::new(corners, color.filled())
            })
            .collect();
        chart.draw_series(bars)?;
    }
    Ok(())
}
