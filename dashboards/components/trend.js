// A line's message in words for a chart's text alternative (Figure.svelte): where it starts and where it ends.

const MONTH = { month: 'long', year: 'numeric', timeZone: 'UTC' };

/** "from 45.2% in January 2023 to 61.8% in December 2025": the first and last rows with a value of `y`, as `format`
 *  writes it, each named by its `x` (a month, or a period's name). */
export function trend(rows, x, y, format) {
	const known = Array.from(rows ?? []).filter((row) => row[y] != null);
	known.sort((a, b) => (a[x] instanceof Date ? a[x] - b[x] : 0)); // months oldest first; periods as given
	if (known.length === 0) return 'no figures';
	const name = (row) => (row[x] instanceof Date ? row[x].toLocaleDateString('en-GB', MONTH) : String(row[x]));
	const [first, last] = [known[0], known[known.length - 1]];
	return `from ${format(first[y])} in ${name(first)} to ${format(last[y])} in ${name(last)}`;
}

/** One trend a series ("Online: from ... ; Phone: from ..."), for a chart with a line per channel or service. */
export function trends(rows, series, x, y, format) {
	const names = [...new Set(Array.from(rows ?? [], (row) => row[series]))];
	return names.map((n) => `${n}: ${trend(Array.from(rows).filter((row) => row[series] === n), x, y, format)}`)
		.join('; ');
}

export const percent = (value) => `${(value * 100).toFixed(1)}%`;
export const pounds = (value) => `£${value.toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
export const millions = (value) => `£${(value / 1e6).toFixed(1)}m`;
