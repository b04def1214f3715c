//! Tables for people: borderless aligned columns (greppable), colour only on a terminal.

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

/// A table with `headers`, columns two spaces apart, no borders.
pub fn new(headers: &[&str], styled: bool) -> Table {
    let mut table = base(false);
    table.set_header(
        headers
            .iter()
            .map(|h| header_cell(h, styled))
            .collect::<Vec<_>>(),
    );
    pad(&mut table);
    table
}

/// A two-column key/value table for one record, keys in the left column.
pub fn vertical(rows: Vec<(&str, Cell)>, styled: bool) -> Table {
    let mut table = base(true);
    for (key, value) in rows {
        table.add_row(vec![header_cell(key, styled), value]);
    }
    pad(&mut table);
    table
}

/// List tables never wrap, like `kubectl get`: a row stays one line for grep and awk, and
/// long cells are cut by the commands themselves. A record's values may wrap under their
/// column when the terminal's width is known (a pseudo-terminal without a size reports 0).
fn base(wrap: bool) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    let arrangement = match table.width() {
        Some(w) if wrap && w >= 40 => ContentArrangement::Dynamic,
        _ => ContentArrangement::Disabled,
    };
    table.set_content_arrangement(arrangement);
    table
}

fn pad(table: &mut Table) {
    table.discover_columns();
    let last = table.column_count().saturating_sub(1);
    for (i, col) in table.column_iter_mut().enumerate() {
        col.set_padding((0, if i == last { 0 } else { 2 }));
    }
}

fn header_cell(text: &str, styled: bool) -> Cell {
    let cell = Cell::new(text);
    if styled {
        cell.add_attribute(Attribute::Bold)
    } else {
        cell
    }
}

/// A cell in `color` when styling is on.
pub fn colored(text: impl ToString, color: Option<Color>, styled: bool) -> Cell {
    let cell = Cell::new(text);
    match color {
        Some(c) if styled => cell.fg(c),
        _ => cell,
    }
}

/// Prints the table to stdout without trailing spaces.
pub fn print(table: &Table) -> anyhow::Result<()> {
    super::println(&table.trim_fmt())?;
    Ok(())
}
