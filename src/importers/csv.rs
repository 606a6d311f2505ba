//! A small RFC 4180 reader for the tools' CSV exports: quoted fields (with commas, quotes
//! and line breaks inside), CRLF or LF, a UTF-8 byte-order mark, and `;` as the separator
//! when the header row uses it instead of `,` (spreadsheets in many locales save so).

/// A parsed file: the header row and the data rows, each with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The header cells, as written.
    pub headers: Vec<String>,
    /// Data rows: (line number of the row's first line, cells). Blank lines are skipped.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Parses `text`; `Err` says why a file cannot be read (empty, unterminated quote).
pub fn parse(text: &str) -> Result<Table, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let sep = if first_line.matches(';').count() > first_line.matches(',').count() {
        ';'
    } else {
        ','
    };
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut start = 1usize;
    let mut quote_opened_at = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
                quote_opened_at = line;
            }
            c if c == sep => cells.push(std::mem::take(&mut cell)),
            '\r' => {}
            '\n' => {
                cells.push(std::mem::take(&mut cell));
                push_record(&mut records, start, std::mem::take(&mut cells));
                line += 1;
                start = line;
            }
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "line {quote_opened_at}: a quoted field is never closed (the file may be cut short)"
        ));
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        push_record(&mut records, start, cells);
    }
    let mut records = records.into_iter();
    let Some((_, headers)) = records.next() else {
        return Err("the file is empty: a header row is expected".into());
    };
    Ok(Table {
        headers: headers.into_iter().map(|h| h.trim().to_owned()).collect(),
        rows: records.collect(),
    })
}

fn push_record(records: &mut Vec<(usize, Vec<String>)>, start: usize, cells: Vec<String>) {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return;
    }
    records.push((start, cells));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let t =
            parse("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n\"two\nlines\",z\n").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(
            t.rows,
            vec![
                (2, vec!["x, y".to_owned(), "say \"hi\"".to_owned()]),
                (4, vec!["two\nlines".to_owned(), "z".to_owned()]),
            ]
        );
    }

    #[test]
    fn semicolons_and_a_missing_final_newline() {
        let t = parse("Email;Token\njane@example.com;jane").unwrap();
        assert_eq!(t.headers, ["Email", "Token"]);
        assert_eq!(t.rows[0].1, ["jane@example.com", "jane"]);
    }

    #[test]
    fn unterminated_quotes_and_empty_files_are_refused() {
        assert!(parse("a,b\n\"open,x\n").unwrap_err().contains("line 2"));
        assert!(parse("").is_err());
    }
}
