// The one way a page puts a value into its SQL (pages/*.md, queries/*.sql): identifiers and names are data and may
// hold a quote (Attorney General's Office), so each is written as a string literal with its quotes doubled.

/** `value` as a SQL string literal. */
export function sqlText(value) {
	return `'${String(value).replaceAll("'", "''")}'`;
}
