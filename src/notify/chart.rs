//! The 24-hour chart for email: hits per window as bars, the baseline and the bar as lines,
//! drawn into a PNG by hand (no font or plotting dependency: the numbers are in the text).
//!
//! This module owns pixels only: which counts to show is `detect`'s and `store`'s job, and where
//! the picture goes (an inline `cid:` part) is `email`'s. The picture has no labels on purpose:
//! the subject and the text carry the numbers, so a font would add weight and nothing else.

use super::Series;

/// Width of the chart, in pixels.
pub const WIDTH: u32 = 600;
/// Height of the chart, in pixels.
pub const HEIGHT: u32 = 200;

/// Blank space around the plot area, in pixels.
const MARGIN: u32 = 10;
/// Dashes of the bar line: this many pixels drawn, then as many skipped.
const DASH_ON: u32 = 6;
/// Gap between dashes of the bar line.
const DASH_OFF: u32 = 4;

type Rgb = [u8; 3];

/// Background.
pub const BACKGROUND: Rgb = [255, 255, 255];
/// The x axis under the bars.
pub const AXIS: Rgb = [64, 64, 64];
/// Every bar but the last.
pub const BAR: Rgb = [116, 153, 196];
/// The last bar: the window that fired.
pub const HIGHLIGHT: Rgb = [230, 115, 0];
/// The usual count (solid line).
pub const BASELINE: Rgb = [128, 128, 128];
/// The count that had to be reached (dashed line).
pub const THRESHOLD: Rgb = [214, 39, 40];

/// An RGB canvas with clipped drawing primitives.
struct Canvas {
    data: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        let mut data = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
        for _ in 0..WIDTH * HEIGHT {
            data.extend_from_slice(&BACKGROUND);
        }
        Canvas { data }
    }

    fn set(&mut self, x: u32, y: u32, c: Rgb) {
        if x < WIDTH && y < HEIGHT {
            let i = ((y * WIDTH + x) * 3) as usize;
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Fills `x0..x1` × `y0..y1` (end-exclusive).
    fn rect(&mut self, x0: u32, x1: u32, y0: u32, y1: u32, c: Rgb) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.set(x, y, c);
            }
        }
    }
}

/// The plot area: bars stand on `bottom` and the top of the scale is at `MARGIN`.
struct Plot {
    left: u32,
    right: u32,
    bottom: u32,
    ymax: f64,
}

impl Plot {
    fn new(ymax: f64) -> Plot {
        Plot {
            left: MARGIN,
            right: WIDTH - MARGIN,
            bottom: HEIGHT - MARGIN,
            ymax,
        }
    }

    fn height(&self) -> u32 {
        self.bottom - MARGIN
    }

    /// The pixel height of value `v` (clamped to the plot).
    fn scaled(&self, v: f64) -> u32 {
        let h = (v / self.ymax * f64::from(self.height())).round();
        h.clamp(0.0, f64::from(self.height())) as u32
    }

    /// The row on which a horizontal line at value `v` is drawn.
    fn row(&self, v: f64) -> u32 {
        self.bottom - self.scaled(v)
    }

    /// The columns `x0..x1` of bucket `i` of `n`.
    fn columns(&self, i: usize, n: usize) -> (u32, u32) {
        let w = u64::from(self.right - self.left);
        let x0 = self.left + (i as u64 * w / n as u64) as u32;
        let x1 = self.left + ((i as u64 + 1) * w / n as u64) as u32;
        let x1 = x1.max(x0 + 1);
        // A 1-pixel gap between bars when they are wide enough to spare it.
        if x1 - x0 >= 3 {
            (x0, x1 - 1)
        } else {
            (x0, x1)
        }
    }
}

