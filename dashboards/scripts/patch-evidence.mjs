// Two small changes to Evidence's installed code, made by `npm install` (postinstall); safe to run again.
// 1. universal-sql sets two DuckDB >= 0.10 settings at start-up. The DuckDB-Wasm pinned in package.json (1.28.0,
//    DuckDB 0.9: the last with Parquet built in; later ones download it, which hangs offline) lacks them, so the two
//    statements are made non-fatal.
// 2. A missing value is shown as "no data" (missing is shown as missing), not Evidence's "-"; but a missing value
//    whose format is a quoted text (a per-row format such as '"not applicable"' or '"suppressed"') shows that text.
// 3. A number that rounds to zero is shown without a sign (never "-0.0 pp" or "+0.0%").
// 4. <Value/> leaves no space after the value, so "December 2025." does not read "December 2025 .".
// 5. A tile's sparkline is big enough to show which way the figure is going (110 x 36 px, not 50 x 15).
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
