//! HTML building blocks shared by the report and the comparison pages:
//! escaping, the page template, tables, inline images and a generic
//! rendering of JSON blocks. Every string that came from a result goes
//! through [`esc`]; the pages load nothing (a Content-Security-Policy of
//! `default-src 'none'` in the template says so to the browser too).

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::ReportError;

const TEMPLATE: &str = include_str!("template.html");
const CSS: &str = include_str!("report.css");

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page: the template with its `{{title}}`, `{{css}}`,
/// `{{body}}` and `{{footer}}` holes filled in one pass (so text inside the
/// body is never taken for a hole). `title` and `footer` are escaped here;
/// `body` is HTML.
pub fn page(title: &str, body: &str, footer: &str) -> String {
    let mut out = String::with_capacity(TEMPLATE.len() + CSS.len() + body.len());
    let mut rest = TEMPLATE;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match &rest[start + 2..start + len] {
            "title" => out.push_str(&esc(title)),
            "css" => out.push_str(CSS),
            "body" => out.push_str(body),
            "footer" => out.push_str(&esc(footer)),
            other => panic!("template.html has an unknown hole {{{{{other}}}}}"),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A table cell.
pub enum TableCell {
    /// Text, escaped; left-aligned.
    Text(String),
    /// A figure, escaped; right-aligned.
    Num(String),
    /// Ready HTML.
    Html(String),
}

pub fn text(s: impl Into<String>) -> TableCell {
    TableCell::Text(s.into())
}

pub fn num(s: impl Into<String>) -> TableCell {
    TableCell::Num(s.into())
}

/// A table in a horizontally scrolling box, so wide tables never push the
/// page wider than the window.
pub struct Table {
    html: String,
    /// Column headings, written with the first row so that the headings of
    /// figure columns align right like their figures.
    head: Option<Vec<String>>,
}

impl Table {
    pub fn new(class: &str, head: &[&str]) -> Table {
        Table {
            html: format!("<div class=\"scroll\"><table class=\"{}\">", esc(class)),
            head: Some(head.iter().map(|h| h.to_string()).collect()),
        }
    }

    /// Writes the headings (once), right-aligning those over figures.
    fn open(&mut self, first: Option<&[TableCell]>) {
        let Some(head) = self.head.take() else {
            return;
        };
        if !head.is_empty() {
            self.html.push_str("<thead><tr>");
            for (i, h) in head.iter().enumerate() {
                let figure = matches!(first.and_then(|r| r.get(i)), Some(TableCell::Num(_)));
                let class = if figure { " class=\"num\"" } else { "" };
                let _ = write!(self.html, "<th scope=\"col\"{class}>{}</th>", esc(h));
            }
            self.html.push_str("</tr></thead>");
        }
        self.html.push_str("<tbody>");
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = TableCell>) {
        self.row_of_class("", cells);
    }

    /// A row with a class (e.g. `flagged`), or none when `class` is empty.
    pub fn row_of_class(&mut self, class: &str, cells: impl IntoIterator<Item = TableCell>) {
        let cells: Vec<TableCell> = cells.into_iter().collect();
        self.open(Some(&cells));
        if class.is_empty() {
            self.html.push_str("<tr>");
        } else {
            let _ = write!(self.html, "<tr class=\"{}\">", esc(class));
        }
        for c in cells {
            match c {
                TableCell::Text(s) => {
                    let _ = write!(self.html, "<td>{}</td>", esc(&s));
                }
                TableCell::Num(s) => {
                    let _ = write!(self.html, "<td class=\"num\">{}</td>", esc(&s));
                }
                TableCell::Html(s) => {
                    let _ = write!(self.html, "<td>{s}</td>");
                }
            }
        }
        self.html.push_str("</tr>");
    }

    /// A two-column row: a header cell and a value.
    pub fn pair(&mut self, key: &str, value: TableCell) {
        self.open(None);
        let _ = write!(self.html, "<tr><th scope=\"row\">{}</th>", esc(key));
        match value {
            TableCell::Text(s) | TableCell::Num(s) => {
                let _ = write!(self.html, "<td>{}</td></tr>", esc(&s));
            }
            TableCell::Html(s) => {
                let _ = write!(self.html, "<td>{s}</td></tr>");
            }
        }
    }

    pub fn finish(mut self) -> String {
        self.open(None);
        self.html.push_str("</tbody></table></div>");
        self.html
    }
}

/// A `<section>` with a heading.
pub fn section(id: &str, heading: &str, inner: &str) -> String {
    format!(
        "<section id=\"{}\"><h2>{}</h2>\n{inner}\n</section>\n",
        esc(id),
        esc(heading)
    )
}

/// A paragraph of escaped text.
pub fn para(class: &str, s: &str) -> String {
    format!("<p class=\"{}\">{}</p>", esc(class), esc(s))
}

/// A PNG file as an inline figure (`data:` URI), with its size so the page
/// does not reflow as it loads.
pub fn figure(
    png: &Path,
    size: (u32, u32),
    alt: &str,
    caption: &str,
) -> Result<String, ReportError> {
    let bytes = std::fs::read(png).map_err(|err| ReportError::ReadChart {
        path: png.to_path_buf(),
        err,
    })?;
    Ok(format!(
        "<figure><img src=\"data:image/png;base64,{}\" width=\"{}\" height=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
        B64.encode(bytes),
        size.0,
        size.1,
        esc(alt),
        esc(caption)
    ))
}

/// Any JSON value as HTML: objects as key/value tables, arrays of objects
/// as tables with a column per key, short arrays of scalars inline, and
/// anything deeper than a few levels as pretty JSON in a `<pre>`.
pub fn json(v: &serde_json::Value) -> String {
    json_at(v, 0)
}

fn json_at(v: &serde_json::Value, depth: usize) -> String {
    use serde_json::Value;
    if depth > 3 {
        return pre(&serde_json::to_string_pretty(v).unwrap_or_default());
    }
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut t = Table::new("kv", &[]);
            for (k, v) in map {
                t.pair(k, TableCell::Html(json_at(v, depth + 1)));
            }
            t.finish()
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut cols: Vec<&str> = Vec::new();
            for item in items {
                for k in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !cols.contains(&k.as_str()) {
                        cols.push(k);
                    }
                }
            }
            let mut t = Table::new("data", &cols);
            for item in items {
                t.row(cols.iter().map(|c| {
                    TableCell::Html(
                        item.get(*c)
                            .map_or(String::new(), |v| json_at(v, depth + 1)),
                    )
                }));
            }
            t.finish()
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| json_at(i, depth + 1))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(_) => pre(&serde_json::to_string_pretty(v).unwrap_or_default()),
        Value::String(s) => esc(s),
        Value::Object(_) => "{}".into(),
        other => esc(&other.to_string()),
    }
}