/// A value worth a line: finite and above zero.
fn drawable(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Renders `series` with horizontal lines at `baseline` and `bar`, as PNG bytes.
///
/// The y scale runs from 0 to 110 % of the largest of the counts, the bar and the baseline, so
/// both lines are always inside the picture. An empty series gives a blank chart with its axis.
pub fn png(series: &Series, baseline: f64, bar: f64) -> Vec<u8> {
    let baseline = drawable(baseline);
    let bar = drawable(bar);
    let top = series
        .counts
        .iter()
        .map(|&c| c as f64)
        .chain(baseline)
        .chain(bar)
        .fold(0.0_f64, f64::max);
    let plot = Plot::new(if top > 0.0 { top * 1.1 } else { 1.0 });
    let mut canvas = Canvas::new();

    let n = series.counts.len();
    for (i, &count) in series.counts.iter().enumerate() {
        let mut h = plot.scaled(count as f64);
        if count > 0 {
            // A window with hits never looks empty.
            h = h.max(1);
        }
        let (x0, x1) = plot.columns(i, n);
        let colour = if i + 1 == n { HIGHLIGHT } else { BAR };
        canvas.rect(x0, x1, plot.bottom - h, plot.bottom, colour);
    }
    // The axis, one pixel under the bars.
    canvas.rect(plot.left, plot.right, plot.bottom, plot.bottom + 1, AXIS);

    // Lines over the bars, the bar line last so it stays visible where both meet.
    if let Some(v) = baseline {
        let y = plot.row(v);
        canvas.rect(plot.left, plot.right, y, y + 1, BASELINE);
    }
    if let Some(v) = bar {
        let y = plot.row(v);
        for x in plot.left..plot.right {
            if (x - plot.left) % (DASH_ON + DASH_OFF) < DASH_ON {
                canvas.rect(x, x + 1, y.saturating_sub(1), y + 1, THRESHOLD);
            }
        }
    }
    encode(&canvas.data)
}

/// Encodes an RGB8 buffer of `WIDTH` × `HEIGHT` pixels.
fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    // Writing to a Vec of a buffer of the declared size cannot fail.
    let mut writer = encoder.write_header().expect("png header into a Vec");
    writer.write_image_data(data).expect("png data into a Vec");
    writer.finish().expect("png end into a Vec");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG into (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(bytes);
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(data: &[u8], x: u32, y: u32) -> Rgb {
        let i = ((y * WIDTH + x) * 3) as usize;
        [data[i], data[i + 1], data[i + 2]]
    }

    fn series(counts: Vec<u64>) -> Series {
        Series {
            start: chrono::DateTime::UNIX_EPOCH,
            bucket_secs: 900,
            counts,
        }
    }

    /// 96 quiet windows of 2 or 3 hits, then 38 in the window that fired.
    fn spike() -> Series {
        let mut counts: Vec<u64> = (0..95).map(|i| 2 + i % 2).collect();
        counts.push(38);
        series(counts)
    }

    #[test]
    fn chart_decodes_at_the_declared_size() {
        let (w, h, data) = decode(&png(&spike(), 2.5, 7.5));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        assert_eq!(data.len(), (WIDTH * HEIGHT * 3) as usize);
    }

    #[test]
    fn last_bar_is_highlighted_and_reaches_the_top_of_the_data() {
        let (_, _, data) = decode(&png(&spike(), 2.5, 7.5));
        let plot = Plot::new(38.0 * 1.1);
        let (x0, x1) = plot.columns(95, 96);
        let mid = (x0 + x1) / 2;
        // Just above the axis and just under the bar's top: the highlight colour.
        assert_eq!(pixel(&data, mid, plot.bottom - 1), HIGHLIGHT);
        assert_eq!(pixel(&data, mid, plot.row(38.0)), HIGHLIGHT);
        // Above the bar's top: background.
        assert_eq!(pixel(&data, mid, plot.row(38.0) - 2), BACKGROUND);
        // The first bar is in the ordinary colour.
        let (f0, _) = plot.columns(0, 96);
        assert_eq!(pixel(&data, f0, plot.bottom - 1), BAR);
        // The highlight appears nowhere but in the last column.
        let highlighted = (0..WIDTH)
            .filter(|&x| (0..HEIGHT).any(|y| pixel(&data, x, y) == HIGHLIGHT))
            .collect::<Vec<_>>();
        assert_eq!(highlighted.first(), Some(&x0));
        assert_eq!(highlighted.last(), Some(&(x1 - 1)));
    }

    #[test]
    fn bar_line_is_dashed_at_its_row_and_baseline_is_solid() {
        let (_, _, data) = decode(&png(&spike(), 2.5, 7.5));
        let plot = Plot::new(38.0 * 1.1);
        let y = plot.row(7.5);
        let row: Vec<Rgb> = (plot.left..plot.right)
            .map(|x| pixel(&data, x, y))
            .collect();
        let red = row.iter().filter(|&&c| c == THRESHOLD).count();
        // Dashed: most of the row, but not all of it.
        assert!(
            red > row.len() / 2 && red < row.len(),
            "{red} of {}",
            row.len()
        );
        assert_eq!(pixel(&data, plot.left, y), THRESHOLD);
        assert_eq!(
            pixel(&data, plot.left + DASH_ON, y),
            pixel(&data, plot.left + DASH_ON, y + 3)
        );
        // The baseline is one solid grey row.
        let yb = plot.row(2.5);
        assert_ne!(yb, y);
        assert!((plot.left..plot.right).all(|x| pixel(&data, x, yb) == BASELINE));
        // Nothing red far from the bar line.
        assert!((0..WIDTH).all(|x| pixel(&data, x, y - 5) != THRESHOLD));
    }

    #[test]
    fn bar_above_every_count_is_still_inside_the_picture() {
        let (_, _, data) = decode(&png(&series(vec![1, 0, 2]), 1.0, 10.0));
        let plot = Plot::new(11.0);
        let y = plot.row(10.0);
        assert!(y > 0 && y < plot.bottom);
        assert_eq!(pixel(&data, plot.left, y), THRESHOLD);
        // The empty middle window draws no bar.
        let (m0, _) = plot.columns(1, 3);
        assert_eq!(pixel(&data, m0 + 2, plot.bottom - 1), BACKGROUND);
    }

    #[test]
    fn empty_series_gives_a_blank_chart() {
        let (w, h, data) = decode(&png(&series(Vec::new()), 0.0, 0.0));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let colours: std::collections::HashSet<Rgb> =
            data.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        assert_eq!(colours, [BACKGROUND, AXIS].into_iter().collect());
    }

    #[test]
    fn many_narrow_buckets_and_odd_values_do_not_panic() {
        let counts = (0..2000).map(|i| i % 7).collect();
        let (w, h, _) = decode(&png(&series(counts), f64::NAN, f64::INFINITY));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let (_, _, data) = decode(&png(&series(vec![0, 0, 0]), -1.0, 0.0));
        assert!(!data.chunks(3).any(|c| c == HIGHLIGHT || c == THRESHOLD));
    }
}
