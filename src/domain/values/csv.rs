//! CSV cells and rows for every file the product exports (payouts, reports, affiliates):
//! quoted when needed, and escaped against formula injection — a value a spreadsheet
//! would read as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets
//! a leading `'`. Rows end with CRLF (RFC 4180).

/// One CSV cell: quoted when needed, and defused when a spreadsheet would run it.
pub fn cell(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One CSV line of `cells`, CRLF-terminated.
pub fn row(cells: &[&str]) -> String {
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}