/// Preformatted, escaped text.
pub fn pre(s: &str) -> String {
    format!("<pre>{}</pre>", esc(s))
}

/// 1234567 as "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with thousands separators, and one decimal below 1000.
pub fn rate(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x.abs() >= 1000.0 {
        let sign = if x < 0.0 { "-" } else { "" };
        return format!("{sign}{}", count(x.abs().round() as u64));
    }
    let tenths = (x.abs() * 10.0).round() as u64;
    let sign = if x < 0.0 && tenths > 0 { "-" } else { "" };
    format!("{sign}{}.{}", count(tenths / 10), tenths % 10)
}

/// Microseconds for a table (one format with the terminal and the charts).
pub use crate::vocab::fmt::micros;

/// `k n, k n` for a map of counts, or an empty string.
pub fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k}\u{a0}{}", count(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn holes_are_filled_once() {
        let p = page("a <b>", "{{footer}} body", "f");
        assert!(p.contains("<title>a &lt;b&gt;</title>"));
        assert!(p.contains("{{footer}} body"), "body text is not a hole");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(rate(332_848.47), "332,848");
        assert_eq!(rate(12.345), "12.3");
        assert_eq!(micros(17), "17µs");
        assert_eq!(micros(13_263), "13.26ms");
    }

    #[test]
    fn json_objects_become_tables() {
        let v = serde_json::json!({"stores": [{"id": 1, "regions": 3}, {"id": 2}], "note": "<x>"});
        let h = json(&v);
        assert!(h.contains("<th scope=\"col\">regions</th>"));
        assert!(h.contains("&lt;x&gt;"));
    }
}
