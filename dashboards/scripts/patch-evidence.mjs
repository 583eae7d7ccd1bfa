// Two small changes to Evidence's installed code, made by `npm install` (postinstall); safe to run again.
// 1. universal-sql sets two DuckDB >= 0.10 settings at start-up. The DuckDB-Wasm pinned in package.json (1.28.0,
//    DuckDB 0.9: the last with Parquet built in; later ones download it, which hangs offline) lacks them, so the two
//    statements are made non-fatal.
// 2. A missing value is shown as "no data" (missing is shown as missing), not Evidence's "-"; but a missing value
//    whose format is a quoted text (a per-row format such as '"not applicable"' or '"suppressed"') shows that text.
// 3. A number that rounds to zero is shown without a sign (never "-0.0 pp" or "+0.0%").
// 4. <Value/> leaves no space after the value, so "December 2025." does not read "December 2025 .".
// 5. A tile's sparkline is big enough to show which way the figure is going (110 x 36 px, not 50 x 15).
// 6. A source with no rows (a deployment whose agencies send no monthly returns has no monthly KPI rows) is
//    written as a Parquet file with its columns and no rows, not left out: the site's database is built from
//    every source listed, and a missing or empty file stopped the whole build. Its dates stay dates and its
//    booleans booleans (Evidence turns a column of nothing but nulls into numbers, which no rows are not).
// 7. A page template nothing links to (a deployment with no benefits register has no benefit pages) is named in the
//    build's output, not a failed build: SvelteKit 2.8 has no setting for it (its later handleUnseenRoutes).
// 8. An inline <Value/> of a query with no rows reads "no data" (a strict build otherwise fails on it), as every
//    chart and table here is told to with emptySet="pass" emptyMessage="no data".
// 9. A page whose address holds a percent-encoded '%' (an identifier or name with one: links encode each as one path
//    segment) is crawled: SvelteKit 2.8's prerenderer resolved the page's own links against its half-decoded address
//    (decodeURI leaves '%25' as a bare '%'), then failed the whole build with "URI malformed". They are resolved
//    against the address as the browser has it.
// 10. A prerendered page is written where a static server looks for its address: at the address decoded whole, as
//    every server decodes a request's path (SvelteKit 2.8 kept reserved characters encoded, so the page of an id with
//    a '/', '#' or '?' was written as 'a%2Fb' and served as a 404).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const modules = join(import.meta.dirname, '..', 'node_modules', '@evidence-dev');
const patches = [
	...['browser.js', 'node.js'].flatMap((file) =>
		[
			"await connection.query('SET ieee_floating_point_ops = false;');",
			"await connection.query('SET old_implicit_casting = true;');"
		].map((statement) => ({
			file: join(modules, 'universal-sql', 'src', 'client-duckdb', file),
			from: statement,
			to: `try { ${statement} } catch { /* not a setting in DuckDB 0.9 */ }`
		}))
	),
	{
		file: join(modules, 'component-utilities', 'src', 'formatting.js'),
		from: [
			"if (value === undefined || value === null) {\n\t\treturn '-';",
			"if (value === undefined || value === null) {\n\t\treturn 'no data';" // an install patched before
		],
		to:
			"if (value === undefined || value === null) {\n\t\t" +
			"return /^\"[^\"]*\"$/.test(columnFormat?.formatCode ?? '') ? columnFormat.formatCode.slice(1, -1) : 'no data';"
	},
	{
		file: join(modules, 'component-utilities', 'src', 'formatting.js'),
		from: "\t\tresult = fallbackFormat(value, columnUnitSummary);\n\t}\n\treturn result;",
		to:
			"\t\tresult = fallbackFormat(value, columnUnitSummary);\n\t}\n\t" +
			"return typeof result === 'string' && typeof value === 'number' ? result.replace(/^[+-](?=[^1-9]*$)/, '') : result;"
	},
	{
		file: join(modules, 'core-components', 'dist', 'unsorted', 'viz', 'core', '_Value.svelte'),
		from: "\t\t{formatValue(selected_value, format_object)}\n\t\t{#if description}",
		to: "\t\t{formatValue(selected_value, format_object)}{#if description}"
	},
	{
		file: join(modules, 'core-components', 'dist', 'unsorted', 'viz', 'core', '_BigValue.svelte'),
		from: '<Sparkline\n\t\t\t\t\theight="15"',
		to: '<Sparkline\n\t\t\t\t\theight="36"\n\t\t\t\t\twidth="110"'
	},
	{
		file: join(modules, 'universal-sql', 'src', 'build-parquet.js'),
		from: '\tif (currentBatch.length) await flush(currentBatch);',
		to: '\tif (currentBatch.length || !tmpFilenames.length) await flush(currentBatch); // no rows: a file of none'
	},
	{
		file: join(modules, 'universal-sql', 'src', 'build-parquet.js'),
		from: 'function convertArrayToVector(column, rawValues) {\n',
		to:
			'function convertArrayToVector(column, rawValues) {\n' +
			"\tif (!rawValues.length && column.evidenceType === 'date') return vectorFromArray([], new TimestampMillisecond());\n" +
			"\tif (!rawValues.length && column.evidenceType === 'boolean') return vectorFromArray([], new Bool());\n"
	},
	{
		file: join(modules, '..', '@sveltejs', 'kit', 'src', 'core', 'postbuild', 'prerender.js'),
		from: "\t\tthrow new Error(\n\t\t\t`The following routes were marked as prerenderable",
		to: "\t\tconsole.warn( // a template with nothing to show has no pages\n\t\t\t`The following routes were marked as prerenderable"
	},
	{
		file: join(modules, '..', '@sveltejs', 'kit', 'src', 'core', 'postbuild', 'prerender.js'),
		from: '\t\t\tconst { ids, hrefs } = crawl(body.toString(), decoded);',
		to: '\t\t\tconst { ids, hrefs } = crawl(body.toString(), encoded); // the address as the browser has it'
	},
	{
		file: join(modules, '..', '@sveltejs', 'kit', 'src', 'core', 'postbuild', 'prerender.js'),
		from: '\t\tconst file = output_filename(decoded, is_html);',
		to: '\t\tconst file = output_filename(decodeURIComponent(encoded), is_html); // where a server looks for it'
	},
	{
		file: join(modules, 'core-components', 'dist', 'unsorted', 'viz', 'core', 'Value.svelte'),
		from: '\texport let emptySet = undefined;\n\n\t/** @type {string}*/\n\texport let emptyMessage = undefined;',
		to: "\texport let emptySet = 'pass';\n\n\t/** @type {string}*/\n\texport let emptyMessage = 'no data';"
	}
];

for (const { file, from, to } of patches) {
	const text = readFileSync(file, 'utf8');
	if (text.includes(to)) continue;
	const found = [from].flat().find((candidate) => text.includes(candidate));
	if (!found) throw new Error(`${file}: expected ${JSON.stringify(from)} (Evidence changed?)`);
	writeFileSync(file, text.replace(found, to));
	console.log(`patch-evidence: ${file}`);
}
