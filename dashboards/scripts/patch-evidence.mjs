// Two small changes to Evidence's installed code, made by `npm install` (postinstall); safe to run again.
// 1. universal-sql sets two DuckDB >= 0.10 settings at start-up. The DuckDB-Wasm pinned in package.json (1.28.0,
//    DuckDB 0.9: the last with Parquet built in; later ones download it, which hangs offline) lacks them, so the two
//    statements are made non-fatal.
// 2. A missing value is shown as "no data" (DESIGN: missing is shown as missing), not Evidence's "-".
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
		from: "if (value === undefined || value === null) {\n\t\treturn '-';",
		to: "if (value === undefined || value === null) {\n\t\treturn 'no data';"
	}
];

for (const { file, from, to } of patches) {
	const text = readFileSync(file, 'utf8');
	if (text.includes(to)) continue;
	if (!text.includes(from)) throw new Error(`${file}: expected ${JSON.stringify(from)} (Evidence changed?)`);
	writeFileSync(file, text.replace(from, to));
	console.log(`patch-evidence: ${file}`);
}
