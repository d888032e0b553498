"""CSV files in and out: the catalogue, till sales, reading what a shop made, writing for spreadsheets."""
