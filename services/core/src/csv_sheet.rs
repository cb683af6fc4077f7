//! Every CSV file Participe writes (open data exports, registrants, livrets d'expression):
//! UTF-8 with a byte order mark and `;` between cells, which is what a spreadsheet set up
//! in French opens as columns; and no cell a spreadsheet would run as a formula.
//!
//! A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is read by
//! spreadsheets as a formula (`=HYPERLINK(…)`, `@SUM(…)`, DDE): such a cell gets a leading
//! apostrophe, which spreadsheets show as text — OWASP's guidance on CSV injection. A plain
//! number (`-12`, `-3.5`) is left alone: it is not a formula, and stays a number.

/// A CSV file being written, header first.
pub struct CsvSheet {
    out: csv::Writer<Vec<u8>>,
}

/// The byte order mark that tells spreadsheets the file is UTF-8.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl CsvSheet {
    pub fn new<I, T>(header: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut sheet = CsvSheet {
            out: csv::WriterBuilder::new().delimiter(b';').from_writer(BOM.to_vec()),
        };
        sheet.row(header);
        sheet
    }

    /// Adds a row; every cell goes through [`neutralise`].
    pub fn row<I, T>(&mut self, cells: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        // Writing into a Vec cannot fail: the only errors are the writer's I/O.
        let _ = self
            .out
            .write_record(cells.into_iter().map(|c| neutralise(c.as_ref()).into_owned()));
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
            .into_inner()
            .unwrap_or_else(|e| e.into_inner().get_ref().clone())
    }
}

/// The cell as written: with a leading `'` when a spreadsheet would read it as a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// `-12`, `+3`, `-3.5`, `-3,5`: a sign, digits, at most one decimal separator.
fn is_plain_number(cell: &str) -> bool {
    let digits = &cell[1..];
    let mut separators = 0;
    !digits.is_empty()
        && digits.chars().all(|c| match c {
            '0'..='9' => true,
            '.' | ',' => {
                separators += 1;
                separators == 1
            }
            _ => false,
        })
        && digits.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://evil.example\",\"x\")"),
            "'=HYPERLINK(\"http://evil.example\",\"x\")"
        );
        for risky in [
            "+1+1",
            "-1+1",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "-",
            "=",
            "-cmd|' /C calc'!A0",
        ] {
            assert!(neutralise(risky).starts_with('\''), "{risky:?}");
        }
    }

    #[test]
    fn plain_text_and_numbers_stay() {
        for plain in [
            "Amélie",
            "",
            "42",
            "-12",
            "+3",
            "-3.5",
            "-3,5",
            "a=b",
            "mail@example.fr",
        ] {
            assert_eq!(neutralise(plain), plain);
        }
        assert!(neutralise("-1.2.3").starts_with('\''));
    }

    #[test]
    fn a_sheet_has_the_bom_semicolons_and_quotes() {
        let mut sheet = CsvSheet::new(["titre", "auteur"]);
        sheet.row(["=1+1", "Amélie; parent d'élève"]);
        let bytes = sheet.finish();
        assert_eq!(&bytes[..3], &BOM);
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text, "titre;auteur\n'=1+1;\"Amélie; parent d'élève\"\n");
    }
}
